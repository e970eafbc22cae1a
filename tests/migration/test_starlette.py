"""Starlette's and FastAPI's WebSocket examples, ported (:mod:`tests.migration.starlette_ports`),
in-process and under ``manage.py serve``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.migration.conftest import Connect, Refused
from wsapp import WebSocketDisconnect
from wsapp.codes import CloseCode

NORMAL = (CloseCode.NORMAL_CLOSURE, "")


async def test_hello_world(connect: Connect) -> None:
    peer = await connect("/starlette/hello/")
    assert await peer.recv() == "Hello, world!"
    assert await peer.closed() == NORMAL


async def test_iter_text_answers_each_message(connect: Connect) -> None:
    peer = await connect("/starlette/iterate/")
    for text in ["one", "two"]:
        await peer.send(text)
        assert await peer.recv() == f"Message text was: {text}"


async def test_path_params_reach_a_handler_that_takes_only_the_socket(connect: Connect) -> None:
    peer = await connect("/starlette/users/ada/")
    assert await peer.recv() == "Hello, ada"
    assert await peer.closed() == NORMAL


async def test_bytes_endpoint_prefixes_and_refuses_text(connect: Connect) -> None:
    peer = await connect("/starlette/bytes/")
    await peer.send(b"\x00hi")
    assert await peer.recv() == b"Message: \x00hi"
    await peer.send("text")
    assert await peer.closed() == (
        CloseCode.UNSUPPORTED_DATA,
        "Expected bytes websocket messages, but got str.",
    )


async def test_text_endpoint_echoes(connect: Connect) -> None:
    peer = await connect("/starlette/echo/")
    await peer.send("héllo")
    assert await peer.recv() == "Message text was: héllo"
    await peer.send(b"bytes")
    assert (await peer.closed())[0] == CloseCode.UNSUPPORTED_DATA


async def test_denial_example_accepts_the_authorized_subprotocols(connect: Connect) -> None:
    peer = await connect("/starlette/denial/", subprotocols=["Authorization", "token"])
    assert peer.subprotocol == "Authorization"
    assert await peer.recv() == "Hello, world!"
    assert await peer.closed() == NORMAL


async def test_denial_example_answers_401_with_a_body(connect: Connect) -> None:
    with pytest.raises(Refused) as refused:
        await connect("/starlette/denial/", subprotocols=["Authorization", "wrong"])
    assert (refused.value.status, refused.value.body) == (401, b"Unauthorized")


@pytest.mark.parametrize(
    ("query", "frames"),
    [
        ("", []),
        ("?q=5", ["Query parameter q is: 5"]),
    ],
    ids=["no-q", "q"],
)
async def test_fastapi_items_with_a_session_cookie(
    connect: Connect, query: str, frames: list[str]
) -> None:
    peer = await connect(f"/starlette/items/foo/ws/{query}", headers={"cookie": "session=abc"})
    await peer.send("hi")
    expected = [
        "Session cookie or query token value is: abc",
        *frames,
        "Message text was: hi, for item ID: foo",
    ]
    assert [await peer.recv() for _ in expected] == expected


@pytest.mark.django_db(transaction=True)  # wsapp's TokenAuth may look a token up
async def test_fastapi_items_with_the_projects_own_query_token(connect: Connect) -> None:
    peer = await connect("/starlette/items/foo/ws/?token=project-token")
    await peer.send("hi")
    assert await peer.recv() == "Session cookie or query token value is: project-token"


@pytest.mark.parametrize(
    ("query", "headers"),
    [("", {}), ("?q=abc", {"cookie": "session=abc"})],
    ids=["no-credentials", "q-not-an-int"],
)
async def test_fastapi_items_policy_violation_refuses_the_handshake(
    connect: Connect, query: str, headers: dict[str, str]
) -> None:
    with pytest.raises(Refused) as refused:
        await connect(f"/starlette/items/foo/ws/{query}", headers=headers)
    assert (refused.value.status, refused.value.body) == (403, b"")


async def test_fastapi_connection_manager_chat(connect: Connect) -> None:
    bob = await connect("/starlette/chat/2/")
    await bob.send("x")
    assert [await bob.recv(), await bob.recv()] == ["You wrote: x", "Client #2 says: x"]
    ann = await connect("/starlette/chat/1/")
    await ann.send("hi")
    assert [await ann.recv(), await ann.recv()] == ["You wrote: hi", "Client #1 says: hi"]
    assert await bob.recv() == "Client #1 says: hi"  # a broadcast, not a personal message
    await ann.close()
    assert await bob.recv() == "Client #1 left the chat"


# Starlette's TestClient (docs/testclient.md) is wsapp.testing's WebSocketTestClient: the
# ``ws_client`` fixture, with the same ``websocket_connect`` context manager.


@pytest.fixture
def ported_routes(settings: Any) -> None:
    settings.WSAPP = {**settings.WSAPP, "ROUTING": "tests.migration.routing"}


@pytest.mark.usefixtures("ported_routes")
def test_testclient_websocket_connect(ws_client: Any) -> None:
    with ws_client.websocket_connect("/starlette/hello/") as websocket:
        assert websocket.receive_text() == "Hello, world!"


@pytest.mark.usefixtures("ported_routes")
def test_testclient_refused_handshake_raises_websocket_disconnect(ws_client: Any) -> None:
    with (
        pytest.raises(WebSocketDisconnect),
        ws_client.websocket_connect("/quart/close-before-accept/"),
    ):
        pass
