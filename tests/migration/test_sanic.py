"""Sanic's WebSocket examples, ported (:mod:`tests.migration.sanic_ports`), in-process and
under ``manage.py serve``."""

from __future__ import annotations

import pytest

from tests.migration.conftest import MAX_MESSAGE_SIZE, Connect
from wsapp.codes import CloseCode


async def test_feed_sends_hello_before_each_receive(connect: Connect) -> None:
    peer = await connect("/sanic/feed/")
    assert await peer.recv() == "hello!"
    await peer.send("one")
    assert await peer.recv() == "hello!"
    await peer.send("two")
    assert await peer.recv() == "hello!"


@pytest.mark.parametrize("frame", ["text ✓", b"\x00\xffbytes"], ids=["text", "bytes"])
async def test_async_for_feed_sends_each_frame_back_unchanged(
    connect: Connect, frame: str | bytes
) -> None:
    peer = await connect("/sanic/feed-iter/")
    await peer.send(frame)
    assert await peer.recv() == frame


async def test_websocket_max_size_is_max_message_size(connect: Connect) -> None:
    """``WEBSOCKET_MAX_SIZE`` is ``WSAPP["MAX_MESSAGE_SIZE"]``: over it, the socket closes 1009."""
    peer = await connect("/sanic/feed-iter/")
    await peer.send("x" * MAX_MESSAGE_SIZE)
    assert await peer.recv() == "x" * MAX_MESSAGE_SIZE
    await peer.send("x" * (MAX_MESSAGE_SIZE + 1))
    assert (await peer.closed())[0] == CloseCode.MESSAGE_TOO_BIG


async def test_channel_feed_reaches_every_client_of_the_channel_only(connect: Connect) -> None:
    # A client is in its channel once its own first message comes back to it.
    ann = await connect("/sanic/feed/news/")
    await ann.send("ann is here")
    assert await ann.recv() == "ann is here"
    bob = await connect("/sanic/feed/news/")
    await bob.send("bob is here")
    assert [await bob.recv(), await ann.recv()] == ["bob is here", "bob is here"]
    other = await connect("/sanic/feed/sport/")
    await other.send("goal")
    assert await other.recv() == "goal"
    await ann.send("extra!")
    assert [await ann.recv(), await bob.recv()] == ["extra!", "extra!"]
    await bob.send(b"\x01binary")
    assert [await ann.recv(), await bob.recv()] == [b"\x01binary", b"\x01binary"]
    await other.send("end")
    assert await other.recv() == "end"  # nothing from "news" arrived before it
