"""``tests.e2e.settings_serve`` serving :mod:`tests.e2e.parity_apps` (``/parity/...`` on top)."""

from __future__ import annotations

from tests.e2e.settings_serve import *  # noqa: F403

ASGI_APPLICATION = "tests.e2e.parity_apps.application"
