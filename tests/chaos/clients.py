"""Chat clients that use the resume protocol the way ``wsapp.js`` does, for the chaos tests.

Each client keeps an outbox of messages not yet acknowledged and re-sends them with the same
``client_id`` after every reconnect; it reconnects after the codes ``wsapp.codes`` says to (or a
refused connection), to the next server when its own is gone, with ``?since=<highest id seen>``.
It records every ``chat.message`` it receives, so the test can check what reached whom.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.e2e.servers import ServerProcess
from tests.support.timing import scaled
from wsapp.codes import should_reconnect

BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.8)


@dataclass
class ChatClient:
    """One user in one room, bound to ``servers[0]`` first and failing over in order."""

    name: str
    cookie: str
    servers: list[ServerProcess]
    room: str = "lobby"
    seen: set[int] = field(default_factory=set)
    received: Counter[int] = field(default_factory=Counter)  # others' messages, by id
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> id
    outbox: dict[str, str] = field(default_factory=dict)  # client_id -> body, unacked
    last_id: int | None = None
    closes: list[int] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    connects: int = 0
    failure: AssertionError | None = None
    ws: ClientConnection | None = None
    live: asyncio.Event = field(default_factory=asyncio.Event)  # history received
    _server: int = 0
    _stopped: bool = False
    _resuming: bool = False
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def server(self) -> ServerProcess:
        return self.servers[self._server % len(self.servers)]

    def url(self) -> str:
        query = f"?since={self.last_id}" if self.last_id is not None else ""
        return self.server.url(f"/ws/chat/{self.room}/{query}")

    async def run(self) -> None:
        """Stay connected until :meth:`stop`, reconnecting with backoff."""
        attempt = 0
        while not self._stopped:
            try:
                await self._session()
                attempt = 0
            except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
                self._server += 1  # nobody listens there: try the next server
            except AssertionError as exc:  # a close a client must not reconnect after
                self.failure = exc
                return
            if self._stopped:
                return
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            attempt += 1

    async def _session(self) -> None:
        async with connect(
            self.url(),
            additional_headers={"Cookie": self.cookie},
            subprotocols=["wsapp.v1"],  # type: ignore[list-item]
            open_timeout=scaled(5),
        ) as ws:
            self.ws = ws
            self.connects += 1
            try:
                for client_id, body in list(self.outbox.items()):
                    await ws.send(self._frame(client_id, body))
                async for raw in ws:
                    self._receive(json.loads(raw))
            except ConnectionClosed:
                pass
            finally:
                self.live.clear()
                self.ws = None
        code = ws.close_code
        self.closes.append(-1 if code is None else code)
        if self._resuming:  # we closed it, to resume
            self._resuming = False
            return
        if code is not None and not should_reconnect(code) and not self._stopped:
            raise AssertionError(f"{self.name} closed with {code} {ws.close_reason!r}")

    def _frame(self, client_id: str, body: str) -> str:
        return json.dumps({"type": "chat.message", "body": body, "client_id": client_id})

    def _receive(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "history":  # the first frame of a session: from now on it is live
            for message in frame["messages"]:
                self._message(message)
            self.live.set()
        elif kind == "chat.message":
            self._message(frame)
        elif kind == "chat.ack":
            self.outbox.pop(frame["client_id"], None)
            previous = self.acked.setdefault(frame["client_id"], frame["id"])
            assert previous == frame["id"], f"{frame['client_id']} acked as {previous} and {frame}"
            self.seen.add(frame["id"])
        elif kind == "error":
            self.errors.append(frame)

    def _message(self, message: dict[str, Any]) -> None:
        if message["user"] != self.name:
            self.received[message["id"]] += 1
        self.seen.add(message["id"])
        if message["user"] != self.name and (self.last_id is None or message["id"] > self.last_id):
            self.last_id = message["id"]

    async def say(self, body: str) -> str:
        """Queue a message; sent now if connected, else after the next reconnect."""
        client_id = f"{self.name}-{uuid.uuid4().hex[:8]}-{next(self._ids)}"
        self.outbox[client_id] = body
        ws = self.ws
        if ws is not None:
            try:
                await ws.send(self._frame(client_id, body))
            except ConnectionClosed:
                pass  # re-sent after the reconnect
        return client_id

    async def reconnect(self) -> None:
        """Close and let :meth:`run` resume with ``?since=`` (the test's final resume)."""
        ws = self.ws
        if ws is not None:
            self._resuming = True
            await ws.close()

    def stop(self) -> None:
        self._stopped = True
        ws = self.ws
        if ws is not None:
            ws.transport.abort()


async def traffic(clients: list[ChatClient], stop: asyncio.Event, interval: float = 0.2) -> int:
    """Every client says something every ``interval`` seconds until ``stop``; returns how many."""
    sent = 0
    n = 0
    while not stop.is_set():
        for client in clients:
            await client.say(f"{client.name} #{n}")
            sent += 1
        n += 1
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass
    return sent
