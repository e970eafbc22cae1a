"""``wsapp.codes``: the close codes, which may be sent, which a client reconnects after."""

from __future__ import annotations

import re
from http import HTTPStatus
from pathlib import Path

import pytest
from websockets.frames import CloseCode as WebsocketsCloseCode

from wsapp import exceptions
from wsapp.codes import (
    MAX_CLOSE_REASON_BYTES,
    RECONNECT_CODES,
    CloseCode,
    check_sendable,
    close_reason_bytes,
    is_sendable,
    should_reconnect,
    truncate_reason,
)

# RFC 6455 §7.4.1 names, as python-websockets spells them, for the codes both define.
RFC_NAMES = {
    "NORMAL_CLOSURE": "NORMAL_CLOSURE",
    "GOING_AWAY": "GOING_AWAY",
    "PROTOCOL_ERROR": "PROTOCOL_ERROR",
    "UNSUPPORTED_DATA": "UNSUPPORTED_DATA",
    "NO_STATUS_RECEIVED": "NO_STATUS_RCVD",
    "ABNORMAL_CLOSURE": "ABNORMAL_CLOSURE",
    "INVALID_PAYLOAD": "INVALID_DATA",
    "POLICY_VIOLATION": "POLICY_VIOLATION",
    "MESSAGE_TOO_BIG": "MESSAGE_TOO_BIG",
    "MANDATORY_EXTENSION": "MANDATORY_EXTENSION",
    "INTERNAL_ERROR": "INTERNAL_ERROR",
    "SERVICE_RESTART": "SERVICE_RESTART",
    "TRY_AGAIN_LATER": "TRY_AGAIN_LATER",
    "BAD_GATEWAY": "BAD_GATEWAY",
}
APP_CODES = [code for code in CloseCode if code.name not in RFC_NAMES]
RESERVED = {CloseCode.NO_STATUS_RECEIVED, CloseCode.ABNORMAL_CLOSURE}  # §7.4.1: never sent
# RFC 6455 §7.4.2: 3000-3999 registered with IANA, 4000-4999 private (wsapp's 44xx live there).
REGISTERED_FIRST, APP_BASE, PRIVATE_LAST = 3000, 4000, 4999


@pytest.mark.parametrize("name", list(RFC_NAMES))
def test_standard_codes_have_their_rfc_values(name: str) -> None:
    assert CloseCode[name] == WebsocketsCloseCode[RFC_NAMES[name]]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (CloseCode.BAD_REQUEST, HTTPStatus.BAD_REQUEST),
        (CloseCode.NOT_AUTHENTICATED, HTTPStatus.UNAUTHORIZED),
        (CloseCode.FORBIDDEN, HTTPStatus.FORBIDDEN),
        (CloseCode.ROOM_NOT_FOUND, HTTPStatus.NOT_FOUND),
        (CloseCode.TOO_MANY_CONNECTIONS, HTTPStatus.CONFLICT),
        (CloseCode.ROOM_CLOSED, HTTPStatus.GONE),
        (CloseCode.RATE_LIMITED, HTTPStatus.TOO_MANY_REQUESTS),
        (CloseCode.ROOM_FULL, HTTPStatus.SERVICE_UNAVAILABLE),
    ],
    ids=lambda value: value.name,
)
def test_application_codes_mirror_http_statuses(code: CloseCode, status: HTTPStatus) -> None:
    assert code - APP_BASE == status


def test_every_application_code_is_listed_above() -> None:
    assert [code.name for code in APP_CODES] == [
        "BAD_REQUEST",
        "NOT_AUTHENTICATED",
        "FORBIDDEN",
        "ROOM_NOT_FOUND",
        "TOO_MANY_CONNECTIONS",
        "ROOM_CLOSED",
        "RATE_LIMITED",
        "ROOM_FULL",
    ]


@pytest.mark.parametrize(
    "code", [c for c in CloseCode if c not in RESERVED], ids=lambda code: code.name
)
def test_codes_an_endpoint_may_send(code: CloseCode) -> None:
    assert is_sendable(code)


@pytest.mark.parametrize(
    "code",
    [
        CloseCode.NO_STATUS_RECEIVED,
        CloseCode.ABNORMAL_CLOSURE,
        WebsocketsCloseCode.TLS_HANDSHAKE,
        WebsocketsCloseCode.UNSUPPORTED_DATA + 1,  # 1004, reserved
        WebsocketsCloseCode.NORMAL_CLOSURE - 1,
        WebsocketsCloseCode.TLS_HANDSHAKE + 1,  # unassigned RFC range
        REGISTERED_FIRST - 1,
        PRIVATE_LAST + 1,
        0,
    ],
    ids=repr,
)
def test_codes_an_endpoint_may_not_send(code: int) -> None:
    assert not is_sendable(code)


@pytest.mark.parametrize("code", [REGISTERED_FIRST, APP_BASE, PRIVATE_LAST], ids=repr)
def test_the_registered_and_private_ranges_are_sendable(code: int) -> None:
    assert is_sendable(code)


@pytest.mark.parametrize(
    "code",
    [
        CloseCode.GOING_AWAY,
        CloseCode.ABNORMAL_CLOSURE,
        CloseCode.INTERNAL_ERROR,
        CloseCode.SERVICE_RESTART,
        CloseCode.TRY_AGAIN_LATER,
    ],
    ids=lambda code: code.name,
)
def test_a_client_reconnects_after_transient_codes(code: CloseCode) -> None:
    assert should_reconnect(code)


