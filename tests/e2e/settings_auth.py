"""Settings of the server processes of the auth e2e tests: the e2e settings, routing
:mod:`tests.routing_auth` (each access rule on each handler style). ``WSAPP_E2E`` still applies."""

from __future__ import annotations

from tests.e2e.settings_serve import *  # noqa: F403
from tests.e2e.settings_serve import WSAPP as _SERVE_WSAPP

WSAPP = {**_SERVE_WSAPP, "ROUTING": "tests.routing_auth"}
