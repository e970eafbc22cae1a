"""Four changes to ``manage.py serve``'s per-frame and per-connection costs, as patches.

Each one removes a cost that ``python -m bench.profile`` shows (see BENCHMARKS.md);
``BENCH_FASTPATH`` (comma-separated, default all) picks which apply. ``session`` and ``gc`` went
into wsapp itself on 2026-11-23 (``wsapp.auth.WebSocketSessionMiddleware``, ``gc.freeze()`` in
``WsappServer.run``), so the ``*+fastpath`` targets now set ``BENCH_FASTPATH=log,write``:

``session``
    channels' ``InstanceSessionWrapper.send`` runs on every message of a websocket scope (wsapp's
    ``SessionAuthStack`` is channels' ``SessionMiddleware``): two lazy-object lookups and
    ``session.is_empty()`` per frame, for nothing: it only saves sessions and sets cookies on
    ``http.response.start``. Patched: websocket messages go straight to the real ``send``.
``log``
    autobahn builds its debug lines' arguments eagerly, logging enabled or not: ``pformat`` of
    its whole configuration on every connection, ``hltype``/``hlval`` (``click.style``) on every
    frame written. Patched: those helpers, as ``autobahn.websocket.protocol`` sees them, return
    objects that format themselves only if a debug line is ever rendered.
``write``
    Twisted never writes on ``transport.write``: it buffers and registers the socket for
    writability (``add_writer``: an ``epoll_ctl`` and a ``namedtuple._replace`` in asyncio's
    selector), writes on the next loop turn, and unregisters (another ``epoll_ctl``). Patched:
    when nothing is buffered, ``sendData`` gives the frame to ``socket.send`` at once; only what
    the kernel does not take is left to Twisted.
``gc``
    ``gc.freeze()`` just before the reactor runs: the tens of thousands of objects Django, the
    apps and Twisted made at start-up are no longer traversed by every full collection.
"""

from __future__ import annotations

import os
from typing import Any

ALL = ("session", "log", "write", "gc")


def enabled() -> set[str]:
    chosen = os.environ.get("BENCH_FASTPATH")
    return set(ALL) if not chosen else {c.strip() for c in chosen.split(",") if c.strip()}


def apply() -> None:
    chosen = enabled()
    if "session" in chosen:
        _patch_session()
    if "log" in chosen:
        _patch_log()
    if "write" in chosen:
        _patch_send_data()
    if "gc" in chosen:
        _patch_gc()


def _patch_session() -> None:
    from channels.sessions import InstanceSessionWrapper

    original = InstanceSessionWrapper.send

    async def send(self: Any, message: dict[str, Any]) -> Any:
        if message["type"].startswith("websocket."):
            return await self.real_send(message)
        return await original(self, message)

    InstanceSessionWrapper.send = send


class _Lazy:
    """``fn(*args)``, computed only when formatted."""

    __slots__ = ("fn", "args", "kwargs")

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __str__(self) -> str:
        return str(self.fn(*self.args, **self.kwargs))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    __repr__ = __str__


def _patch_log() -> None:
    import autobahn.websocket.protocol as protocol

    for name in ("pformat", "hltype", "hlval", "hl"):
        fn = getattr(protocol, name, None)
        if fn is not None:
            setattr(protocol, name, lambda *a, _fn=fn, **k: _Lazy(_fn, *a, **k))


def _patch_send_data() -> None:
    from autobahn.websocket.protocol import WebSocketProtocol

    from wsapp.server.protocol import WsappWebSocketProtocol

    OPEN = WebSocketProtocol.STATE_OPEN
    original = WebSocketProtocol.sendData

    def send_data(self: Any, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        if sync or chopsize or self.send_queue or self.logOctets:
            return original(self, data, sync, chopsize)
        _write_now(self.transport, data)
        if self.state == OPEN:
            self.trafficStats.outgoingOctetsWireLevel += len(data)
        else:
            self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)
        return None

    WsappWebSocketProtocol.sendData = send_data


def _patch_gc() -> None:
    import gc

    from wsapp.server.server import WsappServer

    original = WsappServer.run

    def run(self: Any) -> None:
        gc.collect()
        gc.freeze()
        original(self)

    WsappServer.run = run  # type: ignore[method-assign]


def _write_now(transport: Any, data: bytes) -> None:
    """``socket.send`` now if Twisted has nothing buffered; the rest through Twisted."""
    sock = getattr(transport, "socket", None)
    idle = (
        sock is not None
        and not getattr(transport, "TLS", False)
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and transport._tempDataLen == 0
        and len(transport.dataBuffer) == transport.offset
    )
    if idle and sock is not None:
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = 0  # let Twisted's own write find and report the broken socket
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)
