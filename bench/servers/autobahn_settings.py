"""The demo's settings for the Autobahn conformance run (``python -m bench.autobahn``).

"Default settings" for Autobahn means wsapp's defaults except the three limits its cases exceed
by design: the 9.x "Limits/Performance" cases send and expect back messages of up to 16 MiB
(``MAX_MESSAGE_SIZE`` is 1 MiB by default) and 4 MiB messages in 64-byte fragments, 65,536 frames
(``MAX_FRAGMENTS`` is 1,024); the 12.x/13.x cases push 1,000 compressed messages of up to 128 KiB
each as fast as they can, up to 128 MiB inflated per case, which ``MAX_INFLATE_RATE`` (4 MiB/s)
would pace to half a minute a case (it pauses reading; it never fails a case, it only makes the
run take an hour). Everything else is the default — not the demo's production limits, whose
per-connection rate the 1,000-message cases would trip — ``MAX_SEND_BUFFER`` (4 MiB) and
``CONTROL_FRAME_RATE`` included, and compression (``COMPRESSION``, on by default), so the
12.x/13.x cases negotiate permessage-deflate with wsapp's own settings.
"""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import WSAPP as DEMO_WSAPP

MiB = 1024 * 1024
_wsapp: dict[str, object] = {
    "ROUTING": DEMO_WSAPP["ROUTING"],
    "MAX_MESSAGE_SIZE": 16 * MiB,
    "MAX_FRAGMENTS": 65536,
    "MAX_INFLATE_RATE": None,
}
# BENCH_AUTOBAHN_SEND_BUFFER (bytes) overrides the send buffer to show what it changes.
if os.environ.get("BENCH_AUTOBAHN_SEND_BUFFER"):
    _wsapp["MAX_SEND_BUFFER"] = int(os.environ["BENCH_AUTOBAHN_SEND_BUFFER"])
WSAPP = _wsapp  # type: ignore[assignment]  # the demo's dict holds only strings
