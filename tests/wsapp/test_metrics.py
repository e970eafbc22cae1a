"""``wsapp.metrics`` counts exactly, and ``/wsapp/metrics`` serves it to Prometheus and to no one
else: a scripted sequence of connections, then the snapshot and the parsed exposition."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, override_settings
from prometheus_client.parser import text_string_to_metric_families

import wsapp
from wsapp import lifecycle, metrics
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket
from wsapp.models import Room
from wsapp.testing import AsyncWebSocketClient, HandshakeRejected
from wsapp.types import Receive, Scope, Send

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/wsapp/metrics"


async def refuse_before_accept(scope: Scope, receive: Receive, send: Send) -> None:
    """An application that turns every handshake down (a 403 under a real server)."""
    await receive()
    await WebSocket(scope, receive, send, tracker=lifecycle.registry).close(
        CloseCode.POLICY_VIOLATION
    )


@pytest.fixture(autouse=True)
def fresh_counters() -> None:
    metrics.reset()


async def scripted_sequence(communicator: Any) -> None:
    """One echo with two messages each way, then closed by the client; three refusals of
    three kinds; one anonymous dashboard (accepted, then closed 4401)."""
    echo = await communicator("/ws/echo/")
    await echo.send_text("hello")  # 5 bytes
    assert await echo.receive_text() == "hello"
    await echo.send_bytes(b"\x00\x01\x02")  # 3 bytes
    assert await echo.receive_bytes() == b"\x00\x01\x02"
    await echo.close()
    for path, headers in [("/ws/nowhere/", {}), ("/ws/echo/", {"Origin": "https://evil.test"})]:
        with pytest.raises(HandshakeRejected):
            await communicator(path, headers=headers)
    with pytest.raises(HandshakeRejected):
        await AsyncWebSocketClient(refuse_before_accept).websocket_connect("/x/").connect()
    dashboard = await communicator("/ws/dashboard/")
    assert (await dashboard.wait_closed())[0] == CloseCode.NOT_AUTHENTICATED


async def test_counters_are_exact_after_a_scripted_sequence(communicator: Any) -> None:
    await scripted_sequence(communicator)
    snap = metrics.snapshot()
    assert {k: v for k, v in snap.items() if k not in {"process", "time", "uptime"}} == {
        "connections": 0,
        "accepted": 2,
        "closed": {"1000": 1, "4401": 1},
        "refused": {"no_route": 1, "origin": 1, "handshake": 1},
        "messages_in": 2,
        "messages_out": 2,
        "bytes_in": 8,
        "bytes_out": 8,
    }


async def test_open_connections_count_before_they_close(communicator: Any) -> None:
    echo = await communicator("/ws/echo/")
    await echo.send_text("abc")
    await echo.receive_text()
    snap = metrics.snapshot()
    assert (snap["connections"], snap["messages_in"], snap["bytes_out"]) == (1, 1, 3)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of a Prometheus text exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_the_exposition_parses_and_has_exact_values(
    communicator: Any, user: Any, client: Any
) -> None:
    await Room.objects.acreate(slug="lobby", title="Lobby")
    await scripted_sequence(communicator)
    chat = await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"])
    await chat.receive_json()  # history
    await chat.receive_json()  # presence.state

    response = await AsyncClient().get(URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    # The chat socket sent two frames (history, presence); it is open, so not in "closed".
    values = samples(response.content.decode())
    assert values.pop(("wsapp_asyncio_tasks", ())) >= 2  # the chat's task and the test's
    assert values == {
        ("wsapp_connections", ()): 1.0,
        ("wsapp_connections_accepted_total", ()): 3.0,
        ("wsapp_connections_closed_total", (("code", "1000"),)): 1.0,
        ("wsapp_connections_closed_total", (("code", "4401"),)): 1.0,
        ("wsapp_handshakes_refused_total", (("reason", "handshake"),)): 1.0,
        ("wsapp_handshakes_refused_total", (("reason", "no_route"),)): 1.0,
        ("wsapp_handshakes_refused_total", (("reason", "origin"),)): 1.0,
        ("wsapp_messages_received_total", ()): 2.0,
        ("wsapp_messages_sent_total", ()): 4.0,
        ("wsapp_bytes_received_total", ()): 8.0,
        ("wsapp_bytes_sent_total", ()): 8.0 + chat_bytes_sent(),
        ("wsapp_channel_full_total", ()): 0.0,
        ("wsapp_room_online", (("room", "lobby"),)): 1.0,
    }
    families = {f.name: f.type for f in text_string_to_metric_families(response.content.decode())}
    assert families["wsapp_connections"] == "gauge"
    assert families["wsapp_connections_accepted"] == "counter"
    assert families["wsapp_room_online"] == "gauge"


async def test_the_task_gauge_follows_the_open_connections(communicator: Any) -> None:
    async def tasks() -> float:
        response = await AsyncClient().get(URL)
        return samples(response.content.decode())[("wsapp_asyncio_tasks", ())]

    before = await tasks()
    sockets = [await communicator("/ws/echo/") for _ in range(3)]
    during = await tasks()
    for ws in sockets:
        await ws.close()
    assert during >= before + 3  # each open socket runs its handler in a task of its own


def chat_bytes_sent() -> int:
    """What the open chat socket has sent so far (its history and presence frames)."""
    from wsapp.lifecycle import connections

    (chat,) = connections()
    return chat.bytes_sent


async def test_a_room_leaves_the_exposition_when_its_last_local_member_leaves(
    communicator: Any, user: Any
) -> None:
    await Room.objects.acreate(slug="lobby", title="Lobby")
    chat = await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"])
    await chat.receive_json()
    await chat.close()
    text = (await AsyncClient().get(URL)).content.decode()
    assert not [key for key in samples(text) if key[0] == "wsapp_room_online"]


# -- who may read it ---------------------------------------------------------------------------


class ClientFrom(AsyncClient):
    """An ``AsyncClient`` whose requests come from ``address`` (ASGI's ``client`` becomes
    Django's ``REMOTE_ADDR``)."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def _base_scope(self, **request: Any) -> dict[str, Any]:
        return {**super()._base_scope(**request), "client": [self.address, 50000]}


def from_address(address: str) -> AsyncClient:
    return ClientFrom(address)


@pytest.mark.parametrize(
    ("address", "status"),
    [("127.0.0.1", 200), ("::1", 200), ("::ffff:127.0.0.1", 200), ("203.0.113.9", 403)],
)
async def test_the_default_allows_only_loopback(address: str, status: int) -> None:
    response = await from_address(address).get(URL)
    assert response.status_code == status


async def test_a_refusal_says_who_may_read_it() -> None:
    response = await from_address("203.0.113.9").get(URL)
    assert response.content == (
        b'The metrics are for staff users and the addresses in WSAPP["METRICS_ALLOWED_IPS"].\n'
    )


async def test_staff_may_read_it_from_anywhere_other_users_may_not(
    django_user_model: Any, user: Any
) -> None:
    staff = await django_user_model.objects.acreate(username="admin", is_staff=True)
    for who, status in [(user, 403), (staff, 200)]:
        client = from_address("203.0.113.9")
        await client.aforce_login(who)
        assert (await client.get(URL)).status_code == status


@override_settings(WSAPP={"ROUTING": "config.routing", "METRICS_ALLOWED_IPS": ["10.0.0.0/8"]})
@pytest.mark.parametrize(("address", "status"), [("10.20.30.40", 200), ("127.0.0.1", 403)])
async def test_allowed_ips_takes_networks(address: str, status: int) -> None:
    assert (await from_address(address).get(URL)).status_code == status


@override_settings(WSAPP={"ROUTING": "config.routing", "METRICS_ALLOWED_IPS": []})
async def test_an_empty_list_leaves_staff_only() -> None:
    assert (await AsyncClient().get(URL)).status_code == 403


async def test_only_get() -> None:
    assert (await AsyncClient().post(URL)).status_code == 405


async def test_without_prometheus_client_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "wsapp.metrics.prometheus", raising=False)
    monkeypatch.delattr(wsapp.metrics, "prometheus", raising=False)  # as if never imported
    with pytest.raises(ImproperlyConfigured, match=r"pip install 'wsapp\[metrics\]'"):
        await AsyncClient().get(URL)
