"""``POST /wsapp/publish/``: every rule and refusal, in-process (Django's async client on the
project's URLs, sockets through wsapp's test client, the in-memory layer between them).

Across two ``serve`` processes on Redis, with raw HTTP: tests/e2e/test_rooms_cluster.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from django.contrib.auth.models import User
from django.core.checks import Error, Warning
from django.test import AsyncClient, override_settings

from tests.support.sockets import Connect, joined_sockets
from tests.wsapp.test_checks import ROUTING, wsapp_messages
from wsapp import WebSocket, rooms
from wsapp.publish_view import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from wsapp.routing import Router, path

URL = "/wsapp/publish/"
SECRET = "s3cret-for-the-tests-0123456789abcdefXYZ"
TOKEN = "token-for-the-tests-0123456789abcdefXYZ!"
ALICE = User(pk=41, username="alice")

pytestmark = pytest.mark.usefixtures("hub_teardown")


@pytest.fixture(autouse=True)
def publishing(settings: Any) -> None:
    settings.WSAPP = {**settings.WSAPP, "PUBLISH_SECRET": SECRET, "PUBLISH_TOKEN": TOKEN}


async def member(ws: WebSocket, room: str) -> None:
    await ws.accept()
    await rooms.join(ws, room, presence=ws.query_params.get("presence") != "0")
    await ws.send_json({"type": "joined"})
    async for _ in ws:
        pass


@pytest_asyncio.fixture
async def connect() -> AsyncIterator[Connect]:
    async with joined_sockets(Router([path("room/<slug:room>/", member)])) as open_session:
        yield open_session


def signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if at is None else at)
    return {SIGNATURE_HEADER: signature(secret, stamp, body), TIMESTAMP_HEADER: stamp}


async def post(body: Any, headers: dict[str, str] | None = None, **client: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await AsyncClient(**client).post(
        URL, raw, content_type="application/json", headers=headers or {}
    )


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- delivering -----------------------------------------------------------------------------


async def test_a_token_publishes_json_to_a_room_and_says_how_many_are_in_it(
    connect: Connect,
) -> None:
    alice = await connect("/room/lobby/", user=ALICE)
    anonymous = await connect("/room/lobby/")
    response = await post({"room": "lobby", "data": {"type": "deploy", "at": 5}}, bearer())
    assert response.status_code == 200
    # Presence counts signed-in sockets only: the anonymous member got it, and is not counted.
    assert response.json() == {"room": "lobby", "raw": False, "connections": 1, "users": 1}
    assert await alice.receive_json() == {"type": "deploy", "at": 5}
    assert await anonymous.receive_json() == {"type": "deploy", "at": 5}


async def test_a_signed_request_publishes_raw_text_unchanged(connect: Connect) -> None:
    ws = await connect("/room/ticker/?presence=0")
    body = json.dumps({"room": "ticker", "data": "AAPL 187.2", "raw": True}).encode()
    response = await post(body, signed(body))
    assert response.status_code == 200
    assert response.json()["raw"] is True
    assert await ws.receive_text() == "AAPL 187.2"


async def test_a_message_to_a_user_reaches_their_sockets(connect: Connect, settings: Any) -> None:
    tab = await connect("/room/lobby/", user=ALICE)
    response = await post({"user": 41, "data": {"type": "notice"}}, bearer())
    assert response.json() == {"user": "41", "connections": None}  # not counted: no cap set
    assert await tab.receive_json() == {"type": "notice"}
    settings.WSAPP = {**settings.WSAPP, "MAX_CONNECTIONS_PER_USER": 5}
    counted = await connect("/room/lobby/", user=ALICE)
    response = await post({"user": "41", "data": {"type": "again"}}, bearer())
    assert response.json() == {"user": "41", "connections": 1}  # the one opened under the cap
    assert await counted.receive_json() == {"type": "again"}


async def test_no_csrf_token_is_needed(connect: Connect) -> None:
    ws = await connect("/room/lobby/")
    response = await post({"room": "lobby", "data": 1}, bearer(), enforce_csrf_checks=True)
    assert response.status_code == 200
    assert await ws.receive_json() == 1


# -- refusals -------------------------------------------------------------------------------


async def test_it_is_off_until_a_secret_or_token_is_set(settings: Any) -> None:
    settings.WSAPP = {**settings.WSAPP, "PUBLISH_SECRET": None, "PUBLISH_TOKEN": None}
    response = await post({"room": "lobby", "data": 1}, bearer())
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_only_post_is_allowed() -> None:
    response = await AsyncClient().get(URL, headers=bearer())
    assert response.status_code == 405
    assert response["Allow"] == "POST"


@pytest.mark.django_db
async def test_a_session_is_not_a_credential(connect: Connect) -> None:
    ws = await connect("/room/lobby/")
    user = await User.objects.acreate(username="staff", is_staff=True, is_superuser=True)
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.post(URL, b'{"room":"lobby","data":1}', content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert await ws.receive_nothing()


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        (bearer("wrong"), "bad_token"),
        ({"Authorization": f"Bearer {SECRET}"}, "bad_token"),  # the secret is not a token
        ({SIGNATURE_HEADER: "sha256=00", TIMESTAMP_HEADER: "x"}, "stale"),
    ],
    ids=["wrong-token", "secret-as-token", "no-timestamp"],
)
async def test_a_bad_credential_is_401(headers: dict[str, str], error: str) -> None:
    response = await post({"room": "lobby", "data": 1}, headers)
    assert response.status_code == 401
    assert response.json()["error"] == error


async def test_a_signature_must_match_the_body_and_the_secret(connect: Connect) -> None:
    ws = await connect("/room/lobby/")
    body = b'{"room":"lobby","data":1}'
    tampered = await post(b'{"room":"lobby","data":2}', signed(body))
    other_key = await post(body, signed(body, secret="another-secret-0123456789abcdefghij"))
    assert [tampered.status_code, other_key.status_code] == [401, 401]
    assert {tampered.json()["error"], other_key.json()["error"]} == {"bad_signature"}
    assert await ws.receive_nothing()


async def test_an_old_or_future_timestamp_is_refused(settings: Any) -> None:
    settings.WSAPP = {**settings.WSAPP, "PUBLISH_MAX_AGE": 60}
    body = b'{"room":"lobby","data":1}'
    for at in (int(time.time()) - 3600, int(time.time()) + 3600):
        response = await post(body, signed(body, at=at))
        assert (response.status_code, response.json()["error"]) == (401, "stale")


async def test_a_replayed_signed_request_is_refused(connect: Connect) -> None:
    ws = await connect("/room/lobby/")
    body = b'{"room":"lobby","data":"once"}'
    headers = signed(body)
    assert (await post(body, headers)).status_code == 200
    again = await post(body, headers)
    assert (again.status_code, again.json()["error"]) == (401, "replayed")
    assert await ws.receive_json() == "once"
    assert await ws.receive_nothing()


async def test_a_body_over_the_limit_is_413(settings: Any) -> None:
    settings.WSAPP = {**settings.WSAPP, "PUBLISH_MAX_BYTES": 100}
    response = await post({"room": "lobby", "data": "x" * 200}, bearer())
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


async def test_a_body_over_djangos_own_upload_limit_is_413_too(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50
    response = await post({"room": "lobby", "data": "x" * 100}, bearer())
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


async def test_over_the_rate_is_429_with_retry_after(settings: Any) -> None:
    settings.WSAPP = {**settings.WSAPP, "PUBLISH_RATE": "2/m burst 2"}
    statuses = [(await post({"room": "lobby", "data": n}, bearer())).status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    refused = await post({"room": "lobby", "data": 3}, bearer())
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"
    # The bucket is the credential kind's and the address's, checked before the credential:
    # guessing tokens from here is limited as much as using the right one.
    assert (await post({"room": "lobby", "data": 4}, bearer("guess"))).status_code == 429
    body = b'{"room":"lobby","data":5}'
    assert (await post(body, signed(body))).status_code == 200  # the signed kind's own bucket


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_fields"),
        (b'{"room": "lobby"}', "invalid_fields"),
        (b'{"room": "lobby", "user": 1, "data": 1}', "invalid_fields"),
        (b'{"data": 1}', "invalid_fields"),
        (b'{"room": "lobby", "data": 1, "extra": 1}', "invalid_fields"),
        (b'{"room": "no spaces", "data": 1}', "invalid_fields"),
        (b'{"room": 5, "data": 1}', "invalid_fields"),
        (b'{"user": true, "data": 1}', "invalid_fields"),
        (b'{"user": 1, "data": "x", "raw": true}', "invalid_fields"),
        (b'{"room": "lobby", "data": {"a": 1}, "raw": true}', "invalid_fields"),
        (b'{"room": "lobby", "data": "x", "raw": "yes"}', "invalid_fields"),
        (b'{"room": "lobby", "data": NaN}', "invalid_json"),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-data",
        "room-and-user",
        "neither",
        "unknown-field",
        "bad-room-name",
        "room-not-a-string",
        "user-a-bool",
        "raw-to-a-user",
        "raw-not-a-string",
        "raw-not-a-bool",
        "nan",
    ],
)
async def test_a_bad_body_is_400(body: bytes, error: str) -> None:
    response = await post(body, bearer())
    assert response.status_code == 400
    assert response.json()["error"] == error


# -- system checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("short", "is 5 characters; at least 32 are needed"),
        ("ab" * 20, "has only 2 distinct characters"),
        ("the-django-secret-key-0123456789abcdefghij", "is SECRET_KEY"),
    ],
    ids=["short", "repetitive", "secret-key"],
)
@pytest.mark.parametrize("key", ["PUBLISH_SECRET", "PUBLISH_TOKEN"])
def test_e010_a_weak_publish_credential(key: str, value: str, problem: str) -> None:
    with override_settings(
        DEBUG=True,
        SECRET_KEY="the-django-secret-key-0123456789abcdefghij",
        WSAPP={"ROUTING": ROUTING, key: value},
    ):
        messages = wsapp_messages()
    assert [(m.id, type(m)) for m in messages] == [("wsapp.E010", Error)]
    assert messages[0].msg.startswith(f'WSAPP["{key}"] {problem}')


def test_w010_the_same_string_for_secret_and_token() -> None:
    with override_settings(
        DEBUG=True, WSAPP={"ROUTING": ROUTING, "PUBLISH_SECRET": SECRET, "PUBLISH_TOKEN": SECRET}
    ):
        assert [(m.id, type(m)) for m in wsapp_messages()] == [("wsapp.W010", Warning)]


def test_strong_credentials_pass_and_wrong_types_are_e004() -> None:
    with override_settings(
        DEBUG=True, WSAPP={"ROUTING": ROUTING, "PUBLISH_SECRET": SECRET, "PUBLISH_TOKEN": TOKEN}
    ):
        assert wsapp_messages() == []
    with override_settings(DEBUG=True, WSAPP={"ROUTING": ROUTING, "PUBLISH_SECRET": 12345}):
        assert [m.id for m in wsapp_messages()] == ["wsapp.E004"]
