"""What several ported examples share: HTTP Basic credentials, and a tally the tests can read.

The tally (:data:`EVENTS`) lives in the process that runs the handlers, which under ``manage.py
serve`` is not the test's: the ``/stats/`` route (:func:`stats`) sends it, so a test checks that
a handler's cleanup ran the same way in-process and against a real server.
"""

from __future__ import annotations

import base64
import binascii
import collections

from wsapp import WebSocket

#: Things the ported handlers did, counted by name (``"quart.disconnect.1001"``, ...).
EVENTS: collections.Counter[str] = collections.Counter()


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic ...`` header, or ``None``.

    The frameworks parse this for you (Quart's ``websocket.authorization``, websockets'
    ``basic_auth``); in Django a handler reads ``ws.headers``, so the examples share this.
    """
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


async def stats(ws: WebSocket) -> None:
    """Send the tally as one JSON frame, then close (read by the tests, not ported)."""
    await ws.accept()
    await ws.send_json(dict(EVENTS))
    await ws.close()
