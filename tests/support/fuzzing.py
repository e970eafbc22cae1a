"""The loop of the fuzz properties that drive one consumer socket with a sequence of frames.

``tests/fuzz/test_consumer_frames.py`` (``Consumer``), ``tests/fuzz/test_room_consumer.py``
(``RoomConsumer``) and ``tests/fuzz/test_topics.py`` (``TopicConsumer``) share one protocol
around their own models: each frame is sent; a binary frame or text that is not UTF-8 closes the
socket as :func:`tests.fuzz.strategies.frame_close` says; any other frame gets an answer, which
counts as malformed or resets the count; ``MAX_INVALID_FRAMES`` malformed in a row close with
4400; a socket that was not closed still works; and nothing logs a traceback. :func:`drive_frames`
is that loop, written once; each property passes the check of one answer (its assertions) and
its probe of a socket still open.

It reads the frame rules from the fuzz suite's strategies, the one place they are modelled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import event

from tests.fuzz.strategies import close_reason, frame_close, generated
from wsapp.codes import CloseCode
from wsapp.testing import AsyncWebSocketSession

#: Checks the answer to one text frame (it asserts); ``True`` when the frame counts as malformed.
Answer = Callable[[str], Awaitable[bool]]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records a property must not see: errors, and anything logged with a traceback."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def drive_frames(
    ws: AsyncWebSocketSession,
    sequence: list[tuple[str, Any]],
    *,
    label: str,
    max_invalid: int,
    answer: Answer,
    still_open: Callable[[], Awaitable[None]],
    before_frame: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Send each frame of ``sequence``, check its answer, and the close or the open socket after.

    Args:
        ws: the connected socket.
        sequence: ``(kind, payload)`` frames, ``kind`` ``"text"`` or ``"bytes"``.
        label: the property's name in the fuzz suite's count of generated inputs.
        max_invalid: the ``MAX_INVALID_FRAMES`` the socket runs with.
        answer: receives and checks the answer to a text frame the protocol does not close on.
        still_open: run when no frame closed the socket: the socket must still work.
        before_frame: run before each frame is sent (to take a count the answer compares).

    Raises:
        AssertionError: from ``answer`` or ``still_open``, or when the socket closes otherwise
            than the frame rules or the malformed count say.
    """
    invalid, close = 0, None
    for kind, payload in sequence:
        generated(label)
        if before_frame is not None:
            await before_frame()
        await (ws.send_text(payload) if kind == "text" else ws.send_bytes(payload))
        close = frame_close(kind, payload)
        if close is not None:
            break
        invalid = invalid + 1 if await answer(payload) else 0
        if invalid == max_invalid:
            close = (CloseCode.BAD_REQUEST, f"{max_invalid} malformed messages in a row.")
            break
    if close is None:
        await still_open()
    else:
        assert await ws.wait_closed() == (close[0], close_reason(close[1]))
        event(f"closed with {close[0]}")
