"""The bare broadcast room: every text frame reaches every member, sender included."""

from __future__ import annotations


async def test_every_member_gets_each_message_once(communicator) -> None:
    a = await communicator("/ws/broadcast/bench/")
    b = await communicator("/ws/broadcast/bench/")
    await a.send_text("hello")
    assert await a.receive_json() == {"type": "message", "body": "hello"}
    assert await b.receive_json() == {"type": "message", "body": "hello"}
    assert await b.receive_nothing()


async def test_other_rooms_hear_nothing(communicator) -> None:
    a = await communicator("/ws/broadcast/one/")
    b = await communicator("/ws/broadcast/two/")
    await a.send_text("x")
    assert await a.receive_json() == {"type": "message", "body": "x"}
    assert await b.receive_nothing()
