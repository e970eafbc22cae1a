"""``RoomConsumer`` (the demo chat) under hostile frame sequences, on the real database.

Random ``chat.message`` contents and hostile text go to ``/ws/chat/lobby/``. Each frame gets the
``chat.ack`` or ``error`` frame a model predicts; a refused message stores nothing; an accepted
one is stored once per ``client_id`` with the body the ack's id names; ``MAX_INVALID_FRAMES`` in
a row close with 4400; never 1011, never a logged traceback, never a database error.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import event, given

from consumers.chat import ChatConsumer
from tests.fuzz.strategies import (
    chat_contents,
    chat_model,
    decoded,
    examples,
    frames,
    unknown_type,
    valid_chat,
)
from tests.support.fuzzing import drive_frames, tracebacks
from wsapp.models import Message, Room

pytestmark = pytest.mark.django_db(transaction=True)

MAX_INVALID = 4


@pytest.fixture
def lobby(db: Any) -> Room:
    return Room.objects.create(slug="lobby", title="Lobby")


async def predict(text: str, lobby: Room, user: Any) -> tuple[dict[str, Any], str | None]:
    """The frame a (UTF-8) text frame must get, and the body to find stored under its id."""
    outcome, value = decoded(text)
    if outcome != "ok":
        code = "invalid_message" if outcome == "invalid_text" else "invalid_json"
        return {"type": "error", "code": code, "message": value}, None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        message = 'Expected a JSON object with a "type".'
        return {"type": "error", "code": "invalid_message", "message": message}, None
    if value["type"] != "chat.message":
        message = unknown_type(value["type"])
        return {"type": "error", "code": "unknown_type", "message": message}, None
    cleaned = chat_model(value, ChatConsumer.max_body_length)
    if cleaned is None:
        return {"type": "error"}, None  # its code and message: tests/fuzz/test_chat_validation
    cid = cleaned["client_id"]
    existing = cid and await Message.objects.filter(room=lobby, user=user, client_id=cid).afirst()
    ack = {"type": "chat.ack", "client_id": cid, "id": existing.id if existing else None}
    return ack, existing.body if existing else cleaned["body"]


@examples(150)
@given(frames(chat_contents | valid_chat, weight=3))
async def test_every_chat_frame_gets_its_ack_or_error_and_the_database_agrees(
    communicator: Any,
    lobby: Room,
    user: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    sequence: list[tuple[str, Any]],
) -> None:
    settings.WSAPP = {**settings.WSAPP, "MAX_INVALID_FRAMES": MAX_INVALID}
    ws = await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"])
    assert [(await ws.receive_json())["type"] for _ in range(2)] == ["history", "presence.state"]
    before = 0

    async def count_messages() -> None:
        nonlocal before
        before = await Message.objects.acount()

    async def check(payload: str) -> bool:
        expected, body = await predict(payload, lobby, user)
        got = await ws.receive_json()
        if expected["type"] == "chat.ack":
            assert (got["type"], got["client_id"]) == ("chat.ack", expected["client_id"])
            assert expected["id"] in (None, got["id"])  # a retry: acked with the first id
            stored = await Message.objects.aget(id=got["id"])
            assert (stored.body, stored.client_id, stored.user_id) == (
                body,
                got["client_id"],
                user.id,
            )
            assert await Message.objects.acount() == before + (expected["id"] is None)
            event("acked a retry" if expected["id"] else "acked a new message")
            return False
        assert got["type"] == "error"
        assert {k: got[k] for k in expected} == expected
        assert await Message.objects.acount() == before
        return True

    async def still_open() -> None:
        probe = uuid.uuid4().hex
        await ws.send_json({"type": "chat.message", "body": "still here", "client_id": probe})
        ack = await ws.receive_json()
        assert (ack["type"], ack["client_id"]) == ("chat.ack", probe)
        await ws.close()

    await drive_frames(
        ws,
        sequence,
        label="socket: RoomConsumer frames",
        max_invalid=MAX_INVALID,
        answer=check,
        still_open=still_open,
        before_frame=count_messages,
    )
    assert tracebacks(caplog) == []
