"""Settings of the server processes the e2e tests start.

The demo's settings, serving :mod:`tests.e2e.asgi_apps` (raw test apps under ``/test/``, the
demo everywhere else), with small limits so the tests hit them quickly. A test changes any
``WSAPP`` value for its process through the ``WSAPP_E2E`` environment variable, a JSON object.
"""

from __future__ import annotations

import json
import os
from typing import Any

from config.settings import *  # noqa: F403
from config.settings import DEMO_LIMITS
from config.settings import WSAPP as _DEMO_WSAPP

ASGI_APPLICATION = "tests.e2e.asgi_apps.application"

_LIMITS: dict[str, Any] = {
    "MAX_MESSAGE_SIZE": 64 * 1024,
    "MAX_QUEUE": 8,
    "MAX_SEND_BUFFER": 1024 * 1024,
    "PING_TIMEOUT": 10,
    "SHUTDOWN_GRACE": 5.0,
}
# Without the demo's rate limits and connection cap (a test passes them in WSAPP_E2E if it wants
# them), so that tests which flood or open many sockets only meet the limits they set.
_DEMO = {key: value for key, value in _DEMO_WSAPP.items() if key not in DEMO_LIMITS}
WSAPP = {**_DEMO, **_LIMITS, **json.loads(os.environ.get("WSAPP_E2E", "{}"))}
