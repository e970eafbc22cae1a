"""Routes for the auth, access and rate-limit tests: each rule on each handler style.

Used in-process (``Router(urlpatterns)``) and by the e2e server (``tests.settings_auth``).
"""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from wsapp import Consumer, WebSocket, event
from wsapp.access import login_required, permission_required
from wsapp.routing import path

PERM = "auth.view_user"


def identity(ws: WebSocket) -> dict[str, Any]:
    """What the server knows of the connection, for the tests to assert on."""
    user = ws.user
    return {
        "type": "whoami",
        "user": user.get_username() if user.is_authenticated else None,
        "auth_method": ws.scope.get("auth_method"),
        "subprotocol": ws.subprotocol,
        "requested": ws.requested_subprotocols,
        "protocol_header": ws.headers.get("sec-websocket-protocol"),
        # A credential that is not a wsapp token reaches the handler as the client sent it.
        "authorization": ws.headers.get("authorization"),
        "query_token": ws.query_params.get("token"),
    }


async def whoami(ws: WebSocket) -> None:
    """Open to all: say who the connection is, then echo every frame."""
    await ws.accept()
    await ws.send_json(identity(ws))
    async for message in ws:
        await ws.send(message)


@login_required
async def members(ws: WebSocket) -> None:
    await whoami(ws)


@permission_required(PERM)
async def staff(ws: WebSocket) -> None:
    await whoami(ws)


class Whoami(Consumer):
    """The class-based twin: identity on connect, ``{"type": "echo"}`` echoed."""

    async def connect(self) -> None:
        await self.ws.accept()
        await self.send_json(identity(self.ws))

    @event("echo")
    async def echo(self, content: dict[str, Any]) -> None:
        await self.send_json(content)


class MembersConsumer(Whoami):
    login_required = True


class StaffConsumer(Whoami):
    permission_required = PERM


class ChannelsMembers(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """A plain Channels consumer: the same rules apply to it."""

    login_required = True

    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"type": "whoami", "user": self.scope["user"].get_username()})


urlpatterns = [
    path("ws/whoami/", whoami, name="whoami"),
    path("ws/whoami/v1/", whoami, name="whoami-v1", subprotocols=["wsapp.v1"]),
    path("ws/members/", members, name="members"),
    path("ws/staff/", staff, name="staff"),
    path("ws/consumer/whoami/", Whoami, name="consumer-whoami"),
    path("ws/consumer/members/", MembersConsumer, name="consumer-members"),
    path("ws/consumer/staff/", StaffConsumer, name="consumer-staff"),
    path("ws/channels/members/", ChannelsMembers, name="channels-members"),
]
