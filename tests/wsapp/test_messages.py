"""The hub's input contract: one constructor per layer message, keyed into the hub's handlers."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer

from wsapp.codes import CloseCode
from wsapp.hub import messages
from wsapp.hub.hub import Hub


def test_broadcast_carries_the_encoded_text_the_excluded_ids_and_the_message_id() -> None:
    assert messages.broadcast("lobby", '{"a":1}', ("ws-1",), 7) == {
        "type": "wsapp.broadcast",
        "room": "lobby",
        "text": '{"a":1}',
        "exclude": ["ws-1"],
        "id": 7,
    }


def test_broadcast_defaults_to_no_exclusions_and_no_id() -> None:
    message = messages.broadcast("lobby", "{}")
    assert (message["exclude"], message["id"]) == ([], None)


def test_a_raw_broadcast_carries_text_or_bytes_unchanged() -> None:
    text, binary = messages.raw_broadcast("lobby", "hi"), messages.raw_broadcast("lobby", b"\x00")
    assert (text["text"], text["raw"], text["id"]) == ("hi", True, None)
    assert (binary["bytes"], "text" in binary) == (b"\x00", False)


def test_a_message_to_a_user_carries_the_encoded_text() -> None:
    assert messages.to_user("42", "{}") == {"type": "wsapp.to_user", "user": "42", "text": "{}"}


def test_close_room_carries_the_notice_sent_before_the_close() -> None:
    assert messages.close_room("lobby", CloseCode.ROOM_CLOSED, "archived", "{}") == {
        "type": "wsapp.close_room",
        "room": "lobby",
        "code": 4410,
        "reason": "archived",
        "text": "{}",
    }


def test_kick_and_close_user_name_the_user_by_key() -> None:
    assert messages.kick("lobby", "42", CloseCode.FORBIDDEN, "bye") == {
        "type": "wsapp.kick",
        "room": "lobby",
        "user": "42",
        "code": 4403,
        "reason": "bye",
    }
    assert messages.close_user("42", CloseCode.NOT_AUTHENTICATED, "Logged out.") == {
        "type": "wsapp.close_user",
        "user": "42",
        "code": 4401,
        "reason": "Logged out.",
    }


def test_codes_travel_as_plain_ints() -> None:
    code = messages.close_user("42", CloseCode.NOT_AUTHENTICATED, "")["code"]
    assert type(code) is int


def test_the_hub_handles_exactly_the_message_types_defined_here() -> None:
    hub = Hub(get_channel_layer(), 5.0)
    assert set(hub._handlers) == {
        messages.BROADCAST,
        messages.CLOSE_ROOM,
        messages.KICK,
        messages.CLOSE_USER,
        messages.TO_USER,
    }


@pytest.mark.parametrize(
    ("make", "key", "group"),
    [
        (messages.room_group, "lobby", "wsapp.room.lobby"),
        (messages.user_group, "42", "wsapp.user.42"),
        (messages.room_group, "a-b_c.d", "wsapp.room.a-b_c.d"),
        (messages.room_group, "x" * 99, "wsapp.room." + "x" * 99),
    ],
    ids=["room", "user", "punctuation", "longest"],
)
def test_group_names(make, key, group) -> None:
    assert make(key) == group


@pytest.mark.parametrize("key", ["", "a b", "é", "x" * 100, None], ids=repr)
def test_an_invalid_key_is_refused_with_the_rule(key) -> None:
    with pytest.raises(ValueError, match=r"is not a valid room key: use 1-99 of \[a-zA-Z0-9._-\]"):
        messages.room_group(key)
