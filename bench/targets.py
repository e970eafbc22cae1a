"""The table of servers under test: adding a server is adding one `Target`.

``cmd`` is run from the repository root under ``taskset``; ``{port}`` and ``{python}`` are filled
in. ``path`` is the endpoint (``{room}`` for fan-out). ``kind`` picks the scenarios:
``echo`` (echo, connection rate, idle memory), ``json`` (JSON echo) or ``fanout`` (room fan-out,
flooded and paced). ``layer`` groups fan-out targets that are compared with each other, and the
target marked ``anchor`` in each kind (and layer) is what every ratio is against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DAPHNE = ("{python}", "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "-v", "0")
UVICORN = (
    "{python}", "-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}",
    "--log-level", "warning", "--no-access-log", "--lifespan", "off",
)  # fmt: skip
SERVE = ("{python}", "manage.py", "serve", "--host", "127.0.0.1", "--port", "{port}", "-v", "0")
WEBSOCKETS = ("{python}", "-m", "bench.servers.websockets_server", "--port", "{port}")
UVLOOP_FLOOR = ("{python}", "-m", "bench.servers.uvloop_floor", "--port", "{port}")
PICOWS = ("{python}", "-m", "bench.servers.picows_server", "--port", "{port}")

CHANNELS_APP = "bench.servers.channels_app:application"
CHANNELS_ENV = {"DJANGO_SETTINGS_MODULE": "bench.servers.channels_settings"}
# The demo project, in production mode (no DEBUG bookkeeping on the hot path), without its
# per-connection rate limits (bench/servers/wsapp_settings.py).
WSAPP_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.servers.wsapp_settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-only-not-secret",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "WSAPP_LOG_LEVEL": "WARNING",
}
# What the publisher sends to every room endpoint: its payload object as the frame's text, which
# every room relays as {"type": "message", "body": "<the text as sent>"}.
PLAIN_PUBLISH = "%s"


@dataclass(frozen=True)
class Target:
    """One server process (or ``procs`` of them) and the endpoint measured on it."""

    name: str
    cmd: tuple[str, ...]
    path: str
    kind: str  # "echo" | "json" | "fanout"
    env: Mapping[str, str] = field(default_factory=dict)
    anchor: bool = False
    procs: int = 1
    layer: str = "memory"  # fan-out: "memory" (one process) or "redis"
    publish: str = PLAIN_PUBLISH
    note: str = ""
    # A what-if prototype (bench/experiments/): run only when --only names it.
    experiment: bool = False

    @property
    def group(self) -> str:
        """Targets in one group are compared with that group's anchor."""
        return f"fanout/{self.layer}" if self.kind == "fanout" else self.kind


TARGETS: tuple[Target, ...] = (
    # echo: N connections × M messages, each awaiting its echo
    Target("channels@daphne", (*DAPHNE, CHANNELS_APP), "/ws/echo/", "echo", CHANNELS_ENV,
           anchor=True, note="AsyncWebsocketConsumer"),
    Target("bare-asgi@daphne", (*DAPHNE, "bench.servers.bare_asgi:app"), "/ws/echo/", "echo",
           note="the server's own ceiling"),
    Target("wsapp@serve", SERVE, "/ws/echo/", "echo", WSAPP_ENV, note="async def handler"),
    Target("wsapp@daphne", (*DAPHNE, "config.asgi:application"), "/ws/echo/", "echo", WSAPP_ENV,
           note="async def handler"),
    Target("channels@uvicorn", (*UVICORN, CHANNELS_APP), "/ws/echo/", "echo", CHANNELS_ENV),
    Target("wsapp@uvicorn", (*UVICORN, "config.asgi:application"), "/ws/echo/", "echo",
           WSAPP_ENV),
    Target("starlette@uvicorn", (*UVICORN, "bench.servers.starlette_app:app"), "/ws/echo/",
           "echo"),
    Target("websockets", WEBSOCKETS, "/ws/echo/", "echo", note="pure-Python ceiling"),
    Target("uvloop-floor", UVLOOP_FLOOR, "/ws/echo/", "echo",
           note="raw asyncio.Protocol on uvloop: the Python floor"),
    Target("picows", PICOWS, "/ws/echo/", "echo", note="C frame path on uvloop"),
    # JSON echo: {"type": "echo", "data": ...} decoded, dispatched, encoded
    Target("channels-json@daphne", (*DAPHNE, CHANNELS_APP), "/ws/json-echo/", "json",
           CHANNELS_ENV, anchor=True, note="AsyncJsonWebsocketConsumer"),
    Target("wsapp-consumer@serve", SERVE, "/ws/json-echo/", "json", WSAPP_ENV),
    Target("wsapp-consumer@daphne", (*DAPHNE, "config.asgi:application"), "/ws/json-echo/",
           "json", WSAPP_ENV),
    # fan-out: one publisher, a room of members
    Target("channels-group@daphne", (*DAPHNE, CHANNELS_APP), "/ws/room/{room}/", "fanout",
           CHANNELS_ENV, anchor=True, note="group_send, in-memory layer"),
    Target("starlette-loop@uvicorn", (*UVICORN, "bench.servers.starlette_app:app"),
           "/ws/room/{room}/", "fanout", note="loop over sockets, no layer"),
    Target("websockets-broadcast", WEBSOCKETS, "/ws/room/{room}/", "fanout",
           note="broadcast(), no layer"),
    Target("uvloop-floor-room", UVLOOP_FLOOR, "/ws/room/{room}/", "fanout",
           note="one frame, one transport.write per member"),
    Target("picows-room", PICOWS, "/ws/room/{room}/", "fanout",
           note="one encode, WSTransport.send per member"),
    Target("channels-group@daphne×2", (*DAPHNE, CHANNELS_APP), "/ws/room/{room}/", "fanout",
           CHANNELS_ENV, anchor=True, procs=2, layer="redis", note="group_send, channels_redis"),
    # wsapp rooms: the demo's /ws/broadcast/<room>/ (an async def handler, rooms.joined and
    # rooms.abroadcast): one group_send per broadcast, one encode, one hub per process
    Target("wsapp-rooms@serve", SERVE, "/ws/broadcast/{room}/", "fanout", WSAPP_ENV,
           note="hub, in-memory layer"),
    Target("wsapp-rooms@serve×2", SERVE, "/ws/broadcast/{room}/", "fanout", WSAPP_ENV,
           procs=2, layer="redis", note="hub, wsapp.redis_layer.RedisChannelLayer"),
)  # fmt: skip
