"""Inside the server that ``python -m bench.memory`` profiles: tracemalloc and a dump on SIGUSR1.

:mod:`bench.experiments.tracemalloc_settings` calls :func:`install` when ``BENCH_MEMORY_DUMP``
names a directory. The first SIGUSR1 starts tracemalloc (``BENCH_TRACEMALLOC_FRAMES`` frames, 25
by default): tracing the whole start-up on one shared core takes minutes, and only what is
allocated after the first snapshot is compared. Each SIGUSR1 then writes, after a full
collection, ``snapshot-K.pickle`` (tracemalloc's), then
``objects-K.json`` (what one open connection is made of, see :func:`sample_connection`), then
``done-K`` for the driver to wait on. Not wsapp's code: a measuring probe, off by default.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import signal
import sys
import tracemalloc
import types
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_count = itertools.count()


def install() -> None:
    """Start tracing and dump on SIGUSR1, if ``BENCH_MEMORY_DUMP`` is set."""
    where = os.environ.get("BENCH_MEMORY_DUMP")
    if not where:
        return
    signal.signal(signal.SIGUSR1, lambda signum, frame: dump(Path(where)))


def dump(where: Path) -> None:
    """One snapshot and one connection's inventory, then the ``done-K`` marker."""
    k = next(_count)
    gc.collect()
    if not tracemalloc.is_tracing():
        tracemalloc.start(_frames())
    tracemalloc.take_snapshot().dump(str(where / f"snapshot-{k}.pickle"))
    tracemalloc.stop()  # the inventory's own allocations are not the server's
    try:
        inventory = sample_connection()
    except Exception as exc:  # a probe's bug must not hang the driver
        inventory = {"error": repr(exc)}
    finally:
        tracemalloc.start(_frames())
    (where / f"objects-{k}.json").write_text(json.dumps(inventory, indent=1))
    (where / f"done-{k}").touch()


def _frames() -> int:
    return int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "25"))


# -- one connection's objects -----------------------------------------------------------------

_NEVER = (type, types.ModuleType, types.CodeType, types.BuiltinFunctionType, types.FrameType)


def _open_protocols() -> list[Any]:
    from wsapp.server.protocol import WsappWebSocketProtocol

    found = [o for o in gc.get_objects() if isinstance(o, WsappWebSocketProtocol)]
    return [p for p in found if p.state == p.STATE_OPEN and hasattr(p, "application_queue")]


def _sockets() -> list[Any]:
    from wsapp.lifecycle import registry

    return list(registry._open)


def _roots(protocol: Any, ws: Any) -> list[tuple[str, list[Any]]]:
    """The named parts of one connection, most specific first. An object is charged to the
    first part that reaches it without passing through another part."""
    entry = protocol.server.connections.get(protocol, {})
    transport = getattr(protocol, "transport", None)

    def attrs(obj: Any, *names: str) -> list[Any]:
        return [getattr(obj, n) for n in names if getattr(obj, n, None) is not None]

    parts: list[tuple[str, list[Any]]] = [
        ("wsapp ConnectionLimits", attrs(ws, "limits")),
        ("wsapp ReadAhead", attrs(ws, "_ahead")),
        ("wsapp ws.state, _pings, path_params, hooks",
         attrs(ws, "state", "_pings", "path_params", "shutdown_hooks")),
        ("scope (the copy the handler sees)", attrs(ws, "scope")),
        ("wsapp WebSocket (+ its __dict__)", [ws]),
        ("daphne application_queue", attrs(protocol, "application_queue")),
        ("application task + coroutine chain (middleware frames, their scope copies)",
         [entry.get("application_instance")]),
        ("daphne server.connections entry", [entry]),
        ("twisted HTTPChannel + daphne WebRequest (the transport's producer)",
         attrs(transport, "producer")),
        ("twisted transport (tcp.Server) + socket", [transport]),
        ("wsapp budgets/ping deques",
         attrs(protocol, "budgets", "app_pings", "queued_sizes", "pause_reasons")),
        ("autobahn request/http headers",
         attrs(protocol, "http_headers", "http_request_data", "request", "data")),
        ("autobahn traffic stats", attrs(protocol, "trafficStats")),
        ("autobahn/daphne protocol (+ its __dict__)", [protocol]),
    ]  # fmt: skip
    return [(name, [r for r in roots if r is not None]) for name, roots in parts]


