"""``WebSocket``'s receive path under hostile frame sequences, in process, behind the router.

The demo's echo must send every text and binary frame back unchanged. An ``async def`` handler
that reads with ``receive_json()`` answers each value. Every frame gets
the answer the codec predicts, or the close the protocol requires (1003 for a binary frame,
1007 for text that is not UTF-8 or not JSON), never 1011 and never a logged traceback; a
connection that was not closed still works.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from consumers.echo import echo
from tests.fuzz.strategies import (
    any_text,
    close_reason,
    decoded,
    examples,
    frames,
    generated,
    json_values,
    soup_text,
)
from tests.support.fuzzing import tracebacks
from tests.wsapp.helpers import connect
from wsapp import WebSocket, jsoncodec
from wsapp.codes import CloseCode


async def answer_json(ws: WebSocket) -> None:
    await ws.accept()
    while True:
        await ws.send_json({"ok": await ws.receive_json()})


def expected_close(kind: str, payload: Any) -> tuple[int, str] | None:
    """The close a frame must cause (``None``: it is answered)."""
    if kind == "bytes":
        return CloseCode.UNSUPPORTED_DATA, "Expected a text frame, got a binary frame."
    try:
        payload.encode("utf-8")
    except UnicodeEncodeError:
        return CloseCode.INVALID_PAYLOAD, "A text frame that is not valid UTF-8."
    outcome, value = decoded(payload)
    if outcome != "ok":
        return CloseCode.INVALID_PAYLOAD, close_reason(
            f"Invalid JSON: {value}" if outcome == "invalid_text" else value
        )
    return None


@examples(500)
@given(frames(json_values, weight=3))
async def test_receive_json_answers_or_closes_with_the_right_code(
    caplog: pytest.LogCaptureFixture, sequence: list[tuple[str, Any]]
) -> None:
    async with connect(answer_json) as ws:
        for kind, payload in sequence:
            generated("socket: WebSocket.receive_json")
            await (ws.send_text(payload) if kind == "text" else ws.send_bytes(payload))
            close = expected_close(kind, payload)
            if close is not None:
                assert await ws.wait_closed() == close
                event(f"closed with {close[0]}")
                break
            assert await ws.receive_text() == jsoncodec.dumps({"ok": decoded(payload)[1]})
        else:
            await ws.send_text('{"still": ["open"]}')
            assert await ws.receive_json() == {"ok": {"still": ["open"]}}
    assert tracebacks(caplog) == []


raw_frames = st.lists(
    st.one_of(
        any_text.map(lambda t: ("text", t)),
        soup_text.map(lambda t: ("text", t)),
        st.binary(max_size=32).map(lambda b: ("bytes", b)),
    ),
    max_size=10,
)


@examples(400)
@given(raw_frames)
async def test_the_echo_sends_every_frame_back_or_closes_1007_on_text_that_is_not_utf8(
    caplog: pytest.LogCaptureFixture, sequence: list[tuple[str, Any]]
) -> None:
    async with connect(echo) as ws:  # the demo's: `async for message in ws: await ws.send(message)`
        for kind, payload in sequence:
            generated("socket: WebSocket iteration (echo)")
            if kind == "bytes":
                await ws.send_bytes(payload)
                assert await ws.receive_bytes() == payload
                continue
            await ws.send_text(payload)
            try:
                payload.encode("utf-8")
            except UnicodeEncodeError:
                assert await ws.wait_closed() == (
                    CloseCode.INVALID_PAYLOAD,
                    "A text frame that is not valid UTF-8.",
                )
                event("closed with 1007")
                break
            assert await ws.receive_text() == payload
        else:
            await ws.send_text("still open")
            assert await ws.receive_text() == "still open"
    assert tracebacks(caplog) == []
