"""``wsapp.routing``: path/re_path/include on Django's resolver, typed params, names, reverse()."""

from __future__ import annotations

import logging
import sys
import types
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.urls import NoReverseMatch

from tests.support.timing import scaled
from tests.wsapp import routes
from tests.wsapp.helpers import FakeServer, websocket_scope
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket
from wsapp.routing import Router, load_urlpatterns, path, re_path, reverse
from wsapp.testing import AsyncWebSocketClient, HandshakeRejected

ROUTES = {"ROUTING": "tests.wsapp.routes"}


@pytest.fixture
def client() -> AsyncWebSocketClient:
    return AsyncWebSocketClient(Router(routes.urlpatterns), timeout=scaled(2))


# -- resolving ---------------------------------------------------------------------------------


async def test_the_quickstart_handler_gets_an_int(client: AsyncWebSocketClient) -> None:
    async with client.websocket_connect("/ws/square/7/") as ws:
        await ws.send_text("hi")
        assert await ws.receive_json() == {"n": 7, "sq": 49, "got": "hi"}


async def test_path_params_are_converted_and_the_route_is_in_the_scope(
    client: AsyncWebSocketClient,
) -> None:
    async with client.websocket_connect("/ws/describe/lobby-1/") as ws:
        assert await ws.receive_json() == {
            "args": [],
            "params": {"room": ["str", "lobby-1"]},
            "route_name": "describe",
            "url_route": {"args": [], "kwargs": {"room": "lobby-1"}, "name": "describe"},
        }


async def test_a_converter_that_does_not_match_is_no_route(client: AsyncWebSocketClient) -> None:
    with pytest.raises(HandshakeRejected):
        await client.websocket_connect("/ws/square/seven/").connect()


async def test_re_path_named_groups_become_keyword_params(client: AsyncWebSocketClient) -> None:
    async with client.websocket_connect("/ws/re/hello/") as ws:
        message = await ws.receive_json()
    assert message["params"] == {"word": ["str", "hello"]}
    assert message["route_name"] == "re"


async def test_re_path_unnamed_groups_become_positional_args(
    client: AsyncWebSocketClient,
) -> None:
    async with client.websocket_connect("/ws/positional/42/") as ws:
        message = await ws.receive_json()
    assert (message["args"], message["params"]) == (["42"], {})


async def test_route_kwargs_are_passed_to_the_handler(client: AsyncWebSocketClient) -> None:
    async with client.websocket_connect("/ws/extra/") as ws:
        message = await ws.receive_json()
    assert message["params"] == {"flavour": ["str", "vanilla"]}


async def test_include_prefixes_its_routes(client: AsyncWebSocketClient) -> None:
    async with client.websocket_connect("/ws/api/item/5/") as ws:
        message = await ws.receive_json()
    assert (message["params"], message["route_name"]) == ({"pk": ["int", "5"]}, "item")


async def test_include_of_a_module_path() -> None:
    module = types.ModuleType("tests.wsapp._included_routes")
    module.urlpatterns = [path("inner/<int:n>/", routes.describe, name="inner")]  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        from wsapp.routing import include

        app = Router([path("outer/", include(module.__name__))])
        async with AsyncWebSocketClient(app).websocket_connect("/outer/inner/3/") as ws:
            message = await ws.receive_json()
    finally:
        del sys.modules[module.__name__]
    assert message["params"] == {"n": ["int", "3"]}


async def test_a_route_may_name_its_subprotocols() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()

    app = Router([path("ws/", handler, subprotocols=["wsapp.v1"])])
    session = AsyncWebSocketClient(app).websocket_connect("/ws/", subprotocols=["x", "wsapp.v1"])
    async with session as ws:
        assert ws.subprotocol == "wsapp.v1"


async def test_a_consumer_route_negotiates_from_the_class_subprotocols(
    client: AsyncWebSocketClient,
) -> None:
    async with client.websocket_connect("/ws/greet/", subprotocols=["greet.v1"]) as ws:
        assert ws.subprotocol == "greet.v1"
        await ws.send_json({"type": "greet", "name": "ann"})
        assert await ws.receive_json() == {"type": "greeting", "hello": "ann"}


async def test_a_route_subprotocols_override_the_consumer_class() -> None:
    app = Router([path("ws/", routes.Greeter, subprotocols=["route.v1"])])
    session = AsyncWebSocketClient(app).websocket_connect(
        "/ws/", subprotocols=["greet.v1", "route.v1"]
    )
    async with session as ws:
        assert ws.subprotocol == "route.v1"


