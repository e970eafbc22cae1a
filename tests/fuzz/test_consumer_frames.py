"""``Consumer`` dispatch under hostile frame sequences, against a model of the protocol.

A JSON echo consumer (the demo's json-echo) gets random frames: valid messages, almost-JSON, deep
nesting, NaN, lone surrogates, binary frames. Every frame gets exactly the ``error`` frame or
echo the model predicts, ``MAX_INVALID_FRAMES`` in a row close with 4400, a binary frame with
1003 and text that is not UTF-8 with 1007; never 1011, never a logged traceback.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import (
    decoded,
    examples,
    frames,
    json_values,
    unicode_text,
    unknown_type,
)
from tests.support.fuzzing import drive_frames, tracebacks
from tests.wsapp.helpers import connect
from wsapp import Consumer
from wsapp.consumers import event as on

MAX_INVALID = 4


class Echo(Consumer):
    @on("echo")
    async def echo(self, content: dict[str, Any]) -> None:
        await self.send_json(content)


messages = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("echo")}, optional={"x": json_values, "y": unicode_text}
    ),
    st.fixed_dictionaries({"type": unicode_text | json_values}),
    json_values,
)


def answer(text: str) -> dict[str, Any]:
    """The frame the consumer must answer a (UTF-8) text frame with."""
    outcome, value = decoded(text)
    if outcome == "invalid_text":
        return {"type": "error", "code": "invalid_message", "message": value}
    if outcome == "invalid_json":
        return {"type": "error", "code": "invalid_json", "message": value}
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return {
            "type": "error",
            "code": "invalid_message",
            "message": 'Expected a JSON object with a "type".',
        }
    if value["type"] != "echo":
        message = unknown_type(value["type"])
        return {"type": "error", "code": "unknown_type", "message": message}
    return value


@examples(500)
@given(frames(messages))
async def test_every_frame_gets_the_answer_or_close_the_protocol_says(
    settings: Any, caplog: pytest.LogCaptureFixture, sequence: list[tuple[str, Any]]
) -> None:
    settings.WSAPP = {"MAX_INVALID_FRAMES": MAX_INVALID}

    async def check(payload: str) -> bool:
        expected = answer(payload)
        assert await ws.receive_json() == expected
        return expected["type"] == "error"  # an echo resets the count

    async def still_open() -> None:
        await ws.send_text('{"type": "echo", "still": "open"}')
        assert await ws.receive_json() == {"type": "echo", "still": "open"}

    async with connect(Echo) as ws:
        await drive_frames(
            ws,
            sequence,
            label="socket: Consumer frames",
            max_invalid=MAX_INVALID,
            answer=check,
            still_open=still_open,
        )
    assert tracebacks(caplog) == []
