"""Settings of the server process that serves README's own-token-scheme example: the e2e
settings, with the example's app installed, its ``asgi.py`` as the application and its routes
(beside the auth tests' ones, :mod:`tests.apikeys.served_routing`). ``WSAPP_E2E`` still applies."""

from __future__ import annotations

from tests.e2e.settings_serve import *  # noqa: F403
from tests.e2e.settings_serve import INSTALLED_APPS as _SERVE_APPS
from tests.e2e.settings_serve import WSAPP as _SERVE_WSAPP

INSTALLED_APPS = [*_SERVE_APPS, "tests.apikeys"]
ASGI_APPLICATION = "tests.apikeys.asgi.application"
WSAPP = {**_SERVE_WSAPP, "ROUTING": "tests.apikeys.served_routing"}
