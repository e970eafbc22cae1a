"""Who is connecting: token carriers, their order, failures, what is not a wsapp token passing
through, and the session stack beneath."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import Error, run_checks
from django.test import override_settings

from tests import routing_auth
from tests.support.credentials import FOREIGN, tampered
from wsapp.asgi import websocket_application
from wsapp.auth import TOKEN_SUBPROTOCOL, TokenAuthMiddleware
from wsapp.codes import CloseCode
from wsapp.routing import Router
from wsapp.testing import AsyncWebSocketClient
from wsapp.tokens import make_token

pytestmark = pytest.mark.django_db(transaction=True)  # the app checks tokens in a thread

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def ws_app() -> AsyncWebSocketClient:
    return AsyncWebSocketClient(websocket_application(Router(routing_auth.urlpatterns)))


@pytest.fixture
def token(user) -> str:
    return make_token(user)


async def whoami(client: AsyncWebSocketClient, path: str = "/ws/whoami/", **options: Any) -> Any:
    async with client.websocket_connect(path, **options) as ws:
        identity = await ws.receive_json()
        return identity, ws.subprotocol


async def closed_with(client: AsyncWebSocketClient, path: str, **options: Any) -> tuple[int, str]:
    """Connect, expect the server to accept and then close: the code and reason it sent."""
    ws = await client.websocket_connect(path, **options).connect()
    return await ws.wait_closed()


# -- carriers ---------------------------------------------------------------------------------


async def test_token_in_a_subprotocol_entry(ws_app, token) -> None:
    identity, chosen = await whoami(ws_app, subprotocols=[f"wsapp.token.{token}"])
    assert identity["user"] == "alice"
    assert identity["auth_method"] == "token"
    assert chosen is None


async def test_token_in_an_authorization_header(ws_app, token) -> None:
    identity, _ = await whoami(ws_app, headers={"Authorization": f"Bearer {token}"})
    assert (identity["user"], identity["auth_method"]) == ("alice", "token")


async def test_token_in_the_query_string(ws_app, token) -> None:
    identity, _ = await whoami(ws_app, f"/ws/whoami/?token={token}")
    assert (identity["user"], identity["auth_method"]) == ("alice", "token")


async def test_the_bearer_scheme_is_case_insensitive(ws_app, token) -> None:
    identity, _ = await whoami(ws_app, headers={"Authorization": f"bearer  {token} "})
    assert identity["user"] == "alice"


async def test_other_authorization_schemes_are_ignored(ws_app) -> None:
    identity, _ = await whoami(ws_app, headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert (identity["user"], identity["auth_method"]) == (None, None)


async def test_no_token_is_anonymous(ws_app) -> None:
    identity, _ = await whoami(ws_app, "/ws/whoami/?tokens=1&x=token")
    assert (identity["user"], identity["auth_method"]) == (None, None)


# -- what is not a wsapp token is not wsapp's ---------------------------------------------------


@pytest.mark.parametrize("credential", FOREIGN)
async def test_a_foreign_bearer_credential_reaches_the_handler_untouched(ws_app, credential):
    identity, _ = await whoami(ws_app, headers={"Authorization": f"Bearer {credential}"})
    assert (identity["user"], identity["auth_method"]) == (None, None)
    assert identity["authorization"] == f"Bearer {credential}"


@pytest.mark.parametrize("credential", FOREIGN)
async def test_a_foreign_query_token_reaches_the_handler_untouched(ws_app, credential) -> None:
    identity, _ = await whoami(ws_app, f"/ws/whoami/?token={credential}&page=2")
    assert (identity["user"], identity["auth_method"]) == (None, None)
    assert identity["query_token"] == credential


async def test_an_empty_query_token_is_nobodys_credential(ws_app) -> None:
    identity, _ = await whoami(ws_app, "/ws/whoami/?token=")
    assert (identity["user"], identity["query_token"]) == (None, "")


async def test_a_foreign_credential_keeps_the_session_user(ws_app, session_cookie) -> None:
    headers = {"Authorization": "Bearer sk_live_abc", "Cookie": session_cookie}
    identity, _ = await whoami(ws_app, "/ws/whoami/?token=sk_live_abc", headers=headers)
    assert (identity["user"], identity["auth_method"]) == ("alice", None)
    assert (identity["authorization"], identity["query_token"]) == (
        "Bearer sk_live_abc",
        "sk_live_abc",
    )


async def test_a_route_rule_judges_a_foreign_credential_as_no_credential(ws_app) -> None:
    # Not "Invalid token.": wsapp never looked at it; the route's own rule refuses anonymous.
    assert await closed_with(
        ws_app, "/ws/members/", headers={"Authorization": "Bearer sk_live_abc"}
    ) == (CloseCode.NOT_AUTHENTICATED, "Authentication required.")


async def test_past_a_foreign_bearer_the_query_token_is_used(ws_app, token) -> None:
    identity, _ = await whoami(
        ws_app, f"/ws/whoami/?token={token}", headers={"Authorization": "Bearer sk_live_abc"}
    )
    assert (identity["user"], identity["auth_method"]) == ("alice", "token")
    assert identity["authorization"] == "Bearer sk_live_abc"


async def test_the_first_wsapp_token_among_several_query_tokens(ws_app, token) -> None:
    identity, _ = await whoami(ws_app, f"/ws/whoami/?token=sk_live_abc&token={token}")
    assert (identity["user"], identity["auth_method"]) == ("alice", "token")


# -- the subprotocol carrier is never echoed --------------------------------------------------


async def test_the_token_entry_is_hidden_from_the_handler(ws_app, token) -> None:
    identity, chosen = await whoami(
        ws_app, "/ws/whoami/v1/", subprotocols=["wsapp.v1", f"wsapp.token.{token}"]
    )
    assert chosen == "wsapp.v1"
    assert identity["requested"] == ["wsapp.v1"]
    assert identity["protocol_header"] == "wsapp.v1"
    assert identity["subprotocol"] == "wsapp.v1"


async def test_a_route_without_protocols_selects_the_marker_if_offered(ws_app, token) -> None:
    # Browsers fail a handshake where they offered protocols and none was selected.
    identity, chosen = await whoami(
        ws_app, subprotocols=[TOKEN_SUBPROTOCOL, f"wsapp.token.{token}"]
    )
    assert chosen == TOKEN_SUBPROTOCOL
    assert identity["requested"] == []
    assert identity["protocol_header"] == "wsapp.token"


async def test_a_route_protocol_wins_over_the_marker(ws_app, token) -> None:
    _, chosen = await whoami(
        ws_app,
        "/ws/whoami/v1/",
        subprotocols=[TOKEN_SUBPROTOCOL, "wsapp.v1", f"wsapp.token.{token}"],
    )
    assert chosen == "wsapp.v1"


async def test_a_failed_token_in_a_subprotocol_still_gets_the_marker(ws_app) -> None:
    ws = await ws_app.websocket_connect(
        "/ws/whoami/", subprotocols=[TOKEN_SUBPROTOCOL, "wsapp.token.forged"]
    ).connect()
    assert ws.subprotocol == TOKEN_SUBPROTOCOL  # so a browser sees the 4401, not a failed handshake
    assert await ws.wait_closed() == (CloseCode.NOT_AUTHENTICATED, "Invalid token.")


# -- order and failures -----------------------------------------------------------------------


async def test_the_subprotocol_comes_before_the_header(ws_app, token) -> None:
    assert await closed_with(
        ws_app,
        "/ws/whoami/",
        subprotocols=["wsapp.token.forged"],
        headers={"Authorization": f"Bearer {token}"},
    ) == (CloseCode.NOT_AUTHENTICATED, "Invalid token.")
    identity, _ = await whoami(
        ws_app,
        subprotocols=[f"wsapp.token.{token}"],
        headers={"Authorization": f"Bearer {tampered(token)}"},
    )
    assert identity["user"] == "alice"


async def test_the_header_comes_before_the_query(ws_app, token) -> None:
    assert await closed_with(
        ws_app, f"/ws/whoami/?token={token}", headers={"Authorization": f"Bearer {tampered(token)}"}
    ) == (CloseCode.NOT_AUTHENTICATED, "Invalid token.")
    identity, _ = await whoami(
        ws_app, f"/ws/whoami/?token={tampered(token)}", headers={"Authorization": f"Bearer {token}"}
    )
    assert identity["user"] == "alice"


@pytest.mark.parametrize(
    "path", ["/ws/whoami/", "/ws/members/", "/ws/consumer/whoami/", "/ws/channels/members/"]
)
async def test_a_bad_token_closes_4401_on_every_route(ws_app, token, path) -> None:
    assert await closed_with(ws_app, f"{path}?token={tampered(token)}") == (
        CloseCode.NOT_AUTHENTICATED,
        "Invalid token.",
    )


async def test_a_bad_bearer_token_closes_4401(ws_app, token) -> None:
    assert await closed_with(
        ws_app, "/ws/whoami/", headers={"Authorization": f"Bearer {tampered(token)}"}
    ) == (CloseCode.NOT_AUTHENTICATED, "Invalid token.")


async def test_a_revoked_token_says_so(ws_app, user, token) -> None:
    user.set_password("changed")
    await user.asave()
    assert await closed_with(ws_app, f"/ws/whoami/?token={token}") == (
        CloseCode.NOT_AUTHENTICATED,
        "Token no longer valid.",
    )


async def test_a_bad_token_is_not_rescued_by_a_good_session(ws_app, token, session_cookie):
    assert await closed_with(
        ws_app, f"/ws/whoami/?token={tampered(token)}", headers={"Cookie": session_cookie}
    ) == (CloseCode.NOT_AUTHENTICATED, "Invalid token.")


async def test_a_good_token_wins_over_the_session(ws_app, django_user_model, session_cookie):
    bob = await django_user_model.objects.acreate_user("bob", password="bob-password")
    identity, _ = await whoami(
        ws_app, f"/ws/whoami/?token={make_token(bob)}", headers={"Cookie": session_cookie}
    )
    assert (identity["user"], identity["auth_method"]) == ("bob", "token")


# -- WSAPP["TOKEN_CARRIERS"] --------------------------------------------------------------------


@pytest.fixture
def carriers(settings):
    def only(*names: str) -> None:
        settings.WSAPP = {**settings.WSAPP, "TOKEN_CARRIERS": list(names)}

    return only


async def test_without_the_query_carrier_a_query_token_is_the_handlers(ws_app, token, carriers):
    carriers("subprotocol", "header")
    identity, _ = await whoami(ws_app, f"/ws/whoami/?token={token}")
    assert (identity["user"], identity["query_token"]) == (None, token)
    identity, _ = await whoami(ws_app, headers={"Authorization": f"Bearer {token}"})
    assert (identity["user"], identity["auth_method"]) == ("alice", "token")


async def test_without_the_header_carrier_a_bearer_token_is_the_handlers(ws_app, token, carriers):
    carriers("subprotocol", "query")
    identity, _ = await whoami(ws_app, headers={"Authorization": f"Bearer {tampered(token)}"})
    assert (identity["user"], identity["authorization"]) == (None, f"Bearer {tampered(token)}")
    identity, _ = await whoami(ws_app, f"/ws/whoami/?token={token}")
    assert identity["user"] == "alice"


async def test_without_the_subprotocol_carrier_the_entry_stays_offered(ws_app, token, carriers):
    carriers("header", "query")
    entry = f"wsapp.token.{token}"
    identity, chosen = await whoami(ws_app, "/ws/whoami/v1/", subprotocols=["wsapp.v1", entry])
    assert (identity["user"], chosen) == (None, "wsapp.v1")
    assert identity["requested"] == ["wsapp.v1", entry]


async def test_no_carriers_means_no_wsapp_tokens(ws_app, token, carriers) -> None:
    carriers()
    identity, _ = await whoami(
        ws_app,
        f"/ws/whoami/?token={tampered(token)}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (identity["user"], identity["auth_method"]) == (None, None)


CARRIERS_HINT = (
    "Use a list of distinct names from 'subprotocol', 'header', 'query' (or [] for no tokens)."
)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("query", id="a-bare-string"),
        pytest.param(["header", "cookie"], id="an-unknown-carrier"),
        pytest.param(["header", "header"], id="a-repeated-carrier"),
        pytest.param(None, id="none"),
    ],
)
def test_a_misconfigured_carrier_list_is_e004(value) -> None:
    wsapp = {"ROUTING": "tests.wsapp.routes", "TOKEN_CARRIERS": value}
    with override_settings(DEBUG=True, WSAPP=wsapp, CHANNEL_LAYERS=IN_MEMORY):
        messages = [m for m in run_checks() if m.id and m.id.startswith("wsapp.")]
    assert messages == [
        Error(f'WSAPP["TOKEN_CARRIERS"] is {value!r}.', hint=CARRIERS_HINT, id="wsapp.E004")
    ]


@pytest.mark.parametrize("value", [[], ("query", "subprotocol"), ["header"]])
def test_a_carrier_list_in_any_order_or_none_is_fine(value) -> None:
    wsapp = {"ROUTING": "tests.wsapp.routes", "TOKEN_CARRIERS": value}
    with override_settings(DEBUG=True, WSAPP=wsapp, CHANNEL_LAYERS=IN_MEMORY):
        assert [m for m in run_checks() if m.id and m.id.startswith("wsapp.")] == []


# -- the session stack ------------------------------------------------------------------------


async def test_a_session_cookie_authenticates(ws_app, session_cookie) -> None:
    identity, _ = await whoami(ws_app, headers={"Cookie": session_cookie})
    assert (identity["user"], identity["auth_method"]) == ("alice", None)


async def test_a_forged_session_cookie_is_anonymous(ws_app, session_cookie) -> None:
    name, _, value = session_cookie.partition("=")
    identity, _ = await whoami(ws_app, headers={"Cookie": f"{name}={value[:-4]}abcd"})
    assert identity["user"] is None
    assert await closed_with(ws_app, "/ws/members/", headers={"Cookie": f"{name}=forged"}) == (
        CloseCode.NOT_AUTHENTICATED,
        "Authentication required.",
    )


# -- the middleware itself ----------------------------------------------------------------------


async def test_the_middleware_copies_the_scope_and_keeps_no_state(token) -> None:
    seen: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    middleware = TokenAuthMiddleware(inner)
    headers = [(b"sec-websocket-protocol", f"chat, wsapp.token.{token}".encode())]
    scope = {"type": "websocket", "subprotocols": ["chat", f"wsapp.token.{token}"]}
    scope["headers"] = headers
    before = {**scope, "subprotocols": list(scope["subprotocols"]), "headers": list(headers)}
    await middleware(scope, None, None)
    await middleware({"type": "websocket", "headers": [], "query_string": b""}, None, None)
    assert scope == before
    assert seen[0]["subprotocols"] == ["chat"]
    assert seen[0]["headers"] == [(b"sec-websocket-protocol", b"chat")]
    assert seen[0]["user"].get_username() == "alice"
    assert "user" not in seen[1] and "auth_error" not in seen[1]
    assert vars(middleware) == {"inner": inner}


async def test_the_middleware_passes_other_scopes_through() -> None:
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {"type": "http", "query_string": b"token=x"}
    await TokenAuthMiddleware(inner)(scope, None, None)
    assert seen == [scope] and seen[0] is scope
