"""One signed-in chat member (``/ws/chat/<room>/``, ``wsapp.v1``) that records what it sees, when.

A reader task applies every frame as it arrives: the ``history`` (ids), ``presence.state`` and
``presence.diff`` (the online set, and when it last changed), ``chat.message`` (each id and when
it came), ``chat.ack`` (by ``client_id``). The scenario waits on these and reads the times back,
so a measurement is the arrival time, not when a poll happened to look.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

POLL = 0.01


@dataclass
class Member:
    """A user's one socket, and everything it has received (kept across a reconnect)."""

    user: str
    cookie: str
    process: int  # index of the serve process it is on now
    ws: ClientConnection | None = None
    online: set[str] = field(default_factory=set)
    presence_at: float = 0.0
    joined_at: float = 0.0  # when its presence.state arrived
    history: list[int] = field(default_factory=list)  # ids of the last history frame
    live: list[int] = field(default_factory=list)  # ids of chat.message frames, in order
    seen_at: dict[int, float] = field(default_factory=dict)
    acks: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def last_id(self) -> int:
        """The highest message id this member has (live, from history or acked): ``since``."""
        return max([0, *self.live, *self.history, *self.acks.values()])

    async def join(self, url: str, timeout: float) -> None:
        """Connect to ``url`` and return once ``history`` and ``presence.state`` have come.

        Raises:
            ConnectionError: the server closed the socket first (e.g. 4401: not signed in).
            TimeoutError: neither within ``timeout`` s.
        """
        self.joined_at = 0.0
        self.ws = await connect(
            url,
            additional_headers={"Cookie": self.cookie},
            subprotocols=[Subprotocol("wsapp.v1")],
            compression=None,
            open_timeout=timeout,
            close_timeout=2,
            max_size=None,
        )
        reader = self.reader = asyncio.create_task(self._read(self.ws))
        await wait_for(lambda: self.joined_at > 0 or reader.done(), timeout, f"{self.user} join")
        if not self.joined_at:
            raise ConnectionError(f"{self.user}: closed {self.ws.close_code} before presence.state")

    async def send(self, body: str, client_id: str) -> None:
        assert self.ws is not None
        await self.ws.send(
            json.dumps({"type": "chat.message", "body": body, "client_id": client_id})
        )

    @property
    def connected(self) -> bool:
        return self.reader is not None and not self.reader.done()

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 2)
            except (TimeoutError, OSError):
                pass
            self.ws.transport.abort()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self._apply(json.loads(raw), time.monotonic())
        except ConnectionClosed:
            pass

    def _apply(self, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind == "history":
            self.history = [m["id"] for m in frame["messages"]]
        elif kind == "presence.state":
            self.online = set(frame["users"])
            self.presence_at = self.joined_at = now
        elif kind == "presence.diff":
            self.online |= set(frame["joins"])
            self.online -= set(frame["leaves"])
            self.presence_at = now
        elif kind == "chat.message":
            self.live.append(frame["id"])
            self.seen_at.setdefault(frame["id"], now)
        elif kind == "chat.ack":
            self.acks[frame["client_id"]] = frame["id"]
        elif kind == "error":
            self.errors.append(frame)


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` until true; return when it was first seen true.

    Raises:
        TimeoutError: still false after ``timeout`` s; the message says ``what`` was awaited.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.1f} s")
        await asyncio.sleep(POLL)
    return time.monotonic()
