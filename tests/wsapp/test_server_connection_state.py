"""What one open ``serve`` connection holds: no handshake leftovers, options on the class, lazy
flow-control state, no ``ProtocolTypeRouter`` frame; and that everything which read them still
works (accept with a subprotocol, messages, application pings, the close's log line).

The real protocol class over Twisted's ``StringTransport``: Daphne's factory and autobahn's
handshake, with a stand-in for Daphne's ``Server`` (the parts the protocol reads).
"""

from __future__ import annotations

import sys
from typing import Any

import daphne.server  # noqa: F401  (installs the asyncio reactor before Twisted picks one)
import pytest
from channels.routing import ProtocolTypeRouter
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from wsapp.server.budgets import Limits
from wsapp.server.frames import FrameCache
from wsapp.server.inbox import Inbox
from wsapp.server.leftovers import HANDSHAKE_ONLY, INITIAL_STATE, OpenRequest
from wsapp.server.options import configured
from wsapp.server.protocol import WsappWebSocketProtocol
from wsapp.server.server import accept_deflate, websocket_app
from wsapp.server.ticks import TickWriter
from wsapp.types import PING_EVENT, PONG_EVENT

UPGRADE = (
    b"GET /ws/echo/?room=1 HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8000\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Origin: http://127.0.0.1:8000\r\n"
    b"Cookie: sessionid=abc\r\n"
    b"\r\n"
)
OPCODE_TEXT, OPCODE_CLOSE, OPCODE_PONG = 0x1, 0x8, 0xA


