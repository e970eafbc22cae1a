"""Access rules: one mechanism for ``async def`` handlers, Consumers and Channels consumers."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Permission

from tests import routing_auth
from wsapp import Consumer, RoomConsumer
from wsapp.access import (
    AccessRule,
    access_rule,
    check_access,
    login_required,
    permission_required,
)
from wsapp.asgi import websocket_application
from wsapp.codes import CloseCode
from wsapp.exceptions import NotAuthenticated, WebSocketDisconnect
from wsapp.models import Message, Room
from wsapp.routing import Endpoint, Router, path
from wsapp.testing import AsyncWebSocketClient, HandshakeRejected

pytestmark = pytest.mark.django_db(transaction=True)  # permission checks run in a thread

NOT_AUTHENTICATED = (CloseCode.NOT_AUTHENTICATED, "Authentication required.")
FORBIDDEN = (CloseCode.FORBIDDEN, "Permission denied.")

LOGIN_ROUTES = ["/ws/members/", "/ws/consumer/members/", "/ws/channels/members/"]
STAFF_ROUTES = ["/ws/staff/", "/ws/consumer/staff/"]


@pytest.fixture
def ws_app() -> AsyncWebSocketClient:
    return AsyncWebSocketClient(websocket_application(Router(routing_auth.urlpatterns)))


@pytest.fixture
def staff_user(django_user_model: Any) -> Any:
    bob = django_user_model.objects.create_user("bob", password="bob-password")
    bob.user_permissions.add(Permission.objects.get(codename="view_user"))
    return django_user_model.objects.get(pk=bob.pk)  # no stale permission cache


async def outcome(client: AsyncWebSocketClient, path: str, user: Any = None) -> Any:
    """The first frame of an admitted connection, or the ``(code, reason)`` it was closed with."""
    ws = await client.websocket_connect(path, user=user).connect()
    try:
        return (await ws.receive_json())["user"]
    except Exception:
        return await ws.wait_closed()
    finally:
        await ws.close()


# -- the matrix: rule × handler style × who ------------------------------------------------------


@pytest.mark.parametrize("path", LOGIN_ROUTES + STAFF_ROUTES)
async def test_anonymous_is_refused_with_4401(ws_app, path) -> None:
    assert await outcome(ws_app, path) == NOT_AUTHENTICATED
    assert await outcome(ws_app, path, AnonymousUser()) == NOT_AUTHENTICATED


@pytest.mark.parametrize("path", LOGIN_ROUTES)
async def test_a_logged_in_user_passes_login_required(ws_app, user, path) -> None:
    assert await outcome(ws_app, path, user) == "alice"


@pytest.mark.parametrize("path", STAFF_ROUTES)
async def test_a_user_without_the_permission_is_refused_with_4403(ws_app, user, path) -> None:
    assert await outcome(ws_app, path, user) == FORBIDDEN


@pytest.mark.parametrize("path", STAFF_ROUTES)
async def test_a_user_with_the_permission_passes(ws_app, staff_user, path) -> None:
    assert await outcome(ws_app, path, staff_user) == "bob"


@pytest.mark.parametrize("path", STAFF_ROUTES)
async def test_a_superuser_has_every_permission(ws_app, django_user_model, path) -> None:
    root = await django_user_model.objects.acreate_superuser("root", password="root-password")
    assert await outcome(ws_app, path, root) == "root"


@pytest.mark.parametrize("path", ["/ws/whoami/", "/ws/consumer/whoami/"])
async def test_routes_without_rules_are_open(ws_app, path) -> None:
    assert await outcome(ws_app, path) is None


async def test_a_refused_consumer_never_runs_connect() -> None:
    connected: list[bool] = []

    class Private(Consumer):
        login_required = True

        async def connect(self) -> None:
            connected.append(True)
            await self.ws.accept()

    client = AsyncWebSocketClient(websocket_application(Router([path("p/", Private)])))
    ws = await client.websocket_connect("/p/").connect()
    assert await ws.wait_closed() == NOT_AUTHENTICATED
    assert connected == []


async def test_several_permissions_all_required(ws_app, staff_user) -> None:
    @permission_required("auth.view_user", ["auth.change_user"])
    async def editors(ws: Any) -> None:
        await ws.accept()
        await ws.send_json({"user": ws.user.get_username()})

    client = AsyncWebSocketClient(websocket_application(Router([path("e/", editors)])))
    assert await outcome(client, "/e/", staff_user) == FORBIDDEN
    await staff_user.user_permissions.aadd(await Permission.objects.aget(codename="change_user"))
    staff_user = await type(staff_user).objects.aget(pk=staff_user.pk)
    assert await outcome(client, "/e/", staff_user) == "bob"


# -- declaring rules ----------------------------------------------------------------------------


def test_the_decorators_return_the_handler_itself() -> None:
    async def handler(ws: Any) -> None: ...

    assert login_required(handler) is handler
    assert permission_required("a.b")(handler) is handler
    assert access_rule(handler) == AccessRule(login_required=True, permissions=("a.b",))


def test_the_decorators_work_on_consumer_classes_too() -> None:
    @permission_required(["a.b", "c.d"])
    class C(Consumer):
        pass

    assert access_rule(C) == AccessRule(login_required=True, permissions=("a.b", "c.d"))
    assert access_rule(Consumer) is None


@pytest.mark.parametrize(
    "target, rule",
    [
        pytest.param(routing_auth.whoami, None, id="open-handler"),
        pytest.param(routing_auth.members, AccessRule(True, ()), id="login-handler"),
        pytest.param(routing_auth.staff, AccessRule(True, ("auth.view_user",)), id="perm-handler"),
        pytest.param(routing_auth.MembersConsumer, AccessRule(True, ()), id="login-consumer"),
        pytest.param(
            routing_auth.StaffConsumer, AccessRule(True, ("auth.view_user",)), id="perm-consumer"
        ),
        pytest.param(routing_auth.ChannelsMembers, AccessRule(True, ()), id="login-channels"),
        pytest.param(
            routing_auth.ChannelsMembers.as_asgi(), AccessRule(True, ()), id="login-as-asgi"
        ),
    ],
)
def test_an_endpoint_reads_the_rule_once(target, rule) -> None:
    assert Endpoint(target).access == rule


@pytest.mark.parametrize("bad", ["view_user", "", "a b.c", ".x"])
def test_a_permission_must_be_app_label_dot_codename(bad) -> None:
    with pytest.raises(ValueError, match="is not a permission; use 'app_label.codename'"):
        permission_required(bad)


def test_permission_required_needs_a_permission() -> None:
    with pytest.raises(ValueError, match="needs at least one"):
        permission_required()


def test_a_consumer_with_a_bad_permission_fails_when_routed() -> None:
    class Bad(Consumer):
        permission_required = "view_user"

    with pytest.raises(ValueError, match="'view_user' is not a permission"):
        path("bad/", Bad)


def test_login_required_must_be_a_bool() -> None:
    class Bad(Consumer):
        login_required = "yes"  # type: ignore[assignment]

    with pytest.raises(ValueError, match="login_required must be True or False, not 'yes'"):
        access_rule(Bad)


# -- check_access -------------------------------------------------------------------------------


async def test_an_auth_error_is_4401_with_its_reason_even_without_a_rule() -> None:
    with pytest.raises(NotAuthenticated) as excinfo:
        await check_access({"auth_error": "Token expired.", "user": AnonymousUser()}, None)
    assert (excinfo.value.code, excinfo.value.reason) == (
        CloseCode.NOT_AUTHENTICATED,
        "Token expired.",
    )


async def test_a_rule_without_a_user_in_scope_names_the_fix() -> None:
    with pytest.raises(RuntimeError, match="wrap it in wsapp.auth.SessionAuthStack"):
        await check_access({}, AccessRule(True, ()))


async def test_a_rule_without_auth_middleware_refuses_the_handshake_and_logs_why(caplog) -> None:
    client = AsyncWebSocketClient(Router(routing_auth.urlpatterns))  # no auth stack at all
    with pytest.raises(HandshakeRejected) as excinfo:
        await client.websocket_connect("/ws/members/").connect()
    assert (excinfo.value.code, excinfo.value.reason) == (
        CloseCode.INTERNAL_ERROR,
        "Internal error.",
    )
    assert "wrap it in wsapp.auth.SessionAuthStack" in caplog.text


# -- anonymous readers of rooms: the consumer and the room must both allow them -----------------


class OpenRoomConsumer(RoomConsumer):
    anonymous_readers = True


@pytest.fixture
def rooms_app(hub_teardown: None) -> AsyncWebSocketClient:
    """The two room routes; the hub their sockets start stops when the test ends."""
    return AsyncWebSocketClient(
        websocket_application(
            Router(
                [
                    path("ws/open/<slug:room>/", OpenRoomConsumer),
                    path("ws/default/<slug:room>/", RoomConsumer),
                ]
            )
        )
    )


async def room_outcome(client: AsyncWebSocketClient, url: str, user: Any = None) -> Any:
    """The ``history`` frame of an admitted connection, or the ``(code, reason)`` it got."""
    ws = await client.websocket_connect(url, user=user).connect()
    try:
        return await ws.receive_json()
    except WebSocketDisconnect as exc:
        return exc.code, exc.reason
    finally:
        await ws.close()


@pytest.mark.parametrize(
    ("url", "room_allows"),
    [("/ws/default/lobby/", True), ("/ws/open/lobby/", False), ("/ws/default/nowhere/", False)],
    ids=["consumer-says-no", "room-says-no", "no-room-no-query"],
)
async def test_an_anonymous_reader_needs_both_the_consumer_and_the_room(
    rooms_app, url, room_allows, caplog
) -> None:
    await Room.objects.acreate(slug="lobby", title="Lobby", allow_anonymous=room_allows)
    slug = url.split("/")[-2]
    assert await room_outcome(rooms_app, url) == (
        CloseCode.NOT_AUTHENTICATED,
        f"Log in to read {slug!r}.",
    )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_an_anonymous_reader_of_an_open_room_reads_but_cannot_post(rooms_app, user) -> None:
    await Room.objects.acreate(slug="lobby", title="Lobby", allow_anonymous=True)
    reader = await rooms_app.websocket_connect("/ws/open/lobby/").connect()
    assert await reader.receive_json() == {"type": "history", "messages": [], "truncated": False}
    assert await reader.receive_json() == {"type": "presence.state", "users": []}
    await reader.send_json({"type": "chat.message", "body": "hi", "client_id": "c1"})
    error = await reader.receive_json()
    assert (error["code"], error["message"]) == ("forbidden", "You may not post in this room.")
    writer = await rooms_app.websocket_connect("/ws/open/lobby/", user=user).connect()
    await writer.receive_json(), await writer.receive_json()  # history, presence.state
    assert await reader.receive_json() == {
        "type": "presence.diff",
        "joins": ["alice"],
        "leaves": [],
    }
    await writer.send_json({"type": "chat.message", "body": "hello", "client_id": "c2"})
    assert (await reader.receive_json())["body"] == "hello"
    await writer.close()
    await reader.close()


async def test_an_anonymous_replay_is_capped_at_history_length(rooms_app, user, settings) -> None:
    settings.WSAPP = {**settings.WSAPP, "HISTORY_LENGTH": 3, "HISTORY_MAX_REPLAY": 500}
    room = await Room.objects.acreate(slug="lobby", title="Lobby", allow_anonymous=True)
    ids = [(await Message.objects.acreate(room=room, body=f"m{i}")).id for i in range(5)]
    anonymous = await room_outcome(rooms_app, "/ws/open/lobby/?since=0")
    assert ([m["id"] for m in anonymous["messages"]], anonymous["truncated"]) == (ids[:3], True)
    member = await room_outcome(rooms_app, "/ws/open/lobby/?since=0", user=user)
    assert ([m["id"] for m in member["messages"]], member["truncated"]) == (ids, False)


def test_the_rooms_anonymous_flag_is_off_by_default_and_editable_in_the_admin(
    admin_client,
) -> None:
    assert Room._meta.get_field("allow_anonymous").default is False
    response = admin_client.get("/admin/wsapp/room/add/")
    assert response.status_code == 200
    assert b'name="allow_anonymous"' in response.content
