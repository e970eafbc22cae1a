"""The demo's settings without the demo's per-connection limits, for the benchmark.

The demo rate-limits every socket (``RATE_LIMIT`` "10/s burst 20", per user too): right for a
public chat, but a benchmark that floods an echo or a room would measure the limiter's refusals,
not the server. Everything else (production mode, the routes, the layer) is the demo's.
``BENCH_WSAPP`` (a JSON object) overrides settings for a what-if run, e.g.
``BENCH_WSAPP='{"COMPRESSION_CONTEXT_TAKEOVER": false}'``.
"""

from __future__ import annotations

import json
import os

from config.settings import *  # noqa: F403
from config.settings import DEMO_LIMITS
from config.settings import WSAPP as _DEMO_WSAPP

WSAPP = {key: value for key, value in _DEMO_WSAPP.items() if key not in DEMO_LIMITS}
WSAPP.update(json.loads(os.environ.get("BENCH_WSAPP", "{}")))
