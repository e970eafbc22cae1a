"""``wsapp.testing``: the sync and async in-process clients, and the pytest plugin's fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.timing import scaled
from tests.wsapp.helpers import raw_app, route
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket
from wsapp.exceptions import WebSocketDisconnect
from wsapp.testing import (
    AsyncWebSocketClient,
    HandshakeRejected,
    WebSocketTestClient,
    WebSocketTestSession,
)


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    async for message in ws:
        await ws.send(message)


async def refuse(ws: WebSocket) -> None:
    await ws.close(CloseCode.POLICY_VIOLATION, "go away")


async def goodbye(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_text("bye")
    await ws.close(CloseCode.GOING_AWAY, "server restart")


@pytest.fixture
def client() -> Iterator[WebSocketTestClient]:
    with WebSocketTestClient(route(echo), timeout=2) as client:
        yield client


# -- the synchronous client ------------------------------------------------------------------------


def test_sync_client_sends_and_receives_text_bytes_and_json(client: WebSocketTestClient) -> None:
    with client.websocket_connect("/ws/") as ws:
        ws.send_text("héllo")
        assert ws.receive_text() == "héllo"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_bytes() == b"\x00\x01"
        ws.send_json({"type": "x", "n": [1]})
        assert ws.receive_json() == {"type": "x", "n": [1]}


def test_sync_client_json_in_binary_mode(client: WebSocketTestClient) -> None:
    with client.websocket_connect("/ws/") as ws:
        ws.send_json({"n": 1}, mode="binary")
        assert ws.receive_bytes() == b'{"n":1}'
        ws.send_json({"n": 2}, mode="binary")
        assert ws.receive_json(mode="binary") == {"n": 2}


def test_sync_client_session_is_a_context_manager_that_closes(
    client: WebSocketTestClient,
) -> None:
    with client.websocket_connect("/ws/") as ws:
        assert isinstance(ws, WebSocketTestSession)
    assert ws.close_code == CloseCode.NORMAL_CLOSURE
    assert ws._session._task is not None and ws._session._task.done()


def test_sync_client_connect_is_a_context_manager(client: WebSocketTestClient) -> None:
    with client.connect("/ws/") as ws:
        ws.send_text("a")
        assert ws.receive_text() == "a"
    assert ws.close_code == CloseCode.NORMAL_CLOSURE


def test_sync_client_raises_handshake_rejected_with_code_and_reason() -> None:
    with WebSocketTestClient(route(refuse)) as client:
        with pytest.raises(HandshakeRejected) as info:
            client.websocket_connect("/ws/")
    assert (info.value.code, info.value.reason) == (CloseCode.POLICY_VIOLATION, "go away")
    assert isinstance(info.value, WebSocketDisconnect)


def test_sync_client_reads_the_servers_close_code_and_reason() -> None:
    with WebSocketTestClient(route(goodbye)) as client, client.websocket_connect("/ws/") as ws:
        assert ws.receive_text() == "bye"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (CloseCode.GOING_AWAY, "server restart")
        assert (ws.close_code, ws.close_reason) == (CloseCode.GOING_AWAY, "server restart")


def test_sync_client_wait_closed_returns_code_and_reason() -> None:
    with WebSocketTestClient(route(goodbye)) as client, client.websocket_connect("/ws/") as ws:
        assert ws.wait_closed() == (CloseCode.GOING_AWAY, "server restart")


def test_sync_client_receive_after_close_keeps_raising() -> None:
    with WebSocketTestClient(route(goodbye)) as client, client.websocket_connect("/ws/") as ws:
        ws.wait_closed()
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert info.value.code == CloseCode.GOING_AWAY


def test_sync_client_close_sends_its_code_and_reason_to_the_handler() -> None:
    seen: list[tuple[int | None, str | None]] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive()
        seen.append((ws.close_code, ws.close_reason))

    with WebSocketTestClient(route(handler)) as client:
        ws = client.websocket_connect("/ws/")
        ws.close(CloseCode.GOING_AWAY, "tab closed")
    assert seen == [(CloseCode.GOING_AWAY, "tab closed")]


def test_sync_client_passes_subprotocols_headers_user_and_client() -> None:
    seen: list[Any] = []
    user = object()

    async def handler(ws: WebSocket) -> None:
        seen.extend([ws.requested_subprotocols, ws.headers.get("x-token"), ws.user, ws.client])
        await ws.accept(headers={"x-reply": "yes"})

    app = route(handler, subprotocols=["b"])
    with WebSocketTestClient(app) as client:
        with client.websocket_connect(
            "/ws/",
            subprotocols=["a", "b"],
            headers={"X-Token": "t"},
            user=user,
            client=("10.1.2.3", 999),
        ) as ws:
            assert ws.subprotocol == "b"
            assert ws.accept_headers == [(b"x-reply", b"yes")]
    assert seen == [["a", "b"], "t", user, ("10.1.2.3", 999)]


def test_sync_client_receive_nothing_loses_no_message(client: WebSocketTestClient) -> None:
    with client.websocket_connect("/ws/") as ws:
        assert ws.receive_nothing(0.02) is True
        ws.send_text("late")
        assert ws.receive_nothing(1) is False
        assert ws.receive_text() == "late"


def test_sync_client_receive_times_out() -> None:
    with WebSocketTestClient(route(echo), timeout=0.05) as client:
        with client.websocket_connect("/ws/") as ws, pytest.raises(TimeoutError) as info:
            ws.receive_text()
    assert str(info.value) == "The application sent nothing in time."


def test_sync_client_receive_text_of_a_binary_frame_fails_the_test(
    client: WebSocketTestClient,
) -> None:
    with client.websocket_connect("/ws/") as ws:
        ws.send_bytes(b"x")
        with pytest.raises(AssertionError) as info:
            ws.receive_text()
    assert str(info.value) == "Expected a text frame, got {'type': 'websocket.send', 'bytes': b'x'}"


def test_an_application_error_surfaces_in_the_test() -> None:
    async def broken(ws: WebSocket) -> None:
        await ws.accept()
        raise LookupError("no such thing")

    with WebSocketTestClient(raw_app(broken)) as client, client.websocket_connect("/ws/") as ws:
        with pytest.raises(LookupError) as info:
            ws.receive_text()
    assert str(info.value) == "no such thing"


def test_an_application_error_the_test_did_not_read_surfaces_on_close() -> None:
    async def broken(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        raise LookupError("unread")

    with WebSocketTestClient(raw_app(broken)) as client:
        with pytest.raises(LookupError) as info, client.websocket_connect("/ws/") as ws:
            ws.send_text("x")
    assert str(info.value) == "unread"


def test_an_application_that_returns_without_closing_is_reported() -> None:
    async def rude(ws: WebSocket) -> None:
        await ws.accept()

    with WebSocketTestClient(raw_app(rude)) as client, client.websocket_connect("/ws/") as ws:
        with pytest.raises(RuntimeError) as info:
            ws.receive_text()
    assert str(info.value) == "The application returned without closing the connection."


def test_sessions_of_one_client_share_one_event_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def handler(ws: WebSocket) -> None:
        loops.append(asyncio.get_running_loop())
        await ws.accept()

    with WebSocketTestClient(route(handler)) as client:
        with client.websocket_connect("/ws/"), client.websocket_connect("/ws/"):
            pass
        assert client.run(_current_loop) is loops[0]
    assert len(loops) == 2 and loops[0] is loops[1]


async def _current_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_closing_the_client_stops_its_loop() -> None:
    client = WebSocketTestClient(route(echo))
    loop = client.run(_current_loop)
    client.close()
    assert loop.is_closed()
    assert client._runner is None


# -- the async client ------------------------------------------------------------------------------


async def test_async_client_sends_and_receives() -> None:
    async with AsyncWebSocketClient(route(echo)).websocket_connect("/ws/") as ws:
        await ws.send_text("a")
        assert await ws.receive_text() == "a"
        await ws.send_bytes(b"b")
        assert await ws.receive_bytes() == b"b"
        await ws.send_json({"c": 3})
        assert await ws.receive_json() == {"c": 3}


async def test_async_client_connect_returns_the_session() -> None:
    session = AsyncWebSocketClient(route(echo)).websocket_connect("/ws/")
    assert await session.connect() is session
    await session.close()
    assert session.close_code == CloseCode.NORMAL_CLOSURE


async def test_async_client_raises_handshake_rejected() -> None:
    with pytest.raises(HandshakeRejected) as info:
        await AsyncWebSocketClient(route(refuse)).websocket_connect("/ws/").connect()
    assert (info.value.code, info.value.reason) == (CloseCode.POLICY_VIOLATION, "go away")


async def test_async_client_reads_the_servers_close_code_and_reason() -> None:
    async with AsyncWebSocketClient(route(goodbye)).websocket_connect("/ws/") as ws:
        assert await ws.receive_text() == "bye"
        assert await ws.wait_closed() == (CloseCode.GOING_AWAY, "server restart")
        assert (ws.close_code, ws.close_reason) == (CloseCode.GOING_AWAY, "server restart")


async def test_async_client_builds_an_asgi_websocket_scope() -> None:
    session = AsyncWebSocketClient(route(echo)).websocket_connect(
        "/ws/?a=1&b=2", subprotocols=["p1", "p2"], headers={"Origin": "http://testserver"}
    )
    scope = session.scope
    assert (scope["type"], scope["path"], scope["raw_path"], scope["query_string"]) == (
        "websocket",
        "/ws/",
        b"/ws/",
        b"a=1&b=2",
    )
    assert scope["headers"] == [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
        (b"sec-websocket-protocol", b"p1, p2"),
    ]
    assert scope["subprotocols"] == ["p1", "p2"]
    assert scope["client"] == ["127.0.0.1", 50000]
    assert "user" not in scope


async def test_async_client_passes_scope_extensions() -> None:
    seen: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws.scope["extensions"])
        await ws.accept()

    session = AsyncWebSocketClient(route(handler)).websocket_connect(
        "/ws/", extensions={"wsapp.ping": {}}
    )
    async with session:
        pass
    assert seen == [{"wsapp.ping": {}}]


async def test_async_client_defaults_to_the_projects_stack() -> None:
    async with AsyncWebSocketClient().websocket_connect("/ws/echo/") as ws:
        await ws.send_text("project")
        assert await ws.receive_text() == "project"


async def test_async_client_receive_nothing_then_the_message() -> None:
    async with AsyncWebSocketClient(route(echo)).websocket_connect("/ws/") as ws:
        assert await ws.receive_nothing(0.02) is True
        await ws.send_text("x")
        assert await ws.receive_nothing(1) is False
        assert await ws.receive_text() == "x"


async def test_a_closed_async_session_can_be_closed_again() -> None:
    session = AsyncWebSocketClient(route(goodbye)).websocket_connect("/ws/")
    await session.connect()
    await session.wait_closed()
    await session.close()
    await session.close()
    assert session.close_code == CloseCode.GOING_AWAY


# -- the pytest plugin (wsapp.testing.plugin, registered through pytest11) ------------------------


@pytest.fixture
def teardown_checks() -> Iterator[list[Callable[[], None]]]:
    """Requested before a plugin fixture, this one is torn down after it: checks run then."""
    checks: list[Callable[[], None]] = []
    yield checks
    for check in checks:
        check()


def test_ws_client_fixture_talks_to_the_project_stack(
    teardown_checks: list[Callable[[], None]], ws_client: WebSocketTestClient
) -> None:
    assert isinstance(ws_client, WebSocketTestClient)
    with ws_client.websocket_connect("/ws/echo/") as ws:
        ws.send_text("fixture")
        assert ws.receive_text() == "fixture"

    def loop_stopped() -> None:
        assert ws_client._runner is None

    teardown_checks.append(loop_stopped)


def test_ws_client_fixture_reports_a_refused_handshake(ws_client: WebSocketTestClient) -> None:
    with pytest.raises(HandshakeRejected) as info:
        ws_client.websocket_connect("/ws/no-such-route/")
    assert info.value.code == CloseCode.NORMAL_CLOSURE


async def test_ws_connect_fixture_returns_a_connected_session(
    teardown_checks: list[Callable[[], None]],
    ws_connect: Callable[..., Awaitable[Any]],
) -> None:
    ws = await ws_connect("/ws/echo/")
    await ws.send_bytes(b"fixture")
    assert await ws.receive_bytes() == b"fixture"
    assert ws.close_code is None

    def closed_after_the_test() -> None:
        assert ws.close_code == CloseCode.NORMAL_CLOSURE
        assert ws._task.done()

    teardown_checks.append(closed_after_the_test)


async def test_ws_connect_fixture_raises_handshake_rejected(
    ws_connect: Callable[..., Awaitable[Any]],
) -> None:
    with pytest.raises(HandshakeRejected):
        await ws_connect("/ws/no-such-route/")


def test_the_plugin_is_registered_through_its_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("wsapp")
    assert plugin is not None and plugin.__name__ == "wsapp.testing.plugin"


# -- the shipped pytest plugin in a project's own session ---------------------------------------

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PROJECT_TESTS = """
from channels.layers import channel_layers

