"""System checks: misconfiguration is an error at start-up, not a surprise at run time.

wsapp.E001  WSAPP["ROUTING"] is not set
wsapp.E002  WSAPP["ROUTING"] cannot be imported or has no urlpatterns
wsapp.E003  WSAPP has a key wsapp does not know (a typo)
wsapp.E004  a WSAPP value has the wrong type or range
wsapp.E005  CHANNEL_LAYERS has no "default" layer
wsapp.W001  the in-memory channel layer with DEBUG off (one process only)
wsapp.E010  WSAPP["PUBLISH_SECRET"] or ["PUBLISH_TOKEN"] is weak: short, repetitive, or SECRET_KEY
wsapp.W010  PUBLISH_SECRET and PUBLISH_TOKEN are the same string (one leak gives both away)
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning
from django.core.checks import register as register_check

from wsapp.conf import DEFAULTS, get_settings, parse_rate
from wsapp.tokens import CARRIERS

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _optional(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or test(value)


def _rate(value: Any) -> bool:
    try:
        parse_rate(value)
    except ValueError:
        return False
    return True


def _origins(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(o, str) and o for o in value)


def _dotted(value: Any) -> bool:
    return isinstance(value, str) and "." in value


def _ip_networks(value: Any) -> bool:
    if not isinstance(value, list | tuple):
        return False
    try:
        for item in value:
            if not isinstance(item, str):  # ip_network() would take an int as an address
                return False
            ipaddress.ip_network(item, strict=False)
    except ValueError:
        return False
    return True


def _carriers(value: Any) -> bool:
    """A list of distinct carrier names: a bare string would be read letter by letter."""
    return (
        isinstance(value, list | tuple)
        and all(isinstance(c, str) and c in CARRIERS for c in value)
        and len(set(value)) == len(value)
    )


#: key → (test, what a valid value is)
VALIDATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "ALLOWED_ORIGINS": (_optional(_origins), "None or a list of origin patterns"),
    "REQUIRE_ORIGIN": (lambda v: isinstance(v, bool), "True or False"),
    "MAX_MESSAGE_SIZE": (_optional(_positive_int), "a positive number of bytes, or None"),
    "MAX_QUEUE": (_positive_int, "a positive integer"),
    "IDLE_TIMEOUT": (_optional(_positive_number), "a positive number of seconds, or None"),
    "RATE_LIMIT": (_optional(_rate), "None or a rate such as '20/s' or '20/s burst 40'"),
    "RATE_LIMIT_PER_USER": (_optional(_rate), "None or a rate such as '50/s'"),
    "RATE_LIMIT_GRACE": (_positive_number, "a positive number of seconds"),
    "MAX_CONNECTIONS_PER_USER": (_optional(_positive_int), "a positive integer, or None"),
    "HISTORY_LENGTH": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "an integer ≥ 0",
    ),
    "HISTORY_MAX_REPLAY": (_positive_int, "a positive integer"),
    "MAX_TOPICS_PER_CONNECTION": (_positive_int, "a positive integer"),
    "PRESENCE_TTL": (_positive_number, "a positive number of seconds"),
    "TOKEN_MAX_AGE": (_positive_int, "a positive number of seconds"),
    "TOKEN_CARRIERS": (
        _carriers,
        "a list of distinct names from 'subprotocol', 'header', 'query' (or [] for no tokens)",
    ),
    "PING_INTERVAL": (_optional(_positive_number), "a positive number of seconds, or None"),
    "PING_TIMEOUT": (_positive_number, "a positive number of seconds"),
    "COMPRESSION": (lambda v: isinstance(v, bool), "True or False"),
    "COMPRESSION_CONTEXT_TAKEOVER": (lambda v: isinstance(v, bool), "True or False"),
    "MAX_SEND_BUFFER": (_positive_int, "a positive number of bytes"),
    "MAX_QUEUE_BYTES": (_positive_int, "a positive number of bytes"),
    "MAX_FRAGMENTS": (_positive_int, "a positive integer"),
    "CONTROL_FRAME_RATE": (_optional(_rate), "None or a rate such as '10/s burst 50'"),
    "MAX_INFLATE_RATE": (_optional(_positive_int), "a positive number of bytes a second, or None"),
    "HANDSHAKE_TIMEOUT": (_positive_number, "a positive number of seconds"),
    "CONNECT_TIMEOUT": (_positive_number, "a positive number of seconds"),
    "MAX_PENDING_HANDSHAKES": (_positive_int, "a positive integer"),
    "SHUTDOWN_GRACE": (lambda v: isinstance(v, int | float) and v >= 0, "a number of seconds ≥ 0"),
    "CLOSE_ON_HANDLER_ERROR": (lambda v: isinstance(v, bool), "True or False"),
    "MAX_INVALID_FRAMES": (_positive_int, "a positive integer"),
    "JSON_DUMPS": (_optional(_dotted), "None or the dotted path of a dumps(obj) -> str"),
    "JSON_LOADS": (_optional(_dotted), "None or the dotted path of a loads(str|bytes) -> obj"),
    "JSON_MAX_DEPTH": (_positive_int, "a positive integer"),
    "METRICS_ALLOWED_IPS": (
        _ip_networks,
        "a list of IP addresses or networks, e.g. ['127.0.0.1', '10.0.0.0/8']",
    ),
    "TRUSTED_PROXIES": (
        _ip_networks,
        "a list of your reverse proxies' addresses or networks, e.g. ['127.0.0.1', '10.0.0.0/8']",
    ),
    "PUBLISH_SECRET": (_optional(lambda v: isinstance(v, str)), "None or a string"),
    "PUBLISH_TOKEN": (_optional(lambda v: isinstance(v, str)), "None or a string"),
    "PUBLISH_MAX_BYTES": (_positive_int, "a positive number of bytes"),
    "PUBLISH_RATE": (_rate, "a rate such as '100/s burst 200'"),
    "PUBLISH_MAX_AGE": (_positive_number, "a positive number of seconds"),
}

#: The shortest publish credential accepted, and the fewest distinct characters in it.
PUBLISH_MIN_LENGTH = 32
PUBLISH_MIN_DISTINCT = 10


def _weakness(value: str) -> str | None:
    if len(value) < PUBLISH_MIN_LENGTH:
        return f"is {len(value)} characters; at least {PUBLISH_MIN_LENGTH} are needed"
    if len(set(value)) < PUBLISH_MIN_DISTINCT:
        return f"has only {len(set(value))} distinct characters"
    if value == getattr(settings, "SECRET_KEY", None):
        return "is SECRET_KEY (a leak of either would give both away)"
    return None


def check_publish_credentials(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Weak credentials of ``POST /wsapp/publish/``: anyone who guesses one posts to any room."""
    if not isinstance(getattr(settings, "WSAPP", {}), dict):
        return []  # E004 says so
    conf = get_settings()
    found: list[CheckMessage] = []
    values = {key: conf[key] for key in ("PUBLISH_SECRET", "PUBLISH_TOKEN")}
    for key, value in values.items():
        if not isinstance(value, str) or not value:
            continue  # off (None or "") or the wrong type (E004 says so)
        problem = _weakness(value)
        if problem is not None:
            found.append(
                Error(
                    f'WSAPP["{key}"] {problem}.',
                    hint="Use a random string: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'",
                    id="wsapp.E010",
                )
            )
    secret, token = values["PUBLISH_SECRET"], values["PUBLISH_TOKEN"]
    if isinstance(secret, str) and secret and secret == token:
        found.append(
            Warning(
                'WSAPP["PUBLISH_SECRET"] and WSAPP["PUBLISH_TOKEN"] are the same string.',
                hint="A token travels in every request: give the HMAC secret a value of its own.",
                id="wsapp.W010",
            )
        )
    return found


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    raw = getattr(settings, "WSAPP", {})
    if not isinstance(raw, dict):
        return [
            Error(
                "WSAPP must be a dict.",
                hint="WSAPP = {'ROUTING': 'mysite.routing'}",
                id="wsapp.E004",
            )
        ]
    for key in raw:
        if key not in DEFAULTS:
            close = difflib.get_close_matches(key, DEFAULTS, n=1)
            hint = f"Did you mean {close[0]!r}?" if close else "See README's Settings table."
            errors.append(Error(f"WSAPP has an unknown key {key!r}.", hint=hint, id="wsapp.E003"))
    conf = get_settings()
    for key, (test, expected) in VALIDATORS.items():
        if not test(conf[key]):
            errors.append(
                Error(f'WSAPP["{key}"] is {conf[key]!r}.', hint=f"Use {expected}.", id="wsapp.E004")
            )
    return errors