class FakeServer:
    """Daphne's ``Server`` as the protocol sees it."""

    root_path = ""
    proxy_forwarded_address_header = None
    shutting_down = False
    max_message_size = 65536
    max_queue = 8
    max_send_buffer = 1 << 20
    websocket_connect_timeout = 10

    def __init__(self) -> None:
        self.limits = Limits()
        self.frames = FrameCache()
        self.ticks = TickWriter()
        self.logged: list[tuple[str, dict[str, Any]]] = []
        self.scopes: list[dict[str, Any]] = []

    def protocol_connected(self, protocol: Any) -> None:
        pass

    def protocol_disconnected(self, protocol: Any) -> None:
        pass

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Inbox:
        self.scopes.append(scope)
        return Inbox()

    def log_action(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        self.logged.append((action, details))


def make_factory(server: FakeServer, **options: Any) -> WebSocketFactory:
    factory = WebSocketFactory(server, server="wsapp")
    # No timers on the (not running) reactor.
    factory.setProtocolOptions(
        failByDrop=False, openHandshakeTimeout=0, closeHandshakeTimeout=0, **options
    )
    factory.protocol = configured(WsappWebSocketProtocol, factory)
    return factory


def client_frame(opcode: int, payload: bytes, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    """A masked, final client frame (RFC 6455 §5.2), payload under 126 bytes."""
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def open_connection(server: FakeServer, **options: Any) -> tuple[Any, StringTransport]:
    """A protocol through the upgrade and Daphne's handshake, accepted with ``chat``."""
    factory = make_factory(server, **options)
    peer = IPv4Address("TCP", "127.0.0.1", 50000)
    protocol = factory.buildProtocol(peer)
    protocol._raw_query_string = b"room=1"  # Daphne's HTTP protocol passes it on
    transport = StringTransport(peerAddress=peer, hostAddress=IPv4Address("TCP", "127.0.0.1", 8000))
    transport.registerProducer(object(), True)  # the HTTP channel, which Twisted unregisters
    protocol.makeConnection(transport)
    protocol.dataReceived(UPGRADE)
    protocol.handle_reply({"type": "websocket.accept", "subprotocol": "chat"})
    assert protocol.state == protocol.STATE_OPEN
    return protocol, transport


def drain(protocol: Any) -> list[Any]:
    queue: Inbox = protocol.application_queue
    messages = []
    while not queue.empty():
        message = queue.get_nowait()
        protocol.application_received(queue.qsize(), message)
        messages.append(message)
    return messages


def test_an_open_connection_no_longer_holds_its_handshake_request() -> None:
    protocol, transport = open_connection(FakeServer())
    held = set(vars(protocol))
    assert held.isdisjoint(HANDSHAKE_ONLY)
    assert isinstance(protocol.request, OpenRequest)
    assert (protocol.request.path, protocol.request.peer) == ("/ws/echo/", "tcp4:127.0.0.1:50000")
    # A late reader of a leftover gets None, not an AttributeError.
    assert protocol.http_request_data is None
    assert protocol.http_headers is None
    # What needed them got them before: the 101 with the subprotocol, the scope's headers.
    reply = transport.value()
    assert reply.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Protocol: chat\r\n" in reply
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in reply


def test_the_scope_keeps_what_the_application_reads_from_the_handshake() -> None:
    server = FakeServer()
    open_connection(server)
    [scope] = server.scopes
    assert scope["path"] == "/ws/echo/"
    assert scope["query_string"] == b"room=1"
    assert scope["subprotocols"] == ["chat", "superchat"]
    assert (b"cookie", b"sessionid=abc") in scope["headers"]
    assert (b"origin", b"http://127.0.0.1:8000") in scope["headers"]


def test_an_idle_open_connection_has_a_small_instance_dict() -> None:
    protocol, _ = open_connection(FakeServer())
    attrs = vars(protocol)
    # CPython's step: at most 42 keys fit a 64-slot table; 104 keys were a 256-slot one (3.3 KB).
    assert len(attrs) <= 42, sorted(attrs)
    assert sys.getsizeof(attrs) < 1000
    assert set(attrs).isdisjoint(protocol.CONFIG_ATTRS)
    assert not {name for name in INITIAL_STATE if name in attrs and attrs[name] is None}


def test_state_at_its_initial_value_reads_the_same_and_can_change() -> None:
    protocol, _ = open_connection(FakeServer())
    assert (protocol.wasClean, protocol.localCloseCode, protocol.failedByMe) == (False, None, False)
    protocol.failedByMe = True
    assert protocol.failedByMe is True
    assert type(protocol).failedByMe is False  # the class default is not touched


def test_options_come_from_the_factory_and_stay_each_servers_own() -> None:
    quiet, loud = FakeServer(), FakeServer()
    first, _ = open_connection(quiet, perMessageCompressionAccept=accept_deflate)
    second, _ = open_connection(loud, autoFragmentSize=1000)
    assert first.failByDrop is False
    assert first.perMessageCompressionAccept is accept_deflate  # a function, not a bound method
    assert (first.autoFragmentSize, second.autoFragmentSize) == (0, 1000)
    assert isinstance(first, WsappWebSocketProtocol)
    assert type(first) is not type(second)


def test_messages_still_reach_the_application_and_the_queue_state_is_dropped_after() -> None:
    protocol, _ = open_connection(FakeServer())
    assert protocol.queued_sizes is None
    protocol.dataReceived(client_frame(OPCODE_TEXT, b"hello"))
    assert list(protocol.queued_sizes) == [5]
    assert protocol.queued_bytes == 5
    assert drain(protocol) == [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hello"},
    ]
    assert (protocol.queued_sizes, protocol.queued_bytes) == (None, 0)


def test_a_full_queue_pauses_reading_and_draining_resumes_it() -> None:
    server = FakeServer()
    protocol, transport = open_connection(server)
    for _ in range(server.max_queue):
        protocol.dataReceived(client_frame(OPCODE_TEXT, b"x"))
    assert protocol.reading_paused
    assert protocol.pause_reasons == {"queue"}
    assert transport.producerState == "paused"
    drain(protocol)
    assert not protocol.reading_paused
    assert protocol.pause_reasons == frozenset()
    assert transport.producerState == "producing"


def test_application_pings_are_remembered_only_once_there_is_one() -> None:
    protocol, transport = open_connection(FakeServer())
    assert protocol.app_pings is None
    protocol.dataReceived(client_frame(OPCODE_PONG, b"unasked"))  # not the application's
    assert protocol.app_pings is None
    protocol.handle_reply({"type": PING_EVENT, "bytes": b"p1"})
    assert list(protocol.app_pings) == [b"p1"]
    assert transport.value().endswith(b"\x89\x02p1")
    protocol.dataReceived(client_frame(OPCODE_PONG, b"p1"))
    assert drain(protocol)[-1] == {"type": PONG_EVENT, "bytes": b"p1"}
    assert list(protocol.app_pings) == []


@pytest.mark.parametrize("code", [1000, 4403], ids=["normal", "app-code"])
def test_the_close_is_told_to_the_application_and_logged_with_the_path(code: int) -> None:
    server = FakeServer()
    protocol, _ = open_connection(server)
    reason = b"bye"
    protocol.dataReceived(client_frame(OPCODE_CLOSE, code.to_bytes(2, "big") + reason))
    protocol.connectionLost(Failure(ConnectionDone()))
    assert drain(protocol)[-1] == {"type": "websocket.disconnect", "code": code, "reason": "bye"}
    assert server.logged[-1] == ("disconnected", {"path": "/ws/echo/", "client": "127.0.0.1:50000"})


class _Router(ProtocolTypeRouter):  # a subclass may dispatch otherwise: it is called as it is
    pass


async def _websocket(scope: Any, receive: Any, send: Any) -> None:
    pass


async def _http(scope: Any, receive: Any, send: Any) -> None:
    pass


def test_serve_calls_a_protocol_type_routers_websocket_app_itself() -> None:
    router = ProtocolTypeRouter({"http": _http, "websocket": _websocket})
    assert websocket_app(router) is _websocket
    http_only = ProtocolTypeRouter({"http": _http})
    assert websocket_app(http_only) is http_only  # its own ValueError, as before
    subclassed = _Router({"websocket": _websocket})
    assert websocket_app(subclassed) is subclassed
    assert websocket_app(_websocket) is _websocket
