"""``TopicConsumer`` under hostile frame sequences, on the real database, against a model.

Random ``subscribe``/``unsubscribe``/``chat.message``/``typing`` frames over a few topics (two
rooms, a missing one, a private one, and hostile values), mixed with hostile text and binary
frames, go to one socket subscribed to lobby. Each frame gets the answer a model predicts from what the socket has
subscribed: the three frames of a subscribe, a ``subscribe.refused`` with its code, an ack
stored under the topic's room, or the ``error`` naming the topic; ``MAX_INVALID_FRAMES`` in a
row close with 4400; never 1011, never a logged traceback.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import event, given
from hypothesis import strategies as st

from tests.fuzz.strategies import (
    chat_contents,
    chat_model,
    decoded,
    examples,
    field_value,
    frames,
    unknown_type,
    valid_chat,
)
from tests.support.fuzzing import drive_frames, tracebacks
from tests.wsapp.test_topics import Topics
from wsapp.asgi import websocket_application
from wsapp.models import Message, Room
from wsapp.rooms.admission import echoable
from wsapp.rooms.topics import is_topic
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_teardown")]

MAX_INVALID = 4
ROOMS = ("lobby", "kitchen")
rooms = st.sampled_from(ROOMS)
#: Mostly the two rooms (so messages get stored), then a missing and a private one, then hostile.
topic_value = st.one_of(rooms, rooms, rooms, st.sampled_from(["nowhere", "vault"]), field_value)
since_value = st.one_of(
    st.none(), st.none(), st.none(), st.integers(-2, 10**6), st.integers(2**62, 2**64), field_value
)
topic_frames = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("subscribe"), "topic": topic_value}, optional={"since": since_value}
    ),
    st.fixed_dictionaries({"type": st.just("unsubscribe")}, optional={"topic": topic_value}),
    st.fixed_dictionaries({"type": st.just("typing"), "topic": topic_value}),
    st.builds(lambda c, t: {**c, "topic": t}, chat_contents | valid_chat, topic_value),
    *[st.builds(lambda c, t: {**c, "topic": t}, valid_chat, rooms)] * 2,
)


@pytest_asyncio.fixture
async def rooms_(db: Any) -> None:
    for slug in ROOMS:
        await Room.objects.acreate(slug=slug, title=slug)
    await Room.objects.acreate(slug="vault", title="Vault", is_private=True)


class Model:
    """What the socket has subscribed, and the answer each frame must get."""

    def __init__(self) -> None:
        self.subscribed: set[str] = set()

    def error(self, content: dict[str, Any], code: str, message: str | None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "code": code}
        if message is not None:
            frame["message"] = message
        if is_topic(content.get("topic")):
            frame["topic"] = content["topic"]
        return frame

    def predict(self, content: dict[str, Any]) -> tuple[str, Any]:
        """``(kind, expected)``: kind ``join`` (3 frames), ``frame`` (one, counted as invalid
        when an error), ``refused`` (counted or not) or ``silent`` (a typing: nothing back)."""
        kind, topic = content["type"], content.get("topic")
        if kind == "subscribe":
            since = content.get("since")
            if not is_topic(topic):
                return "refused-invalid", (topic, 4400)
            if since is not None and (type(since) is not int or not 0 <= since < 2**63):
                return "refused-invalid", (topic, 4400)
            if topic in ROOMS:
                return "join", (topic, since)
            return "refused", (topic, 4403 if topic == "vault" else 4404)
        if not is_topic(topic):
            return "invalid", self.error(content, "invalid_message", '"topic" must be a room slug.')
        if kind == "unsubscribe":
            return "ok", {"type": "unsubscribed", "topic": topic, "code": 1000, "reason": ""}
        if topic not in self.subscribed:
            frame = self.error(content, "not_subscribed", f"Not subscribed to {topic!r}.")
            if kind == "chat.message" and echoable(content.get("client_id")):
                frame["client_id"] = content["client_id"]
            return "invalid", frame
        if kind == "typing":
            return "silent", None
        cleaned = chat_model(content, Topics.max_body_length)
        if cleaned is None:
            return "invalid", self.error(content, "", None)  # code: tests/fuzz/test_chat_validation
        return "ack", cleaned


def predict_text(text: str) -> tuple[str, Any]:
    """The answer to a text frame before dispatch (as on every Consumer), or ``("dispatch", content)``."""
    outcome, value = decoded(text)
    if outcome != "ok":
        code = "invalid_message" if outcome == "invalid_text" else "invalid_json"
        return "invalid", {"type": "error", "code": code, "message": value}
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        message = 'Expected a JSON object with a "type".'
        return "invalid", {"type": "error", "code": "invalid_message", "message": message}
    if value["type"] not in {"subscribe", "unsubscribe", "chat.message", "typing"}:
        return "invalid", Model().error(value, "unknown_type", unknown_type(value["type"]))
    return "dispatch", value


@examples(120)
@given(frames(topic_frames, weight=8))
async def test_every_topic_frame_gets_its_answer_and_the_database_agrees(
    rooms_: None,
    user: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    sequence: list[tuple[str, Any]],
) -> None:
    settings.WSAPP = {**settings.WSAPP, "MAX_INVALID_FRAMES": MAX_INVALID}
    client = AsyncWebSocketClient(websocket_application(Router([path("ws/topics/", Topics)])))
    ws = await client.websocket_connect(
        "/ws/topics/", user=user, subprotocols=["wsapp.v1"]
    ).connect()
    model = Model()
    await ws.send_json({"type": "subscribe", "topic": "lobby"})  # so that messages get stored
    assert [(await ws.receive_json())["type"] for _ in range(3)][0] == "subscribed"
    model.subscribed.add("lobby")

    async def check(payload: str) -> bool:
        outcome, expected = predict_text(payload)
        if outcome == "dispatch":
            outcome, expected = model.predict(expected)
        if outcome == "join":
            topic, since = expected
            got = [await ws.receive_json() for _ in range(3)]
            assert [(f["type"], f["topic"]) for f in got] == [
                ("subscribed", topic),
                ("history", topic),
                ("presence.state", topic),
            ]
            assert all(m["room"] == topic and m["id"] > (since or 0) for m in got[1]["messages"])
            assert got[2]["users"] == ["alice"]
            model.subscribed.add(topic)
            event("subscribed")
            return False
        if outcome in {"refused", "refused-invalid"}:
            topic, code = expected
            got = await ws.receive_json()
            assert (got["type"], got["code"], got.get("topic")) == (
                "subscribe.refused",
                code,
                topic if echoable(topic, 200) else None,
            )
            event(f"refused {code}")
            return outcome == "refused-invalid"
        if outcome == "ack":
            got = await ws.receive_json()
            assert (got["type"], got["topic"], got["client_id"]) == (
                "chat.ack",
                payload_topic(payload),
                expected["client_id"],
            )
            stored = await Message.objects.select_related("room").aget(id=got["id"])
            assert (stored.room.slug, stored.client_id) == (got["topic"], expected["client_id"])
            event("acked")
            return False
        if outcome == "silent":
            return False
        got = await ws.receive_json()
        assert {k: got.get(k) for k in expected if expected[k] != ""} == {
            k: v for k, v in expected.items() if v != ""
        }
        if outcome == "ok":
            model.subscribed.discard(got["topic"])
            return False
        assert got["type"] == "error"
        return True

    async def still_open() -> None:
        probe = uuid.uuid4().hex
        await ws.send_json({"type": "subscribe", "topic": "lobby"})
        assert [(await ws.receive_json())["type"] for _ in range(3)][0] == "subscribed"
        await ws.send_json(
            {"type": "chat.message", "topic": "lobby", "body": "ok", "client_id": probe}
        )
        ack = await ws.receive_json()
        assert (ack["type"], ack["topic"], ack["client_id"]) == ("chat.ack", "lobby", probe)
        await ws.close()

    await drive_frames(
        ws,
        sequence,
        label="socket: TopicConsumer frames",
        max_invalid=MAX_INVALID,
        answer=check,
        still_open=still_open,
    )
    assert tracebacks(caplog) == []


def payload_topic(text: str) -> Any:
    return decoded(text)[1]["topic"]