def _stops(protocol: Any, others: Iterable[Any]) -> set[int]:
    """Objects a connection points at without owning: the shared world."""
    import asyncio

    from wsapp.lifecycle import registry

    shared: list[Any] = [
        protocol.server,
        protocol.factory,
        protocol.server.connections,
        registry,
        asyncio.get_event_loop_policy().get_event_loop(),
        *others,
    ]
    stops = {id(o) for o in shared}
    stops |= {id(vars(m)) for m in list(sys.modules.values()) if m is not None}
    return stops


def _referents(obj: Any) -> list[Any]:
    if isinstance(obj, types.FunctionType):
        return [c.cell_contents for c in obj.__closure__ or () if _filled(c)]
    return gc.get_referents(obj)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _closure(roots: Iterable[Any], stops: set[int]) -> dict[int, Any]:
    seen: dict[int, Any] = {}
    todo = list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in seen or id(obj) in stops or isinstance(obj, _NEVER):
            continue
        if isinstance(obj, types.FunctionType) and not obj.__closure__:
            continue  # a module's function, not this connection's
        seen[id(obj)] = obj
        todo.extend(_referents(obj))
    return seen


def sample_connection() -> dict[str, Any]:
    """What one idle connection owns, by part and by type, as ``sys.getsizeof`` counts it.

    Owned means reachable from this connection (through its parts, not through the server, the
    loop, modules or classes) and not from a second connection: what is shared is subtracted.
    """
    protocols, sockets = _open_protocols(), _sockets()
    if len(protocols) < 2 or len(sockets) < 2:
        return {"connections": len(protocols)}
    by_protocol = _match(protocols, sockets)
    (a, ws_a), (b, ws_b) = list(by_protocol.items())[:2]
    roots_a, roots_b = _roots(a, ws_a), _roots(b, ws_b)
    others_a = [o for o in (*protocols, *sockets) if o is not a and o is not ws_a]
    others_b = [o for o in (*protocols, *sockets) if o is not b and o is not ws_b]
    mine = _closure([r for _, rs in roots_a for r in rs], _stops(a, others_a))
    theirs = _closure([r for _, rs in roots_b for r in rs], _stops(b, others_b))
    owned = {i: o for i, o in mine.items() if i not in theirs}
    parts, types_ = [], Counter[str]()
    counts = Counter[str]()
    charged: set[int] = set()
    every_root = {id(r) for _, rs in roots_a for r in rs}
    for name, roots in roots_a:
        fences = set(theirs) | charged | (every_root - {id(r) for r in roots})
        objs = [o for i, o in _closure(roots, fences).items() if i in owned]
        charged |= {id(o) for o in objs}
        size = sum(sys.getsizeof(o) for o in objs)
        kinds = Counter(type(o).__qualname__ for o in objs)
        parts.append({"part": name, "objects": len(objs), "bytes": size,
                      "types": dict(kinds.most_common(8))})  # fmt: skip
    rest = [o for i, o in owned.items() if i not in charged]
    parts.append(
        {
            "part": "(reached only through the parts' shared neighbours)",
            "objects": len(rest),
            "bytes": sum(sys.getsizeof(o) for o in rest),
            "types": dict(Counter(type(o).__qualname__ for o in rest).most_common(8)),
        }
    )
    for o in owned.values():
        types_[type(o).__module__ + "." + type(o).__qualname__] += sys.getsizeof(o)
        counts[type(o).__module__ + "." + type(o).__qualname__] += 1
    return {
        "connections": len(protocols),
        "dicts": {
            "protocol": _dict_size(a),
            "transport": _dict_size(a.transport),
            "websocket": _dict_size(ws_a),
            "scope": [len(ws_a.scope), sys.getsizeof(ws_a.scope)],
        },
        "protocol_keys": sorted(vars(a)),
        "owned_objects": len(owned),
        "owned_bytes": sum(sys.getsizeof(o) for o in owned.values()),
        "parts": parts,
        "types": [{"type": t, "bytes": n, "count": counts[t]} for t, n in types_.most_common(40)],
    }


def _dict_size(obj: Any) -> list[int]:
    """``[keys, bytes]`` of an instance's ``__dict__`` (``[0, 0]`` without one)."""
    attrs = getattr(obj, "__dict__", None)
    return [len(attrs), sys.getsizeof(attrs)] if attrs is not None else [0, 0]


def _match(protocols: list[Any], sockets: list[Any]) -> dict[Any, Any]:
    """Each protocol with its wsapp ``WebSocket``, by the client's port in the scope."""
    by_port = {p.transport.getPeer().port: p for p in protocols}
    found: dict[Any, Any] = {}
    for ws in sockets:
        client = ws.scope.get("client") or (None, None)
        if client[1] in by_port:
            found[by_port[client[1]]] = ws
    return found
