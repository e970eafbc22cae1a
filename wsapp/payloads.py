"""Text, bytes and JSON over a connection's two primitives: the conveniences every framework has.

``WebSocket`` inherits them, as it inherits :class:`~wsapp.handshake.HandshakeData`: they hold no
state and do no I/O of their own — each is a few lines over ``_receive_data()`` (the next data
message, or ``WebSocketDisconnect``) and ``send_frame()`` (one ASGI event, as it is), so the state
machine in :mod:`wsapp.connection` is read apart from them. What they refuse (a frame of the
wrong type, bad JSON) they count in the connection's ``limits``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from wsapp.exceptions import InvalidPayload, UnsupportedData, WebSocketDisconnect
from wsapp.types import Message

if TYPE_CHECKING:  # the limits sit above: a payload method only reads the connection's
    from wsapp.limits import ConnectionLimits

T = TypeVar("T")


class PayloadMethods:
    """``receive_text/bytes/json/data``, ``iter_*``, ``async for``, ``send_text/bytes/json``."""

    #: The connection's JSON codec (``WSAPP["JSON_DUMPS"]``/``["JSON_LOADS"]`` by default).
    dumps: Callable[[Any], str]
    loads: Callable[[str | bytes], Any]

    #: The connection's limits: the count of refused frames in a row lives there.
    limits: ConnectionLimits

    async def _receive_data(self, timeout: float | None) -> Message:
        raise NotImplementedError  # the connection's: the next data message

    async def send_frame(self, message: Message) -> None:
        raise NotImplementedError  # the connection's: one ASGI event, as it is

    async def receive_text(self, timeout: float | None = None) -> str:
        """The next text message.

        Raises:
            WebSocketDisconnect: the peer closed the connection.
            UnsupportedData: a binary frame arrived (a ``TypeError``; uncaught, closes with 1003).
            TimeoutError: nothing arrived within ``timeout`` seconds.
        """
        return await self._read(timeout, _text)

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        """The next binary message; a text frame raises ``UnsupportedData`` (1003)."""
        return await self._read(timeout, _bytes)

    async def receive_data(self, timeout: float | None = None) -> str | bytes:
        """The next message, text as ``str`` and binary as ``bytes``: ``websockets``' ``recv()``
        (``receive()`` is the raw ASGI event, as in Starlette)."""
        return await self._read(timeout, _data)

    async def receive_json(
        self,
        mode: Literal["text", "binary"] = "text",
        loads: Callable[[str | bytes], Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The next message decoded as JSON (from a text frame, or a binary one in ``"binary"`` mode).

        A handler may catch the errors below as ``ValueError`` and ``TypeError`` (the frame is
        consumed, the connection stays open); ``MAX_INVALID_FRAMES`` in a row close with 4400.

        Raises:
            InvalidPayload: not JSON, not UTF-8, nested deeper than ``WSAPP["JSON_MAX_DEPTH"]``,
                ``NaN``/``Infinity``, or a lone surrogate (a ``ValueError``; uncaught, closes
                with 1007).
            UnsupportedData: the frame type does not match ``mode`` (a ``TypeError``; 1003).
            ValueError: ``mode`` is neither ``"text"`` nor ``"binary"`` (nothing is read).
        """
        if mode == "text":
            frame: Callable[[Message], str | bytes] = _text
        elif mode == "binary":
            frame = _bytes
        else:
            raise ValueError(f'mode must be "text" or "binary", not {mode!r}')
        decode = loads or self.loads
        return await self._read(timeout, lambda message: _decode(decode, frame(message)))

    async def _read(self, timeout: float | None, read: Callable[[Message], T]) -> T:
        """The next data message as ``read`` takes it (its text, bytes or JSON).

        A frame ``read`` refuses (``UnsupportedData``, ``InvalidPayload``) is consumed, so a
        handler that catches the error reads on; ``MAX_INVALID_FRAMES`` refusals in a row end
        the connection with 4400 at the next call, as a Consumer's malformed messages do.
        """
        limits = self.limits
        if limits.refused_in_a_row:  # the common case pays one test, not a call
            limits.check_refused()
        try:
            value = read(await self._receive_data(timeout))
        except (InvalidPayload, UnsupportedData):
            limits.refused_in_a_row += 1
            raise
        limits.refused_in_a_row = 0
        return value

    def iter_text(self) -> AsyncIterator[str]:
        """Text messages until the peer closes."""
        return _until_disconnect(self.receive_text)

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """Binary messages until the peer closes."""
        return _until_disconnect(self.receive_bytes)

    def iter_json(self, mode: Literal["text", "binary"] = "text") -> AsyncIterator[Any]:
        """Decoded JSON messages until the peer closes."""
        return _until_disconnect(lambda: self.receive_json(mode))

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Every message, text as ``str`` and binary as ``bytes``, until the peer closes."""
        return _until_disconnect(self.receive_data)

    async def send_text(self, data: str) -> None:
        await self.send_frame({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        await self.send_frame({"type": "websocket.send", "bytes": data})

    async def send_json(
        self,
        data: Any,
        mode: Literal["text", "binary"] = "text",
        dumps: Callable[[Any], str] | None = None,
    ) -> None:
        """Encode ``data`` as JSON (default codec: ``WSAPP["JSON_DUMPS"]``) and send it.

        Raises:
            ValueError: ``data`` cannot be encoded as standard JSON (``NaN``, too deep, text
                with a lone surrogate); nothing is sent.
        """
        text = (dumps or self.dumps)(data)
        if mode == "text":
            await self.send_frame({"type": "websocket.send", "text": text})
        elif mode == "binary":
            await self.send_frame({"type": "websocket.send", "bytes": text.encode()})
        else:
            raise ValueError(f'mode must be "text" or "binary", not {mode!r}')


async def _until_disconnect(receive: Callable[[], Awaitable[T]]) -> AsyncIterator[T]:
    """What ``receive()`` returns, one after another, until the peer closes."""
    try:
        while True:
            yield await receive()
    except WebSocketDisconnect:
        pass


def _text(message: Message) -> str:
    text = message.get("text")
    if text is None:
        raise UnsupportedData("Expected a text frame, got a binary frame.")
    return text  # type: ignore[no-any-return]


def _bytes(message: Message) -> bytes:
    data = message.get("bytes")
    if data is None:
        raise UnsupportedData("Expected a binary frame, got a text frame.")
    return data  # type: ignore[no-any-return]


def _data(message: Message) -> str | bytes:
    text = message.get("text")
    return message.get("bytes", b"") if text is None else text  # type: ignore[no-any-return]


def _decode(loads: Callable[[str | bytes], Any], raw: str | bytes) -> Any:
    try:
        return loads(raw)
    # JSONDecodeError, UnicodeDecodeError and InvalidText are ValueErrors; a custom decoder
    # may still overflow the stack on deep input, which is the peer's fault, not ours.
    except (ValueError, RecursionError) as exc:
        raise InvalidPayload(f"Invalid JSON: {exc}") from exc
