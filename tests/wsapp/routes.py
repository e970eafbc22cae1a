"""A routing table for the routing, consumer and checks tests (``WSAPP["ROUTING"]`` points here)."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from wsapp import Consumer, WebSocket, event
from wsapp.routing import include, path, re_path


async def square(ws: WebSocket, n: int) -> None:
    """The README's quickstart handler: ``<int:n>`` arrives as an int."""
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_json({"n": n, "sq": n * n, "got": text})


async def describe(ws: WebSocket, *args: Any, **params: Any) -> None:
    """Report what the route gave the handler."""
    await ws.accept()
    await ws.send_json(
        {
            "args": list(args),
            "params": {k: [type(v).__name__, str(v)] for k, v in params.items()},
            "route_name": ws.route_name,
            "url_route": {
                "args": list(ws.scope["url_route"]["args"]),
                "kwargs": {k: str(v) for k, v in ws.scope["url_route"]["kwargs"].items()},
                "name": ws.scope["url_route"]["name"],
            },
        }
    )


class ChannelsEcho(AsyncWebsocketConsumer):  # type: ignore[misc]
    """A plain Channels consumer, routed in the same table as wsapp handlers."""

    async def connect(self) -> None:
        await self.accept()
        kwargs = self.scope["url_route"]["kwargs"]
        await self.send(text_data=f"channels:{kwargs.get('word', '')}")

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=f"echo:{text_data}")


class Greeter(Consumer):
    subprotocols = ("greet.v1",)

    @event("greet")
    async def greet(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "greeting", "hello": content.get("name")})


included = [
    path("item/<int:pk>/", describe, name="item"),
    re_path(r"^tag/(?P<tag>[a-z]+)/$", describe, name="tag"),
]

chat = [path("<slug:room>/", describe, name="room")]

urlpatterns = [
    path("ws/square/<int:n>/", square, name="square"),
    path("ws/describe/<slug:room>/", describe, name="describe"),
    path("ws/extra/", describe, name="extra", kwargs={"flavour": "vanilla"}),
    re_path(r"^ws/re/(?P<word>[a-z]+)/$", describe, name="re"),
    re_path(r"^ws/positional/([0-9]+)/$", describe, name="positional"),
    path("ws/channels/<slug:word>/", ChannelsEcho.as_asgi(), name="channels"),
    path("ws/channels-class/", ChannelsEcho, name="channels-class"),
    path("ws/greet/", Greeter, name="greet"),
    path("ws/api/", include(included)),
    path("ws/chat/", include((chat, "chat"))),  # an application namespace, as in urls.py
    path("ws/support/<int:team>/", include((chat, "chat"), namespace="support")),
]
