"""The demo's settings for the Autobahn conformance run (``python -m bench.autobahn``).

Autobahn's 9.x cases send and expect back messages of up to 16 MiB, more than
``MAX_MESSAGE_SIZE``'s default. Every other ``WSAPP`` value is wsapp's default (not the demo's
production limits, whose per-connection rate a conformance suite's 1,000-message cases would
trip), compression (``COMPRESSION``, on by default) included, so the 12.x/13.x cases negotiate
permessage-deflate with wsapp's own settings.
"""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import WSAPP as DEMO_WSAPP

MiB = 1024 * 1024
_wsapp: dict[str, object] = {"ROUTING": DEMO_WSAPP["ROUTING"], "MAX_MESSAGE_SIZE": 16 * MiB}
# BENCH_AUTOBAHN_SEND_BUFFER (bytes) overrides the send buffer to show what it changes.
if os.environ.get("BENCH_AUTOBAHN_SEND_BUFFER"):
    _wsapp["MAX_SEND_BUFFER"] = int(os.environ["BENCH_AUTOBAHN_SEND_BUFFER"])
WSAPP = _wsapp  # type: ignore[assignment]  # the demo's dict holds only strings