@pytest.mark.parametrize(
    "code",
    [c for c in CloseCode if c not in RECONNECT_CODES],
    ids=lambda code: code.name,
)
def test_a_client_does_not_reconnect_after_other_codes(code: CloseCode) -> None:
    assert not should_reconnect(code)


def test_no_application_code_means_reconnect() -> None:
    assert [code for code in APP_CODES if should_reconnect(code)] == []


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (exceptions.UnsupportedData, CloseCode.UNSUPPORTED_DATA),
        (exceptions.InvalidPayload, CloseCode.INVALID_PAYLOAD),
        (exceptions.MessageTooBig, CloseCode.MESSAGE_TOO_BIG),
        (exceptions.Reject, CloseCode.FORBIDDEN),
        (exceptions.NotAuthenticated, CloseCode.NOT_AUTHENTICATED),
        (exceptions.InvalidToken, CloseCode.NOT_AUTHENTICATED),
        (exceptions.PermissionDenied, CloseCode.FORBIDDEN),
        (exceptions.RoomNotFound, CloseCode.ROOM_NOT_FOUND),
        (exceptions.TooManyConnections, CloseCode.TOO_MANY_CONNECTIONS),
        (exceptions.RoomClosed, CloseCode.ROOM_CLOSED),
        (exceptions.RateLimited, CloseCode.RATE_LIMITED),
        (exceptions.LayerUnavailable, CloseCode.TRY_AGAIN_LATER),
        (exceptions.DatabaseUnavailable, CloseCode.TRY_AGAIN_LATER),
        (exceptions.BadRequest, CloseCode.BAD_REQUEST),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_each_exception_carries_its_close_code(
    exception: type[exceptions.CloseConnection], code: CloseCode
) -> None:
    assert exception().code == code
    assert is_sendable(exception().code)


@pytest.mark.parametrize(
    "exception",
    [exceptions.LayerUnavailable, exceptions.DatabaseUnavailable],
    ids=lambda e: e.__name__,
)
def test_an_unavailable_service_is_a_retry_whose_reason_names_no_host(
    exception: type[exceptions.LayerUnavailable | exceptions.DatabaseUnavailable],
) -> None:
    exc = exception("Error 111 connecting to 127.0.0.1:6379.")
    assert exc.detail == "Error 111 connecting to 127.0.0.1:6379."
    assert "127.0.0.1" not in exc.reason
    assert should_reconnect(exc.code)


def test_a_close_connection_may_be_given_its_code() -> None:
    exc = exceptions.CloseConnection("busy", code=CloseCode.TRY_AGAIN_LATER)
    assert (exc.code, exc.reason, str(exc)) == (CloseCode.TRY_AGAIN_LATER, "busy", "busy")
    assert exceptions.CloseConnection().code == CloseCode.NORMAL_CLOSURE


def test_websocket_disconnect_carries_code_and_reason() -> None:
    exc = exceptions.WebSocketDisconnect(CloseCode.GOING_AWAY, "bye")
    assert (exc.code, exc.reason) == (CloseCode.GOING_AWAY, "bye")
    assert repr(exc) == f"WebSocketDisconnect(code={CloseCode.GOING_AWAY!r}, reason='bye')"
    assert exceptions.WebSocketDisconnect().code == CloseCode.NORMAL_CLOSURE


# -- close-frame rules --------------------------------------------------------------------------


def test_a_close_reason_is_at_most_123_bytes() -> None:
    # RFC 6455 §5.5: a control frame's 125 bytes, less the close code's two.
    assert MAX_CLOSE_REASON_BYTES == 123


@pytest.mark.parametrize(
    ("reason", "kept"),
    [
        pytest.param("a" * 123, "a" * 123, id="fits"),
        pytest.param("a" * 124, "a" * 123, id="ascii-cut"),
        pytest.param("é" * 62, "é" * 61, id="cut-before-a-split-character"),
        pytest.param("", "", id="empty"),
    ],
)
def test_truncate_reason_cuts_at_a_character_boundary(reason: str, kept: str) -> None:
    assert truncate_reason(reason) == kept
    assert close_reason_bytes(reason) == kept.encode()


def test_a_lone_surrogate_cannot_be_a_reason_but_a_server_writes_it_as_a_question_mark() -> None:
    with pytest.raises(UnicodeEncodeError):
        truncate_reason("bad \ud800")
    assert close_reason_bytes("bad \ud800") == b"bad ?"


@pytest.mark.parametrize("code", [CloseCode.NO_STATUS_RECEIVED, CloseCode.ABNORMAL_CLOSURE, 999])
def test_check_sendable_refuses_reserved_codes(code: int) -> None:
    with pytest.raises(ValueError, match=f"^{int(code)} is not a close code an endpoint may send"):
        check_sendable(code)


WSAPP_JS = Path(__file__).resolve().parents[2] / "wsapp" / "static" / "wsapp" / "wsapp.js"


def _js_block(name: str) -> str:
    source = WSAPP_JS.read_text()
    match = re.search(rf"export const {name} = Object\.freeze\(([\[{{].*?[\]}}])\);", source, re.S)
    assert match is not None, f"wsapp.js has no {name}"
    return match.group(1)


def test_wsapp_js_close_codes_mirror_closecode_exactly() -> None:
    pairs = re.findall(r"^\s*([A-Z_]+): (\d+),$", _js_block("CloseCode"), re.M)
    assert {name: int(value) for name, value in pairs} == {c.name: c.value for c in CloseCode}


def test_wsapp_js_reconnect_codes_are_reconnect_codes() -> None:
    names = re.findall(r"CloseCode\.([A-Z_]+)", _js_block("RECONNECT_CODES"))
    assert {CloseCode[name] for name in names} == RECONNECT_CODES
