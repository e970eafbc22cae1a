"""Which local sockets get a room's frames, and in what form: the hub's fan-out table.

A socket is in a room either *plainly* (the chat endpoint: one room per socket, each frame
written exactly as it was broadcast) or as one *topic* of a multiplexed socket (many rooms over
one connection: every frame must name its room, and the server ending a room ends that topic,
not the socket). The topic form of a frame is built once per message per process, by splicing
the room into text that is already encoded, never by decoding it: fan-out stays one encode per
process whatever mix of sockets a room has.

While a joiner sends its history, frames for it are held (per socket *and* room, so one topic's
join does not hold another's traffic) and released after; a chat message at or below its floor
(the highest id its history carried) is skipped, so nothing arrives twice.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterable
from typing import Any, Protocol

from wsapp import jsoncodec
from wsapp.connection import WebSocket
from wsapp.exceptions import InvalidStateError, WebSocketDisconnect
from wsapp.hub.recovery import close_all
from wsapp.limits import payload_size

Frame = dict[str, Any]
_SEND = "websocket.send"


class TopicListener(Protocol):
    """The handler of a multiplexed socket, told when the server ends one of its topics (a room
    closed, a ban, a kick): it sends its own per-topic frame, the socket stays open."""

    async def topic_ended(self, room: str, code: int, reason: str) -> None: ...


def topic_frame(room: str, frame: Frame, *, raw: bool = False) -> Frame:
    """``frame`` as a multiplexed socket gets it from room ``room``.

    A JSON object gets ``"topic"`` as its last key (a key of the broadcast's own by that name
    loses, as a JSON parser keeps the last), other JSON is wrapped as ``{"type": "broadcast",
    "topic", "data"}``, and a raw broadcast (text or bytes sent unchanged to plain sockets) as
    ``{"type": "raw", "topic", "text"}`` or ``{"type": "raw", "topic", "base64"}``: a topic
    socket speaks JSON, so a frame it gets must say which topic it belongs to.
    """
    topic = jsoncodec.dumps(room)
    text = frame.get("text")
    if raw or text is None:
        if text is not None:
            body = f'"text":{jsoncodec.dumps(text)}'
        else:
            body = f'"base64":"{base64.b64encode(frame.get("bytes") or b"").decode("ascii")}"'
        return {"type": _SEND, "text": f'{{"type":"raw","topic":{topic},{body}}}'}
    if text.startswith("{") and text.endswith("}"):
        inner = text[1:-1].strip()
        spliced = f'{{{inner},"topic":{topic}}}' if inner else f'{{"topic":{topic}}}'
        return {"type": _SEND, "text": spliced}
    return {"type": _SEND, "text": f'{{"type":"broadcast","topic":{topic},"data":{text}}}'}


class Delivery:
    """The rooms of one process's sockets, their holds and floors, and the writes to them."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[WebSocket]] = {}
        #: Multiplexed sockets: each of their rooms is a topic, ended through the listener.
        self.listeners: dict[WebSocket, TopicListener] = {}
        self.held: dict[tuple[WebSocket, str], list[Frame]] = {}
        # The highest chat message id a joiner's history carried: a broadcast of an id at or
        # below it was committed before that history was read, so the joiner has it already
        # (its broadcast lagged its commit past the hold: ids commit in order per room).
        self.floors: dict[tuple[WebSocket, str], int] = {}
        # The reverse of rooms: forgetting a socket costs its own memberships only.
        self._rooms_of: dict[WebSocket, set[str]] = {}
        self.delivered = 0

    # -- membership -------------------------------------------------------------------------

    def add(self, room: str, ws: WebSocket, *, hold: bool, listener: TopicListener | None) -> None:
        if hold:
            self.held.setdefault((ws, room), [])
        if listener is not None:
            self.listeners[ws] = listener
        self.rooms.setdefault(room, set()).add(ws)
        self._rooms_of.setdefault(ws, set()).add(room)

    def remove(self, room: str, ws: WebSocket) -> None:
        self.held.pop((ws, room), None)
        self.floors.pop((ws, room), None)
        discard(self.rooms, room, ws)
        discard(self._rooms_of, ws, room)
        if ws not in self._rooms_of:
            self.listeners.pop(ws, None)

    def rooms_of(self, ws: WebSocket) -> set[str]:
        return set(self._rooms_of.get(ws, ()))

    def take_held(self, ws: WebSocket, room: str) -> Frame | None:
        """The oldest frame held back for ``ws`` in ``room``; ``None`` once none is left, which
        also ends the hold (frames that arrive while the caller sends the earlier ones queue
        behind them)."""
        frames = self.held.get((ws, room))
        if not frames:
            self.held.pop((ws, room), None)
            return None
        return frames.pop(0)

    def set_floor(self, ws: WebSocket, room: str, message_id: int) -> None:
        self.floors[(ws, room)] = message_id

    # -- writing ----------------------------------------------------------------------------

    async def send(
        self,
        room: str,
        frame: Frame,
        *,
        raw: bool = False,
        exclude: Iterable[str] = (),
        message_id: int | None = None,
    ) -> None:
        """Write one already-encoded frame to each local member of ``room`` (in its topic form
        to multiplexed ones), minus ``exclude`` and those whose floor already covers it."""
        sockets = self.rooms.get(room)
        if not sockets:
            return
        skip = set(exclude)
        size = payload_size(frame)  # once per message, not per member
        tagged: Frame | None = None
        tagged_size = 0
        # Floors and holds exist only while sockets join: most broadcasts check neither.
        floor_id = message_id if self.floors else None
        floors, holds, listeners = self.floors, self.held, self.listeners
        for ws in list(sockets):
            if skip and ws.id in skip:
                continue
            if floor_id is not None and floor_id <= floors.get((ws, room), -1):
                continue
            out, out_size = frame, size
            if listeners and ws in listeners:
                if tagged is None:
                    tagged = topic_frame(room, frame, raw=raw)
                    tagged_size = payload_size(tagged)
                out, out_size = tagged, tagged_size
            if holds and (held := holds.get((ws, room))) is not None:
                held.append(out)
                continue
            if not self.write_nowait(ws, out, out_size):
                await self.write(ws, out)

    def write_nowait(self, ws: WebSocket, frame: Frame, size: int) -> bool:
        """One frame of ``size`` payload bytes to one socket without awaiting, where the server
        allows it; ``False``: :meth:`write` must await it. A dead socket is skipped, not fatal."""
        try:
            if not ws.send_frame_nowait(frame, size):
                return False
        except (WebSocketDisconnect, InvalidStateError, OSError):
            return True
        self.delivered += 1
        return True

    async def write(self, ws: WebSocket, frame: Frame) -> None:
        """One frame to one socket; a dead one is skipped, not fatal."""
        try:
            await ws.send_frame(frame)
        except (WebSocketDisconnect, InvalidStateError, OSError):
            return
        self.delivered += 1

    async def end(self, room: str, sockets: Iterable[WebSocket], code: int, reason: str) -> None:
        """The server ends ``room`` for ``sockets``: a plain socket is closed with ``code``, a
        multiplexed one leaves the room and its listener says so on the socket."""
        plain = []
        for ws in list(sockets):
            listener = self.listeners.get(ws)
            if listener is None:
                plain.append(ws)
                continue
            self.remove(room, ws)
            with contextlib.suppress(WebSocketDisconnect, InvalidStateError, OSError):
                await listener.topic_ended(room, code, reason)
        await close_all(plain, code, reason)


def discard(index: dict[Any, set[Any]], key: Any, value: Any) -> None:
    """Remove ``value`` from ``index[key]``, and the key with its last value."""
    values = index.get(key)
    if values is not None:
        values.discard(value)
        if not values:
            del index[key]
