"""``RoomConsumer`` against hostile ``chat.message`` frames: refused before any write, never 1011.

The demo's ``/ws/chat/<slug>/`` (a ``RoomConsumer``) over the in-process stack. Each refusal is
an ``error`` frame that counts toward ``MAX_INVALID_FRAMES``, stores nothing, logs no traceback,
and leaves the connection able to post.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from wsapp.codes import CloseCode, should_reconnect
from wsapp.exceptions import RateLimited, Reject, RoomFull
from wsapp.models import Message, Room

pytestmark = pytest.mark.django_db(transaction=True)

SURROGATE_FRAME = {
    "type": "error",
    "code": "invalid_message",
    "message": "The JSON holds a lone surrogate, which is not Unicode text.",
}


@pytest.fixture
def lobby(db: Any) -> Room:
    return Room.objects.create(slug="lobby", title="Lobby")


async def join(communicator: Any, user: Any) -> Any:
    ws = await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"])
    assert (await ws.receive_json())["type"] == "history"
    assert (await ws.receive_json())["type"] == "presence.state"
    return ws


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def assert_still_posts(ws: Any) -> None:
    await ws.send_json({"type": "chat.message", "body": "still here", "client_id": "ok"})
    ack = await ws.receive_json()
    stored = await Message.objects.aget()
    assert ack == {"type": "chat.ack", "client_id": "ok", "id": stored.id}
    assert stored.body == "still here"


def chat_frame(body: str, client_id: str) -> str:
    """A ``chat.message`` with ``body`` and ``client_id`` spliced in as JSON escapes, raw."""
    return f'{{"type": "chat.message", "body": "{body}", "client_id": "{client_id}"}}'


@pytest.mark.parametrize(
    "frame",
    [chat_frame("\\ud800", "c-1"), chat_frame("hi", "\\udfff"), chat_frame("a\\ud83db", "c-1")],
    ids=["body", "client_id", "half-a-pair"],
)
async def test_a_lone_surrogate_is_refused_before_the_database(
    communicator: Any, lobby: Room, user: Any, frame: str, caplog: pytest.LogCaptureFixture
) -> None:
    ws = await join(communicator, user)
    await ws.send_text(frame)
    assert await ws.receive_json() == SURROGATE_FRAME
    assert await Message.objects.acount() == 0
    await assert_still_posts(ws)
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("field", ["body", "client_id"])
async def test_validation_refuses_a_lone_surrogate_a_custom_loads_let_through(
    communicator: Any,
    lobby: Room,
    user: Any,
    field: str,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.WSAPP = {**settings.WSAPP, "JSON_LOADS": "json.loads"}  # the stdlib lets them by
    ws = await join(communicator, user)
    fields = {"body": "hi", "client_id": "c-1", field: "\\ud800"}
    await ws.send_text(chat_frame(fields["body"], fields["client_id"]))
    error = await ws.receive_json()
    assert error == {
        "type": "error",
        "code": "invalid_message",
        "message": f'"{field}" holds a lone surrogate, which is not Unicode text.',
        **({"client_id": "c-1"} if field == "body" else {}),
    }
    assert await Message.objects.acount() == 0
    await assert_still_posts(ws)
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("field", ["body", "client_id"])
async def test_a_nul_character_is_refused_on_every_database(
    communicator: Any, lobby: Room, user: Any, field: str
) -> None:
    # PostgreSQL's text type cannot hold NUL; refusing it everywhere keeps SQLite honest.
    ws = await join(communicator, user)
    fields = {"body": "hi", "client_id": "c-1", field: "a\\u0000b"}
    await ws.send_text(chat_frame(fields["body"], fields["client_id"]))
    error = await ws.receive_json()
    assert (error["code"], error["message"]) == (
        "invalid_message",
        f'"{field}" must not contain NUL characters.',
    )
    assert await Message.objects.acount() == 0
    await assert_still_posts(ws)


@pytest.mark.parametrize("depth", [900, 2_000, 50_000])
async def test_deep_nesting_gets_invalid_json(
    communicator: Any, lobby: Room, user: Any, depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    ws = await join(communicator, user)
    await ws.send_text('{"type": "chat.message", "body": ' + "[" * depth + "]" * depth + "}")
    assert await ws.receive_json() == {
        "type": "error",
        "code": "invalid_json",
        "message": "Invalid JSON: The JSON is nested deeper than 128 levels.",
    }
    await assert_still_posts(ws)
    assert tracebacks(caplog) == []


async def test_a_flood_of_surrogates_is_closed_with_4400_after_max_invalid_frames(
    communicator: Any, lobby: Room, user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ws = await join(communicator, user)
    for _ in range(200):
        await ws.send_text(chat_frame("\\ud800", "c-1"))
    assert [await ws.receive_json() for _ in range(10)] == [SURROGATE_FRAME] * 10
    assert await ws.wait_closed() == (CloseCode.BAD_REQUEST, "10 malformed messages in a row.")
    assert await Message.objects.acount() == 0
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    "client_id", ["x" * 65, "x" * 100_000], ids=["one-too-long", "a-hundred-thousand"]
)
async def test_an_error_frame_echoes_only_a_client_id_that_could_be_one(
    communicator: Any, lobby: Room, user: Any, client_id: str
) -> None:
    ws = await join(communicator, user)
    await ws.send_json({"type": "chat.message", "body": "", "client_id": client_id})
    assert await ws.receive_json() == {
        "type": "error",
        "code": "invalid_message",
        "message": '"body" must be a non-empty string.',
    }


@pytest.mark.parametrize(
    "frame",
    [chat_frame("", "c-1"), chat_frame("a\\u0000b", "c-1"), chat_frame("x" * 2001, "c-1")],
    ids=["empty-body", "nul", "too-long"],
)
async def test_refused_chat_messages_count_toward_max_invalid_frames(
    communicator: Any, lobby: Room, user: Any, frame: str
) -> None:
    ws = await join(communicator, user)
    for _ in range(10):
        await ws.send_text(frame)
    errors = [await ws.receive_json() for _ in range(10)]
    assert {(e["type"], e["client_id"]) for e in errors} == {("error", "c-1")}
    assert await ws.wait_closed() == (CloseCode.BAD_REQUEST, "10 malformed messages in a row.")
    assert await Message.objects.acount() == 0


async def test_a_stored_message_restarts_the_invalid_count(
    communicator: Any, lobby: Room, user: Any
) -> None:
    ws = await join(communicator, user)
    for round_ in range(3):
        for _ in range(9):
            await ws.send_text(chat_frame("", "c-1"))
            assert (await ws.receive_json())["code"] == "invalid_message"
        await ws.send_text(chat_frame("fine", f"ok-{round_}"))
        assert (await ws.receive_json())["type"] == "chat.ack"
    assert await Message.objects.acount() == 3


def test_a_full_room_has_its_own_code_which_is_not_a_rate_limit_nor_retried() -> None:
    assert (RoomFull.code, RoomFull.default_reason) == (CloseCode.ROOM_FULL, "Room full.")
    assert issubclass(RoomFull, Reject) and not issubclass(RoomFull, RateLimited)
    assert not should_reconnect(CloseCode.ROOM_FULL)
