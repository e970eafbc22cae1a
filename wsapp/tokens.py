"""Signed connection tokens: for clients that have no session cookie (apps, scripts, services).

A token is Django ``signing`` output — salted, timestamped, HMAC'd with ``SECRET_KEY`` — naming a
user's primary key and a fingerprint of that user's session auth hash. The hash changes with the
password, so a password change kills every token made before it, as it logs out every session.
Nothing is stored server-side: a token lives until ``WSAPP["TOKEN_MAX_AGE"]`` runs out.

Tokens use ``.`` as the separator, so they contain only ``[A-Za-z0-9_.-]``: valid in a
``Sec-WebSocket-Protocol`` entry (RFC 6455 §4.1 requires an HTTP token, and ``:`` is not one), in
an ``Authorization`` header and in a query string, with no escaping.

A token also has a shape no other credential has (:func:`looks_like_token`): three ``.``-separated
parts, the first base64 of a JSON array (``WyI``/``WyJ``: a JWT's starts ``eyJ``, an object), the
second a base-62 timestamp, the third a 43-character HMAC-SHA256. That is how the auth middleware
tells a wsapp token in ``Authorization: Bearer`` or ``?token=`` from a project's own credential,
which it leaves alone. The shape is the one wsapp has always issued: no token in flight, and no
process of an older release in a rolling deploy, meets a new format.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare

from wsapp.conf import get_settings
from wsapp.exceptions import InvalidToken

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

__all__ = ["check_token", "looks_like_token", "make_token", "token_max_age", "user_for_token"]

#: Namespaces the signature, so no other signed value of the project passes for a token.
SALT = "wsapp.tokens"
SEPARATOR = "."
#: Tokens are ~100 characters; refuse to decode anything much larger.
MAX_TOKEN_LENGTH = 512
#: Where a client may carry a token, in the order the auth middleware looks (``TOKEN_CARRIERS``).
CARRIERS = ("subprotocol", "header", "query")
#: What :func:`make_token` produces: ``b64(json list).b62(timestamp).b64(hmac-sha256)``. JSON
#: escapes non-ASCII, so the array's first string starts with a byte < 0x80: ``WyI`` or ``WyJ``.
TOKEN_SHAPE = re.compile(r"Wy[IJ][A-Za-z0-9_-]*\.[0-9A-Za-z]{1,12}\.[A-Za-z0-9_-]{43}")


def _signer() -> signing.TimestampSigner:
    # The algorithm is named, not Django's default: the 43-character signature is part of
    # TOKEN_SHAPE, which must not change under a Django upgrade.
    return signing.TimestampSigner(salt=SALT, sep=SEPARATOR, algorithm="sha256")


def _fingerprint(user: AbstractBaseUser) -> str:
    """A short digest of the session auth hash: binds the token to the current password
    without putting the hash itself in a token that travels to clients."""
    return hashlib.sha256(user.get_session_auth_hash().encode()).hexdigest()[:20]


def token_max_age() -> int:
    """Seconds a new token stays valid: ``WSAPP["TOKEN_MAX_AGE"]``."""
    return int(get_settings()["TOKEN_MAX_AGE"])


def make_token(user: AbstractBaseUser) -> str:
    """A signed token that authenticates ``user`` for ``WSAPP["TOKEN_MAX_AGE"]`` seconds.

    Raises:
        ValueError: ``user`` is anonymous or not saved.
    """
    if not getattr(user, "is_authenticated", False) or user.pk is None:
        raise ValueError(f"Cannot make a token for {user!r}: it is not a saved, real user.")
    pk = user._meta.pk.value_to_string(user)  # type: ignore[union-attr]
    return _signer().sign_object([pk, _fingerprint(user)], compress=False)


def check_token(token: str) -> AbstractBaseUser:
    """The active user ``token`` names. Runs a query: call it from sync code or a thread.

    Raises:
        InvalidToken: tampered, signed by another key or salt, expired, malformed, or its user
            is gone, inactive or has changed password since. Its ``reason`` says which.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("Invalid token.")
    try:
        payload: Any = _signer().unsign_object(token, max_age=token_max_age())
    except signing.SignatureExpired:
        raise InvalidToken("Token expired.") from None
    except (signing.BadSignature, ValueError):  # ValueError: bad base64/JSON under a good sig
        raise InvalidToken("Invalid token.") from None
    if not (isinstance(payload, list) and len(payload) == 2 and all(map(_is_str, payload))):
        raise InvalidToken("Invalid token.")
    pk, fingerprint = payload
    model = get_user_model()
    try:
        user = model._default_manager.get(pk=model._meta.pk.to_python(pk))  # type: ignore[union-attr]
    except (model.DoesNotExist, ValidationError):  # deleted; or a pk type from another project
        raise InvalidToken("Token no longer valid.") from None
    if not getattr(user, "is_active", True):
        raise InvalidToken("Token no longer valid.")
    if not constant_time_compare(fingerprint, _fingerprint(user)):
        raise InvalidToken("Token no longer valid.")
    return user  # type: ignore[no-any-return]


def looks_like_token(credential: str) -> bool:
    """Whether ``credential`` has the shape of a wsapp token, valid or not (no signature check).

    A tampered, expired or revoked wsapp token still has it (and is refused); a project's API key,
    a JWT or an opaque OAuth token does not (and is not wsapp's to judge).
    """
    return len(credential) <= MAX_TOKEN_LENGTH and TOKEN_SHAPE.fullmatch(credential) is not None


def user_for_token(token: str) -> AbstractBaseUser | None:
    """The active user ``token`` names, or ``None`` for any invalid token. Runs a query."""
    try:
        return check_token(token)
    except InvalidToken:
        return None


def _is_str(value: Any) -> bool:
    return isinstance(value, str)