def check_routing(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from wsapp.routing import load_urlpatterns

    if not isinstance(getattr(settings, "WSAPP", {}), dict):
        return []  # check_settings reports it (E004); get_settings() cannot read it
    dotted = get_settings()["ROUTING"]
    if not dotted:
        return [
            Error(
                'WSAPP["ROUTING"] is not set.',
                hint="Name the module of your websocket urlpatterns: WSAPP = {'ROUTING': 'mysite.routing'}.",
                id="wsapp.E001",
            )
        ]
    try:
        load_urlpatterns()
    except Exception as exc:  # import errors of any kind in the user's module
        return [
            Error(
                f'WSAPP["ROUTING"] = {dotted!r} cannot be loaded: {exc}',
                hint="The module must import cleanly and define `urlpatterns = [path(...), ...]`.",
                id="wsapp.E002",
            )
        ]
    return []


def check_channel_layers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    if not layers:  # none configured: wsapp falls back to an in-memory layer
        layers = {"default": {"BACKEND": IN_MEMORY_LAYER}}
    if "default" not in layers:
        return [
            Error(
                'CHANNEL_LAYERS has no "default" layer.',
                hint="Add channels_redis.core.RedisChannelLayer (or InMemoryChannelLayer for one process).",
                id="wsapp.E005",
            )
        ]
    if layers["default"].get("BACKEND") == IN_MEMORY_LAYER and not settings.DEBUG:
        return [
            Warning(
                "The in-memory channel layer serves one process only.",
                hint="With several processes, rooms, presence and logouts need channels_redis.",
                id="wsapp.W001",
            )
        ]
    return []


def register() -> None:
    """Register wsapp's checks with Django (from ``WsappConfig.ready()``)."""
    register_check(check_settings, Tags.compatibility)
    register_check(check_routing, Tags.urls)
    register_check(check_channel_layers, Tags.compatibility)
    register_check(check_publish_credentials, Tags.security)
