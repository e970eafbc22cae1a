"""``POST /wsapp/publish/``: messages from producers outside Django to rooms and users.

Another service, a shell script or a cron job has no Django session and should not need one:
it proves itself with a server credential, never a cookie — an HMAC signature of the request
(``WSAPP["PUBLISH_SECRET"]``) or a bearer token (``WSAPP["PUBLISH_TOKEN"]``). Centrifugo's
server API and AnyCable's broadcast endpoint are the models. The endpoint is off (404) until
one of the two is set.

A signed request carries ``X-Wsapp-Timestamp: <unix seconds>`` and ``X-Wsapp-Signature:
sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>." + body`` under the secret. It is refused
when its timestamp is more than ``PUBLISH_MAX_AGE`` seconds from the server's clock, and a
second time within that window (a replay): each signed request is delivered once.

Checked in order, each refusal a JSON ``{"error", "message"}``: 404 off, 405 not a POST, 413
over ``PUBLISH_MAX_BYTES``, 429 over ``PUBLISH_RATE`` (a token bucket in the hub's store, shared
by every process, per credential kind and client address; ``Retry-After`` says when to retry),
401 no or bad credential, 400 not the JSON below, 503 the channel layer is away.

The body: ``{"room": slug, "data": any}`` (``rooms.broadcast``), ``{"room": slug, "data": str,
"raw": true}`` (``rooms.broadcast_raw``: a text frame, unchanged) or ``{"user": pk, "data":
any}`` (``rooms.send_to_user``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from wsapp import jsoncodec
from wsapp.conf import get_settings, parse_rate
from wsapp.exceptions import LayerUnavailable
from wsapp.hub import messages
from wsapp.hub.publish import publish_raw, publish_to_room, publish_to_user
from wsapp.hub.store import TTLStore, store_for
from wsapp.hub.users import connections_key
from wsapp.layers import get_layer
from wsapp.rooms.presence import room_connections

SIGNATURE_HEADER = "X-Wsapp-Signature"
TIMESTAMP_HEADER = "X-Wsapp-Timestamp"
_FIELDS = frozenset({"room", "user", "data", "raw"})


class Refused(Exception):
    """A request the endpoint answers with ``status`` and a JSON error."""

    def __init__(
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        response = JsonResponse({"error": self.error, "message": self.message}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Wsapp-Signature`` value of ``body`` sent at ``timestamp`` (for producers too)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


@csrf_exempt
@never_cache
async def publish_view(request: HttpRequest) -> JsonResponse:
    """Deliver one message to a room or a user; answer what it was delivered to."""
    conf = get_settings()
    try:
        if not (conf["PUBLISH_SECRET"] or conf["PUBLISH_TOKEN"]):
            raise Refused(404, "not_found", "Publishing is off: set WSAPP['PUBLISH_SECRET'].")
        if request.method != "POST":
            raise Refused(405, "method_not_allowed", "POST a JSON body.", {"Allow": "POST"})
        body = _body(request, int(conf["PUBLISH_MAX_BYTES"]))
        store = store_for(get_layer())
        await _spend(store, request, conf["PUBLISH_RATE"])
        await _authenticate(store, request, body, conf)
        room, user, data, raw = _parse(body)
        if room is not None:
            return JsonResponse(await _to_room(store, room, data, raw))
        assert user is not None
        return JsonResponse(await _to_user(store, user, data))
    except Refused as refused:
        return refused.response()
    except LayerUnavailable:
        return Refused(
            503, "unavailable", "The channel layer is not answering.", {"Retry-After": "5"}
        ).response()


def _body(request: HttpRequest, limit: int) -> bytes:
    too_large = Refused(413, "too_large", f"The body is over PUBLISH_MAX_BYTES ({limit} bytes).")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large  # refused before it is read
    try:
        body = request.body
    except RequestDataTooBig:  # over Django's own DATA_UPLOAD_MAX_MEMORY_SIZE
        raise too_large from None
    if len(body) > limit:
        raise too_large
    return body


def _credential_kind(request: HttpRequest) -> str:
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return "token"
    if SIGNATURE_HEADER in request.headers:
        return "hmac"
    return "none"


async def _spend(store: TTLStore, request: HttpRequest, rate: str) -> None:
    """One request from the bucket of its credential kind and address (guesses pay too)."""
    per_second, burst = parse_rate(rate)
    interval_us = max(1, round(1_000_000 / per_second))
    key = f"publish.rate.{_credential_kind(request)}.{request.META.get('REMOTE_ADDR', '')}"
    if not await store.spend(key, interval_us, max(1, int(burst)), _now_us()):
        retry = str(max(1, math.ceil(interval_us / 1_000_000)))
        raise Refused(429, "rate_limited", f"Over PUBLISH_RATE ({rate}).", {"Retry-After": retry})


async def _authenticate(
    store: TTLStore, request: HttpRequest, body: bytes, conf: dict[str, Any]
) -> None:
    challenge = {"WWW-Authenticate": 'Bearer realm="wsapp publish"'}
    header = request.headers.get("Authorization", "")
    token = conf["PUBLISH_TOKEN"]
    if header.startswith("Bearer "):
        if token and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
            return
        raise Refused(401, "bad_token", "The bearer token is not the publish token.", challenge)
    sent = request.headers.get(SIGNATURE_HEADER)
    if sent is None:
        raise Refused(
            401,
            "not_authenticated",
            f"Sign the body ({SIGNATURE_HEADER}) or send the publish token; "
            "a session is not a credential here.",
            challenge,
        )
    secret = conf["PUBLISH_SECRET"]
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    max_age = float(conf["PUBLISH_MAX_AGE"])
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > max_age:
        raise Refused(
            401, "stale", f"{TIMESTAMP_HEADER} must be unix seconds within {max_age:g} s of now."
        )
    if not secret or not hmac.compare_digest(
        sent.encode(), signature(secret, stamp, body).encode()
    ):
        raise Refused(401, "bad_signature", "The signature does not match the body.")
    # A bucket of one per signature, full again after the window: the first use passes, any
    # replay while the timestamp is still accepted does not — on every process at once.
    window_us = max(1, round(2 * max_age * 1_000_000))
    if not await store.spend(f"publish.seen.{sent[7:]}", window_us, 1, _now_us()):
        raise Refused(401, "replayed", "This signed request was delivered already; sign again.")


def _parse(body: bytes) -> tuple[str | None, str | None, Any, bool]:
    try:
        payload = jsoncodec.default_codec()[1](body)
    except (ValueError, TypeError) as exc:
        raise Refused(400, "invalid_json", f"The body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Refused(400, "invalid_fields", "The body must be a JSON object.")
    unknown = sorted(set(payload) - _FIELDS)
    if unknown:
        raise Refused(400, "invalid_fields", f"Unknown fields: {', '.join(unknown)}.")
    if ("room" in payload) == ("user" in payload):
        raise Refused(400, "invalid_fields", 'Name exactly one of "room" and "user".')
    if "data" not in payload:
        raise Refused(400, "invalid_fields", '"data" is missing.')
    raw = payload.get("raw", False)
    if not isinstance(raw, bool):
        raise Refused(400, "invalid_fields", '"raw" must be true or false.')
    room, user, data = payload.get("room"), payload.get("user"), payload["data"]
    if raw and (room is None or not isinstance(data, str)):
        raise Refused(400, "invalid_fields", '"raw" takes a "room" and a string "data".')
    try:
        if room is not None:
            messages.room_group(room)
        else:
            if isinstance(user, int) and not isinstance(user, bool):
                user = str(user)
            messages.user_group(user)  # type: ignore[arg-type]  # a non-str raises ValueError
    except ValueError as exc:
        raise Refused(400, "invalid_fields", str(exc)) from exc
    return room, user, data, raw


async def _to_room(store: TTLStore, room: str, data: Any, raw: bool) -> dict[str, Any]:
    if raw:
        await publish_raw(room, data)
    else:
        await publish_to_room(room, data)
    members = await room_connections(store, room)
    return {
        "room": room,
        "raw": raw,
        "connections": len(members),
        "users": len({m["user"] for m in members}),
    }


async def _to_user(store: TTLStore, user: str, data: Any) -> dict[str, Any]:
    await publish_to_user(user, data)
    counted = get_settings()["MAX_CONNECTIONS_PER_USER"] is not None
    sockets = len(await store.members(connections_key(user))) if counted else None
    return {"user": user, "connections": sockets}


def _now_us() -> int:
    return int(time.time() * 1_000_000)


__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "publish_view", "signature"]
