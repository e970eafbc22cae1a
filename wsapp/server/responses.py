"""How ``manage.py serve`` answers an upgrade request: accept, refuse, or an HTTP response.

Daphne answers only "accept" (autobahn writes the 101) and "refuse" (autobahn writes ``403
Access denied``). :class:`AnsweringProtocol`, the base of
:class:`~wsapp.server.protocol.WsappWebSocketProtocol`, adds:

- the accept's headers, checked, with one ``Server`` header: the application's if it sent one,
  else the server's (autobahn would write both);
- ASGI's WebSocket Denial Response extension: ``websocket.http.response.start`` then ``.body``
  events become one HTTP/1.1 response with the application's status, headers and body (plus
  ``Content-Length`` and ``Connection: close``), after which the connection is closed;
- a handshake the application has not answered within ``CONNECT_TIMEOUT`` gets ``503``.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Iterable
from typing import Any

import daphne.server  # noqa: F401  isort: skip  (first: it installs the asyncio reactor)
from autobahn.websocket.types import ConnectionDeny
from daphne.ws_protocol import WebSocketProtocol

logger = logging.getLogger("wsapp.server")

__all__ = ["AnsweringProtocol", "http_response", "response_headers"]

# Framing is the server's: the application's own values could contradict the body it sent.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
# RFC 9110 §15.6.4: the application did not answer in time; the client may retry.
SLOW_ACCEPT_STATUS = 503


def response_headers(headers: Iterable[Any]) -> dict[str, list[str]]:
    """ASGI ``[(name, value), ...]`` byte pairs as autobahn's ``{name: [values]}``.

    Raises:
        ValueError: a header is not a pair of bytes, or would inject a line break.
    """
    result: dict[str, list[str]] = {}
    for pair in headers:
        name, value = pair
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise ValueError(f"Response headers must be pairs of bytes, got {pair!r}.")
        if any(c in name + value for c in b"\r\n\0") or b":" in name or not name:
            raise ValueError(f"Response header {pair!r} contains a forbidden character.")
        result.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    return result


def pop_server(headers: dict[str, list[str]]) -> str | None:
    """Remove the ``Server`` headers from ``headers``; return the last one's value."""
    values = [
        v for name in [n for n in headers if n.lower() == "server"] for v in headers.pop(name)
    ]
    return values[-1] if values else None


def http_response(status: int, headers: dict[str, list[str]], body: bytes, server: str) -> bytes:
    """One complete HTTP/1.1 response that ends the connection."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    server = pop_server(headers) or server
    lines = [f"HTTP/1.1 {status} {phrase}".rstrip()]
    if server:
        lines.append(f"Server: {server}")
    for name, values in headers.items():
        if name.lower() not in FRAMING_HEADERS:
            lines += [f"{name}: {value}" for value in values]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


class AnsweringProtocol(WebSocketProtocol):
    """Daphne's protocol answering the handshake with headers, denials and a deadline."""

    # (status, headers, body chunks) of a denial whose body is still arriving.
    denial: tuple[int, dict[str, list[str]], list[bytes]] | None = None
    handshake_deferred: Any
    openHandshakeTimeoutCall: Any

    def serverAccept(self, subprotocol: str | None = None, headers: Iterable[Any] = ()) -> None:
        if not hasattr(self, "handshake_deferred"):
            raise ValueError("websocket.accept after the handshake was already answered.")
        if subprotocol is not None and subprotocol not in self.websocket_protocols:
            raise ValueError(
                f"Subprotocol {subprotocol!r} was not offered by the client "
                f"(it offered {self.websocket_protocols!r})."
            )
        extra = response_headers(headers)
        server = pop_server(extra)
        deferred = self.handshake_deferred
        del self.handshake_deferred
        factory = self.factory
        saved = factory.server
        if server is not None:
            # autobahn writes the factory's Server header, then ours: one of them, ours.
            factory.server = server
        try:
            deferred.callback((subprotocol, extra) if extra else subprotocol)  # writes the 101
        finally:
            factory.server = saved

    def serverReject(self) -> None:
        if hasattr(self, "handshake_deferred"):  # a second refusal has nothing left to refuse
            super().serverReject()

    def start_denial(self, message: dict[str, Any]) -> None:
        """``websocket.http.response.start``: the handshake will be an HTTP response.

        Raises:
            ValueError: the handshake was answered already, or the status or headers are bad.
        """
        if not hasattr(self, "handshake_deferred"):
            raise ValueError(f"{message.get('type')} after the handshake was already answered.")
        status = message.get("status")
        if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
            raise ValueError(f"A denial's status must be an int from 200 to 599, got {status!r}.")
        headers = response_headers(message.get("headers") or ())
        del self.handshake_deferred  # autobahn must not answer it any more
        self.denial = (status, headers, [])

    def continue_denial(self, message: dict[str, Any]) -> None:
        """``websocket.http.response.body``: more of the body; the last one sends the response.

        Raises:
            ValueError: no denial was started, or the body is not bytes.
        """
        if self.denial is None:
            raise ValueError(f"{message.get('type')} without websocket.http.response.start.")
        body = message.get("body") or b""
        if not isinstance(body, bytes | bytearray | memoryview):
            raise ValueError(f"A denial's body must be bytes, got {type(body).__name__}.")
        self.denial[2].append(bytes(body))
        if not message.get("more_body"):
            status, headers, chunks = self.denial
            self.denial = None
            self._send_denial(status, headers, b"".join(chunks))

    def _send_denial(self, status: int, headers: dict[str, list[str]], body: bytes) -> None:
        if self.openHandshakeTimeoutCall is not None:
            self.openHandshakeTimeoutCall.cancel()
            self.openHandshakeTimeoutCall = None
        self.sendData(http_response(status, headers, body, self.factory.server or ""))
        self.wasNotCleanReason = f"handshake denied with {status}"
        # What Daphne's serverReject does for a refused handshake: no more application messages.
        self.server.protocol_disconnected(self)
        logger.debug("WebSocket %s denied with %d by the application", self.client_addr, status)
        self.server.log_action(
            "websocket", "rejected", {"path": self.request.path, "status": status}
        )
        self.dropConnection(abort=False)

    def refuse_slow_accept(self) -> None:
        """The application did not answer within ``CONNECT_TIMEOUT``: 503, not a 403 that would
        blame the client (Daphne's), nor a dropped TCP."""
        if not hasattr(self, "handshake_deferred"):
            return
        logger.info(
            "WebSocket %s (%s) not accepted within CONNECT_TIMEOUT=%s s: 503.",
            self.client_addr,
            self.request.path,
            self.server.websocket_connect_timeout,
        )
        deferred = self.handshake_deferred
        del self.handshake_deferred
        self.server.protocol_disconnected(self)
        deferred.errback(ConnectionDeny(SLOW_ACCEPT_STATUS, "Service Unavailable"))
