from __future__ import annotations

from wsapp.routing import reverse
from wsapp.testing import WebSocketTestClient


def test_echo_text_and_bytes_in_process() -> None:
    with WebSocketTestClient().websocket_connect("/ws/echo/") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        ws.send_bytes(b"\x00\xff")
        assert ws.receive_bytes() == b"\x00\xff"


def test_reverse_names_the_echo_route() -> None:
    assert reverse("echo") == "/ws/echo/"


async def test_async_communicator_echoes_json(communicator) -> None:
    ws = await communicator("/ws/json-echo/")
    await ws.send_json({"type": "echo", "n": 1})
    assert await ws.receive_json() == {"type": "echo", "n": 1}