# -- Channels consumers in the same table --------------------------------------------------------
# Channels closes stale database connections around every event: that touches the database.


@pytest.mark.django_db(transaction=True)
async def test_a_channels_consumer_as_asgi_is_routed(client: AsyncWebSocketClient) -> None:
    async with client.websocket_connect("/ws/channels/word/") as ws:
        assert await ws.receive_text() == "channels:word"
        await ws.send_text("hi")
        assert await ws.receive_text() == "echo:hi"


@pytest.mark.django_db(transaction=True)
async def test_a_channels_consumer_class_is_routed(client: AsyncWebSocketClient) -> None:
    async with client.websocket_connect("/ws/channels-class/") as ws:
        assert await ws.receive_text() == "channels:"
        await ws.send_text("hi")
        assert await ws.receive_text() == "echo:hi"


# -- unknown paths -------------------------------------------------------------------------------


async def test_an_unknown_path_is_refused_at_the_handshake(client: AsyncWebSocketClient) -> None:
    with pytest.raises(HandshakeRejected) as info:
        await client.websocket_connect("/ws/nowhere/").connect()
    assert (info.value.code, info.value.reason) == (CloseCode.NORMAL_CLOSURE, "")


async def test_an_unknown_path_logs_one_warning_without_a_traceback(
    client: AsyncWebSocketClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HandshakeRejected):
        await client.websocket_connect("/ws/nowhere/").connect()
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("wsapp", "WARNING", "No websocket route for /ws/nowhere/; handshake refused.")
    ]
    assert caplog.records[0].exc_info is None


async def test_an_unknown_path_on_the_full_stack_logs_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from wsapp.asgi import websocket_application

    caplog.set_level(logging.DEBUG)
    app = websocket_application(Router(routes.urlpatterns))
    with pytest.raises(HandshakeRejected):
        await AsyncWebSocketClient(app).websocket_connect("/nope/").connect()
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("wsapp", "WARNING", "No websocket route for /nope/; handshake refused.")
    ]


async def test_the_router_refuses_a_non_websocket_scope() -> None:
    server = FakeServer()
    with pytest.raises(ValueError) as info:
        await Router(routes.urlpatterns)({"type": "http"}, server.receive, server.send)
    assert str(info.value) == "wsapp.routing.Router serves websocket scopes, not 'http'."


async def test_the_router_does_not_change_the_servers_scope() -> None:
    server = FakeServer()
    scope = websocket_scope("/ws/extra/")
    server.feed(
        {"type": "websocket.connect"},
        {"type": "websocket.disconnect", "code": CloseCode.NORMAL_CLOSURE},
    )
    await Router(routes.urlpatterns)(scope, server.receive, server.send)
    assert "url_route" not in scope


# -- building routes -------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [path, re_path], ids=["path", "re_path"])
def test_a_leading_slash_is_improperly_configured(make: Any) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        make("/ws/echo/", routes.square)
    assert str(info.value) == "Websocket route '/ws/echo/' must not start with '/', as in urls.py."


def test_a_sync_function_is_not_a_handler() -> None:
    def handler(ws: WebSocket) -> None:
        pass

    with pytest.raises(TypeError) as info:
        path("ws/", handler)
    assert str(info.value) == (
        "A websocket route needs an `async def handler(ws, **params)`, a wsapp.Consumer "
        f"subclass or a Channels consumer, not {handler!r}."
    )


@pytest.mark.parametrize("target", [None, "tests.wsapp.routes.square", object()], ids=repr)
def test_a_non_callable_target_is_a_type_error(target: Any) -> None:
    with pytest.raises(TypeError):
        path("ws/", target)


def test_a_class_that_is_not_a_consumer_is_a_type_error() -> None:
    class NotAConsumer:
        pass

    with pytest.raises(TypeError):
        path("ws/", NotAConsumer)


# -- reverse() -------------------------------------------------------------------------------------