SENTINEL = object()


def test_1_project_sets_up_a_layer():
    channel_layers.backends["project"] = SENTINEL


def test_2_a_test_without_wsapp_fixtures_keeps_it():
    assert channel_layers.backends.get("project") is SENTINEL


def test_3_a_test_with_ws_client_starts_without_it(ws_client):
    assert "project" not in channel_layers.backends
    channel_layers.backends["project"] = SENTINEL


def test_4_and_leaves_none_behind():
    assert "project" not in channel_layers.backends
"""


def test_the_plugin_resets_channel_layers_only_for_tests_that_use_its_fixtures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin loads in every project that installs wsapp (``pytest11``); a test that uses
    none of its fixtures must not see it. A session of its own, as a project's would be: the
    plugin comes from the entry point, not from our conftest."""
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))  # this checkout's wsapp and settings
    pytester.makeini(
        "[pytest]\nDJANGO_SETTINGS_MODULE = tests.settings\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_project=PROJECT_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=scaled(60))
    result.assert_outcomes(passed=4)


def test_the_plugin_implements_no_pytest_hook() -> None:
    """A hook would run for every test of every project; the plugin only offers fixtures."""
    from wsapp.testing import plugin

    hooks = [name for name, value in vars(plugin).items() if name.startswith("pytest_")]
    assert hooks == ["pytest_asyncio"]  # the module it imports, not a hook


def test_loading_the_plugin_imports_nothing_else_of_wsapp_or_django() -> None:
    """Every project that installs wsapp loads the plugin; it costs them nothing until used."""
    import subprocess
    import sys

    code = (
        "import sys, wsapp.testing.plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('wsapp', 'django', 'channels'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    assert result.stdout.strip() == "['wsapp', 'wsapp.testing', 'wsapp.testing.plugin']"


def test_wsapp_testing_lists_its_names_lazily() -> None:
    import wsapp.testing

    assert set(wsapp.testing.__all__) <= set(dir(wsapp.testing))
    assert wsapp.testing.WebSocketTestClient is WebSocketTestClient
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        wsapp.testing.Nope  # noqa: B018
