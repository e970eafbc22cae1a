"""The ``WSAPP`` settings dict: defaults, validation, and one cached accessor.

No other module reads ``settings.WSAPP``: they call :func:`get_settings`, which merges the
project's dict over :data:`DEFAULTS` once and is reset when a test overrides the setting.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

MiB = 1024 * 1024

#: Every setting wsapp reads, with its default; the system checks validate each one.
DEFAULTS: dict[str, Any] = {
    # Dotted path of the module whose ``urlpatterns`` is the websocket routing table.
    "ROUTING": None,
    # Origins allowed at the handshake (``"https://example.com"``, ``"*.example.com"``, ``"*"``).
    # ``None`` derives them from ``ALLOWED_HOSTS``, like channels' AllowedHostsOriginValidator.
    "ALLOWED_ORIGINS": None,
    # Refuse handshakes that carry no Origin header (non-browser clients send none).
    "REQUIRE_ORIGIN": False,
    # Largest incoming message in bytes; a bigger one closes the socket with 1009.
    "MAX_MESSAGE_SIZE": MiB,
    # Incoming messages queued per connection before the server stops reading its socket.
    "MAX_QUEUE": 64,
    # The same in bytes: ``manage.py serve`` stops reading a socket whose queued messages hold
    # this much (one message may go over it), so a connection holds about this plus one message.
    "MAX_QUEUE_BYTES": MiB,
    # Frames one incoming message may arrive in under ``manage.py serve`` (1008 above it): each
    # frame costs the server ~120 bytes beyond its payload, so 1-byte fragments pin 100× the data.
    "MAX_FRAGMENTS": 1024,
    # Ping and pong frames a client may send under ``manage.py serve``, as a rate (1008 above it).
    "CONTROL_FRAME_RATE": "10/s burst 50",
    # Bytes a second a client's compressed messages may inflate to under ``manage.py serve``;
    # above it the server stops reading that socket until the budget refills (None: no budget).
    "MAX_INFLATE_RATE": 4 * MiB,
    # Seconds a client gets to send its request headers under ``manage.py serve`` (408 after it).
    "HANDSHAKE_TIMEOUT": 10.0,
    # Seconds the application gets, once the request headers are in, to accept or deny the
    # handshake under ``manage.py serve`` (Daphne's websocket_connect_timeout); after it the
    # client gets 503 and the handler a disconnect. Checked every 2 s.
    "CONNECT_TIMEOUT": 10.0,
    # Connections whose request headers are still arriving, per ``manage.py serve`` process;
    # over it the oldest such connection is dropped.
    "MAX_PENDING_HANDSHAKES": 512,
    # Seconds without any incoming frame after which the socket is closed with 1001 (None: never).
    "IDLE_TIMEOUT": None,
    # Token bucket per connection, "N/s", "N/m" or "N/h", optionally "N/s burst B" (None: off).
    "RATE_LIMIT": None,
    # The same, shared by all of one user's connections on every process (None: off).
    "RATE_LIMIT_PER_USER": None,
    # Seconds over the limit before the socket is closed with 4429.
    "RATE_LIMIT_GRACE": 2.0,
    # Open sockets per authenticated user across all processes (None: unlimited).
    "MAX_CONNECTIONS_PER_USER": None,
    # Chat messages sent on join, and the cap on what ``?since=`` replays.
    "HISTORY_LENGTH": 50,
    "HISTORY_MAX_REPLAY": 500,
    # Rooms one ``TopicConsumer`` socket may be subscribed to at once (Centrifugo's default);
    # the next subscribe is refused with 4429 ``too_many_topics``, the socket stays open.
    "MAX_TOPICS_PER_CONNECTION": 128,
    # Seconds a process's presence entries live in the layer without a refresh.
    "PRESENCE_TTL": 30,
    # Lifetime of the signed connection tokens that ``/wsapp/token/`` hands out, in seconds.
    "TOKEN_MAX_AGE": 3600,
    # Where the token middleware looks for a wsapp token, in this order: a ``wsapp.token.<t>``
    # subprotocol entry, ``Authorization: Bearer``, ``?token=``. In the last two it takes only a
    # credential shaped like a wsapp token; any other passes through to the project's code.
    # Leave "query" out to keep tokens out of URLs (and logs); ``[]`` turns wsapp tokens off.
    "TOKEN_CARRIERS": ["subprotocol", "header", "query"],
    # Protocol-level keepalive under ``manage.py serve``: ping every N s, drop after M s silent
    # (``PING_INTERVAL: None``: no keepalive pings, so a vanished client is never noticed).
    "PING_INTERVAL": 20,
    "PING_TIMEOUT": 30,
    # Negotiate permessage-deflate (RFC 7692) under ``manage.py serve``.
    "COMPRESSION": True,
    # False: ask for server_no_context_takeover, so each message is compressed on its own and a
    # broadcast's compressed frame is built once per process, not once per member (one deflate
    # per message instead of per delivery, for a lower ratio on similar successive messages).
    "COMPRESSION_CONTEXT_TAKEOVER": True,
    # Bytes buffered for a client that does not read before it is closed with 1013.
    "MAX_SEND_BUFFER": 4 * MiB,
    # Seconds handlers get to finish after SIGTERM has sent every socket 1001.
    "SHUTDOWN_GRACE": 10.0,
    # A Consumer event handler that raises: error frame and stay open (False) or close 1011.
    "CLOSE_ON_HANDLER_ERROR": False,
    # Consecutive malformed frames a Consumer tolerates before closing with 4400.
    "MAX_INVALID_FRAMES": 10,
    # Dotted paths of the JSON codec ``send_json``/``receive_json`` use by default.
    "JSON_DUMPS": None,
    "JSON_LOADS": None,
    # Deepest nesting of arrays and objects the default codec decodes; deeper is invalid JSON
    # (``invalid_json``, or 1007 from ``receive_json``). serde_json's default: far beyond any real
    # message, far below the recursion limit that code walking a decoded message runs into.
    "JSON_MAX_DEPTH": 128,
    # Client addresses (or networks, "10.0.0.0/8") that may read ``/wsapp/metrics`` without a
    # staff login: the Prometheus scraper's. Staff users may read it from anywhere.
    "METRICS_ALLOWED_IPS": ["127.0.0.1", "::1"],
    # Peers whose X-Forwarded-For/-Proto headers ``serve --proxy-headers`` believes (addresses or
    # networks): the reverse proxy's. Any other peer's headers are ignored, so no client can
    # claim an address (see wsapp.proxy).
    "TRUSTED_PROXIES": ["127.0.0.1", "::1"],
    # The HTTP publish endpoint (``POST /wsapp/publish/``) for producers outside Django: off
    # until one of these is set. The HMAC key producers sign with (at least 32 characters)...
    "PUBLISH_SECRET": None,
    # ...and/or a server token sent as ``Authorization: Bearer <token>`` (at least 32 too).
    "PUBLISH_TOKEN": None,
    # Largest request body the endpoint reads (413 above it).
    "PUBLISH_MAX_BYTES": 64 * 1024,
    # Requests per credential kind and client address, a token bucket shared by every process.
    "PUBLISH_RATE": "100/s burst 200",
    # Seconds a signed request's timestamp may be from the server's clock (and is remembered,
    # so that a replay within them is refused).
    "PUBLISH_MAX_AGE": 300,
}

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|m|h)\s*(?:burst\s+(\d+))?\s*$")
_RATE_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}


@functools.cache
def get_settings() -> dict[str, Any]:
    """The effective ``WSAPP`` settings: the project's values over :data:`DEFAULTS`."""
    return {**DEFAULTS, **getattr(settings, "WSAPP", {})}


#: The Django settings whose change (a test's ``override_settings``) clears a cache derived from
#: them: this module's, and those of the modules that connect their own ``setting_changed``
#: receiver (routing's resolver, the JSON codec), each with a ``dispatch_uid``.
WATCHED_SETTINGS = frozenset({"WSAPP", "ALLOWED_HOSTS", "CHANNEL_LAYERS"})


@receiver(setting_changed, dispatch_uid="wsapp.conf.reset")
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        get_settings.cache_clear()


def parse_rate(value: str) -> tuple[float, float]:
    """Parse ``"20/s"`` or ``"20/s burst 40"`` into ``(tokens per second, burst size)``.

    Raises:
        ValueError: the text is not a rate; the message shows the accepted forms.
    """
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0 or int(match.group(3) or 1) == 0:
        raise ValueError(
            f"{value!r} is not a rate; use 'N/s', 'N/m' or 'N/h', optionally with 'burst B'."
        )
    count = int(match.group(1))
    rate = count / _RATE_PERIODS[match.group(2)]
    burst = float(match.group(3)) if match.group(3) else float(count)
    return rate, burst