@override_settings(WSAPP=ROUTES)
@pytest.mark.parametrize(
    ("name", "args", "kwargs", "expected"),
    [
        ("square", (), {"n": 7}, "/ws/square/7/"),
        ("square", (7,), {}, "/ws/square/7/"),
        ("describe", (), {"room": "lobby"}, "/ws/describe/lobby/"),
        ("re", (), {"word": "abc"}, "/ws/re/abc/"),
        ("positional", ("12",), {}, "/ws/positional/12/"),
        ("item", (), {"pk": 5}, "/ws/api/item/5/"),
        ("tag", (), {"tag": "red"}, "/ws/api/tag/red/"),
        ("channels", (), {"word": "x"}, "/ws/channels/x/"),
        ("greet", (), {}, "/ws/greet/"),
    ],
    ids=lambda value: value if isinstance(value, str) and not value.startswith("/") else None,
)
def test_reverse_gives_the_path_of_a_named_route(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], expected: str
) -> None:
    assert reverse(name, *args, **kwargs) == expected


@override_settings(WSAPP=ROUTES)
def test_reverse_of_a_namespaced_route() -> None:
    assert reverse("chat:room", room="lobby") == "/ws/chat/lobby/"


@override_settings(WSAPP=ROUTES)
def test_reverse_of_an_instance_namespace_with_its_own_parameters() -> None:
    assert reverse("support:room", team=3, room="vip") == "/ws/support/3/vip/"


@override_settings(WSAPP=ROUTES)
def test_reverse_of_an_unknown_namespace_is_no_reverse_match() -> None:
    with pytest.raises(NoReverseMatch) as info:
        reverse("nowhere:room", room="lobby")
    assert str(info.value) == "'nowhere' is not a registered namespace"


@override_settings(WSAPP=ROUTES)
def test_a_namespaced_name_is_not_reversible_without_its_namespace() -> None:
    with pytest.raises(NoReverseMatch):
        reverse("room", room="lobby")


async def test_a_namespaced_route_resolves(client: AsyncWebSocketClient) -> None:
    async with client.websocket_connect("/ws/support/3/vip/") as ws:
        message = await ws.receive_json()
    assert message["params"] == {"team": ["int", "3"], "room": ["str", "vip"]}


@override_settings(WSAPP=ROUTES)
def test_reverse_of_an_unknown_name_is_no_reverse_match() -> None:
    with pytest.raises(NoReverseMatch) as info:
        reverse("nothing")
    assert str(info.value) == (
        "Reverse for 'nothing' not found. 'nothing' is not a valid view function or pattern name."
    )


@override_settings(WSAPP=ROUTES)
def test_reverse_with_arguments_that_do_not_fit_is_no_reverse_match() -> None:
    with pytest.raises(NoReverseMatch) as info:
        reverse("square", n="seven")
    assert str(info.value).startswith(
        "Reverse for 'square' with keyword arguments '{'n': 'seven'}' not found."
    )


def test_reverse_follows_the_routing_setting() -> None:
    with override_settings(WSAPP={"ROUTING": "config.routing"}):
        assert reverse("echo") == "/ws/echo/"
        with pytest.raises(NoReverseMatch):
            reverse("square", n=1)
    with override_settings(WSAPP=ROUTES):
        assert reverse("square", n=1) == "/ws/square/1/"
        with pytest.raises(NoReverseMatch):
            reverse("echo")


@override_settings(WSAPP=ROUTES)
async def test_a_router_without_a_table_serves_the_routing_setting() -> None:
    async with AsyncWebSocketClient(Router()).websocket_connect("/ws/square/3/") as ws:
        await ws.send_text("x")
        assert await ws.receive_json() == {"n": 3, "sq": 9, "got": "x"}


# -- loading the table -----------------------------------------------------------------------------


@override_settings(WSAPP=ROUTES)
def test_load_urlpatterns_imports_the_routing_module() -> None:
    assert load_urlpatterns() == routes.urlpatterns


def test_load_urlpatterns_accepts_websocket_urlpatterns(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("tests.wsapp._ws_routes")
    module.websocket_urlpatterns = [path("ws/", routes.square)]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with override_settings(WSAPP={"ROUTING": module.__name__}):
        assert load_urlpatterns() == module.websocket_urlpatterns  # type: ignore[attr-defined]


@override_settings(WSAPP={"ROUTING": "tests.wsapp.helpers"})
def test_load_urlpatterns_of_a_module_without_a_table() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        load_urlpatterns()
    assert str(info.value) == "tests.wsapp.helpers has no `urlpatterns` list of wsapp routes."


@override_settings(WSAPP={})
def test_load_urlpatterns_without_the_setting() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        load_urlpatterns()
    assert str(info.value) == (
        'WSAPP["ROUTING"] is not set; name the module that holds your websocket urlpatterns.'
    )
