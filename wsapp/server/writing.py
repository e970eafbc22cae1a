"""How ``serve`` writes an application's messages: one frame per broadcast, one write per tick.

autobahn's ``sendMessage`` builds each socket's frame again, and Twisted's ``write`` only
buffers: it registers the socket for writability (an ``epoll_ctl``), writes on the next reactor
turn and unregisters (another one), per frame. Here a broadcast's frame is built once for every
uncompressed socket, and for every socket that compresses each message on its own
(:class:`~wsapp.server.frames.FrameCache`), and frames go to the kernel
without a reactor turn when nothing is queued before them, those of one loop tick joined into
one write (:class:`~wsapp.server.ticks.TickWriter`). A close flushes them before the FIN.
"""

from __future__ import annotations

from typing import Any

from wsapp.server.buffers import buffered_bytes

__all__ = ["FrameWriting"]


class FrameWriting:
    """The write half of :class:`~wsapp.server.protocol.WsappWebSocketProtocol`, a mixin on
    autobahn's ``WebSocketServerProtocol`` (Daphne's ``WebSocketProtocol`` below it sets
    ``server`` and ``muted``; the protocol supplies ``check_send_buffer``)."""

    factory: Any
    server: Any
    transport: Any
    state: int
    STATE_CONNECTING: int
    STATE_OPEN: int
    muted: bool
    send_queue: Any
    logOctets: bool
    trafficStats: Any
    maxMessagePayloadSize: int
    _perMessageCompress: Any
    sendMessage: Any
    check_send_buffer: Any

    def send_data(self, message: dict[str, Any]) -> None:
        """Send one text or binary message, empty ones included (Daphne drops those).

        Raises:
            ValueError: before accept, or the message has both or neither of text and bytes.
        """
        if self.state == self.STATE_CONNECTING:
            raise ValueError("Socket has not been accepted, so cannot send over it.")
        text, data = message.get("text"), message.get("bytes")
        if (text is None) == (data is None):
            raise ValueError(
                "websocket.send needs exactly one of 'text' and 'bytes' not None, "
                f"got text={text!r:.40} and bytes={data!r:.40}."
            )
        if text is not None:
            if not isinstance(text, str):
                raise ValueError(f"websocket.send 'text' must be a str, got {type(text).__name__}.")
        elif not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(f"websocket.send 'bytes' must be bytes, got {type(data).__name__}.")
        if self.muted or self.state != self.STATE_OPEN:
            # Closing or closed: the application learns it from websocket.disconnect.
            return
        deflate = self._perMessageCompress
        if deflate is None or deflate.server_no_context_takeover:
            source = text if text is not None else data
            frames = self.server.frames  # the frame the previous member got, if the same message
            frame = (
                frames.frame(source)
                if deflate is None
                else frames.deflated(source, deflate.server_max_window_bits, deflate.mem_level)
            )
            if self._held_for_tick(frame):
                return  # Twisted held nothing for it before: nothing can be over MAX_SEND_BUFFER
            before = buffered_bytes(self.transport)
            self.sendData(frame)
        else:
            payload = text.encode("utf-8") if text is not None else bytes(data)  # type: ignore[arg-type]
            before = buffered_bytes(self.transport)
            limit = self.maxMessagePayloadSize
            self.maxMessagePayloadSize = 0  # MAX_MESSAGE_SIZE bounds what we receive, not send
            try:
                self.sendMessage(payload, text is None)
            finally:
                self.maxMessagePayloadSize = limit
        self.check_send_buffer(added=buffered_bytes(self.transport) - before)

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        """autobahn's ``sendData``, minus a reactor turn per frame: when nothing is queued, the
        frames of one loop tick are written together at its end
        (:class:`~wsapp.server.ticks.TickWriter`); autobahn's own queue keeps its order."""
        if sync or chopsize or not self._held_for_tick(data):
            self.factory.server_class.ticks.flush(self.transport)
            super().sendData(data, sync, chopsize)  # type: ignore[misc]  # autobahn's

    def _held_for_tick(self, data: bytes) -> bool:
        """Whether the tick writer took ``data``: not while autobahn queues (a chopped or
        synchronous send) or logs octets, nor for a transport Twisted holds bytes for."""
        ticks = self.factory.server_class.ticks  # self.server is set only once a handshake parses
        if self.send_queue or self.logOctets or not ticks.write(self.transport, data):
            return False
        stats = self.trafficStats
        if self.state == self.STATE_OPEN:
            stats.outgoingOctetsWireLevel += len(data)
        else:
            stats.preopenOutgoingOctetsWireLevel += len(data)
        return True

    def _closeConnection(self, abort: bool = False) -> None:
        if not abort:  # what this tick sent goes before the FIN; an abort discards it anyway
            self.factory.server_class.ticks.flush(self.transport)
        super()._closeConnection(abort)  # type: ignore[misc]
