"""Signed connection tokens (wsapp.tokens) and the view that hands them out (wsapp.views)."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.urls import reverse

from tests.support.credentials import FOREIGN, tampered
from wsapp.exceptions import InvalidToken
from wsapp.tokens import (
    MAX_TOKEN_LENGTH,
    SALT,
    _fingerprint,
    check_token,
    looks_like_token,
    make_token,
    user_for_token,
)

pytestmark = pytest.mark.django_db


def _backdate(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """Make the next token look as if it had been signed ``seconds`` ago."""
    stamp = int(time.time()) - seconds
    monkeypatch.setattr(
        signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(stamp)
    )


def test_a_token_names_its_user(user) -> None:
    assert check_token(make_token(user)) == user
    assert user_for_token(make_token(user)) == user


def test_a_token_is_a_valid_subprotocol_name_and_short(user) -> None:
    token = make_token(user)
    # RFC 6455 §4.1: a subprotocol is an HTTP token, so no ":" (signing's default separator).
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token)
    assert len(token) < 120


def test_the_token_does_not_carry_the_session_auth_hash(user) -> None:
    token = make_token(user)
    payload = signing.TimestampSigner(salt=SALT, sep=".").unsign_object(token)
    assert payload == [str(user.pk), _fingerprint(user)]
    assert user.get_session_auth_hash() not in token


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), id="signature"),
        pytest.param(lambda t: ("A" if t[0] != "A" else "B") + t[1:], id="payload"),
        pytest.param(lambda t: t.replace(".", ":"), id="separator"),
        pytest.param(lambda t: t.rsplit(".", 1)[0], id="no-signature"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: "not a token", id="garbage"),
        pytest.param(lambda t: t + "x" * MAX_TOKEN_LENGTH, id="oversize"),
    ],
)
def test_a_tampered_token_is_invalid(user, tamper) -> None:
    with pytest.raises(InvalidToken) as excinfo:
        check_token(tamper(make_token(user)))
    assert excinfo.value.reason == "Invalid token."
    assert user_for_token(tamper(make_token(user))) is None


def test_a_token_signed_for_another_purpose_is_invalid(user) -> None:
    payload = [str(user.pk), _fingerprint(user)]
    other_salt = signing.TimestampSigner(salt="someone.else", sep=".").sign_object(payload)
    other_key = signing.TimestampSigner(key="another-secret", salt=SALT, sep=".").sign_object(
        payload
    )
    for token in (other_salt, other_key, signing.dumps(payload, salt=SALT)):
        with pytest.raises(InvalidToken, match="^Invalid token.$"):
            check_token(token)


def test_a_signed_payload_of_the_wrong_shape_is_invalid(user) -> None:
    token = signing.TimestampSigner(salt=SALT, sep=".").sign_object({"user": user.pk})
    with pytest.raises(InvalidToken, match="^Invalid token.$"):
        check_token(token)


def test_an_expired_token_is_refused_as_expired(user, monkeypatch, settings) -> None:
    settings.WSAPP = {**settings.WSAPP, "TOKEN_MAX_AGE": 60}
    _backdate(monkeypatch, 61)
    token = make_token(user)
    monkeypatch.undo()
    with pytest.raises(InvalidToken) as excinfo:
        check_token(token)
    assert excinfo.value.reason == "Token expired."


def test_a_token_within_its_max_age_is_accepted(user, monkeypatch, settings) -> None:
    settings.WSAPP = {**settings.WSAPP, "TOKEN_MAX_AGE": 60}
    _backdate(monkeypatch, 50)
    token = make_token(user)
    monkeypatch.undo()
    assert check_token(token) == user


def test_a_password_change_kills_the_token(user) -> None:
    token = make_token(user)
    user.set_password("a-new-password")
    user.save()
    with pytest.raises(InvalidToken) as excinfo:
        check_token(token)
    assert excinfo.value.reason == "Token no longer valid."
    assert check_token(make_token(user)) == user


def test_a_deactivated_user_has_no_valid_token(user) -> None:
    token = make_token(user)
    user.is_active = False
    user.save()
    with pytest.raises(InvalidToken, match="^Token no longer valid.$"):
        check_token(token)


def test_a_deleted_user_has_no_valid_token(user) -> None:
    token = make_token(user)
    user.delete()
    with pytest.raises(InvalidToken, match="^Token no longer valid.$"):
        check_token(token)


def test_no_token_for_an_anonymous_user() -> None:
    with pytest.raises(ValueError, match="not a saved, real user"):
        make_token(AnonymousUser())


# -- the shape: how a wsapp token is told from a project's own credential -----------------------


def test_a_token_looks_like_a_token(user) -> None:
    assert looks_like_token(make_token(user))


@pytest.mark.parametrize("pk", ["1", "", "a1b2c3", "Ω-unicode", "~", "123e4567-e89b-12d3"])
def test_the_shape_holds_for_any_primary_key(pk: str) -> None:
    # A project's user model may have a string or UUID key: the array's first string varies.
    signed = signing.TimestampSigner(salt=SALT, sep=".").sign_object([pk, "f" * 20])
    assert looks_like_token(signed)


def test_a_refused_token_still_looks_like_one(user, monkeypatch, settings) -> None:
    """Tampered, expired or revoked, it is still a wsapp token: refused, never passed on."""
    settings.WSAPP = {**settings.WSAPP, "TOKEN_MAX_AGE": 60}
    _backdate(monkeypatch, 61)
    expired = make_token(user)
    monkeypatch.undo()
    revoked = make_token(user)
    user.set_password("a-new-password")
    user.save()
    good = make_token(user)
    for token in (expired, revoked, tampered(good)):
        assert looks_like_token(token), token
        with pytest.raises(InvalidToken):
            check_token(token)


@pytest.mark.parametrize(
    "credential",
    [
        *FOREIGN,
        pytest.param("", id="empty"),
        pytest.param("gAAAAABnY2ZhbWFuZGF0b3J5LWZlcm5ldA==", id="fernet"),
        pytest.param("v4.local.c2VjcmV0LXBheWxvYWQ", id="paseto"),
        pytest.param("123e4567-e89b-12d3-a456-426614174000", id="uuid"),
        pytest.param("WyIxIl0:1xYeXS:" + "s" * 43, id="django-signing-default-separator"),
        pytest.param("WyIxIl0.1xYeXS." + "s" * 42, id="short-signature"),
        pytest.param("WyIxIl0.1xYeXS." + "s" * 43 + ".x", id="a-fourth-part"),
        pytest.param("eyJ1c2VyIjoxfQ.1xYeXS." + "s" * 43, id="signed-object-not-array"),
        pytest.param("WyIxIl0.1xYeXS." + "s" * 43 + " ", id="trailing-space"),
    ],
)
def test_other_credentials_do_not_look_like_a_token(credential: str) -> None:
    assert not looks_like_token(credential)


def test_an_oversize_credential_is_not_a_token(user) -> None:
    token = make_token(user)
    padded = token.replace(".", "A" * MAX_TOKEN_LENGTH + ".", 1)
    assert looks_like_token(token) and not looks_like_token(padded)


# -- the view ---------------------------------------------------------------------------------


def test_the_token_url_is_named() -> None:
    assert reverse("wsapp:token") == "/wsapp/token/"


def test_the_view_gives_a_logged_in_user_a_token(client, user, settings) -> None:
    settings.WSAPP = {**settings.WSAPP, "TOKEN_MAX_AGE": 900}
    client.force_login(user)
    response = client.get("/wsapp/token/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_in"}
    assert body["expires_in"] == 900
    assert check_token(body["token"]) == user
    assert "no-store" in response["Cache-Control"]


def test_the_view_answers_anonymous_with_401_json_not_a_redirect(client) -> None:
    response = client.get("/wsapp/token/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "error": "not_authenticated",
        "message": "Log in to get a connection token.",
    }
    assert response["WWW-Authenticate"] == 'Session realm="wsapp"'


def test_the_view_only_answers_get(client, user) -> None:
    client.force_login(user)
    assert client.post("/wsapp/token/").status_code == 405
