"""System checks: each id, the exact list ``run_checks()`` returns for it."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.core.checks import CheckMessage, Error, Warning, run_checks
from django.test import override_settings

ROUTING = "tests.wsapp.routes"
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
REDIS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]},
    }
}


def wsapp_messages(**tags: Any) -> list[CheckMessage]:
    return [m for m in run_checks(**tags) if m.id and m.id.startswith("wsapp.")]


@override_settings(DEBUG=True, WSAPP={"ROUTING": ROUTING}, CHANNEL_LAYERS=IN_MEMORY)
def test_a_good_configuration_has_no_messages() -> None:
    assert wsapp_messages() == []


@override_settings(DEBUG=True, WSAPP={"ROUTING": "config.routing"}, CHANNEL_LAYERS=REDIS)
def test_the_demo_configuration_with_redis_has_no_messages() -> None:
    assert wsapp_messages() == []


# -- E001: no ROUTING ------------------------------------------------------------------------------

E001 = Error(
    'WSAPP["ROUTING"] is not set.',
    hint="Name the module of your websocket urlpatterns: WSAPP = {'ROUTING': 'mysite.routing'}.",
    id="wsapp.E001",
)


@override_settings(DEBUG=True, WSAPP={}, CHANNEL_LAYERS=IN_MEMORY)
def test_e001_routing_not_set() -> None:
    assert wsapp_messages() == [E001]


@override_settings(DEBUG=True, WSAPP={"ROUTING": ""}, CHANNEL_LAYERS=IN_MEMORY)
def test_e001_routing_empty() -> None:
    assert wsapp_messages() == [E001]


@override_settings(DEBUG=True, WSAPP={}, CHANNEL_LAYERS=IN_MEMORY)
def test_e001_is_a_urls_check() -> None:
    assert wsapp_messages(tags=["urls"]) == [E001]


# -- E002: ROUTING cannot be loaded ----------------------------------------------------------------

E002_HINT = "The module must import cleanly and define `urlpatterns = [path(...), ...]`."


@override_settings(
    DEBUG=True, WSAPP={"ROUTING": "tests.wsapp.no_such_routes"}, CHANNEL_LAYERS=IN_MEMORY
)
def test_e002_routing_module_missing() -> None:
    assert wsapp_messages() == [
        Error(
            "WSAPP[\"ROUTING\"] = 'tests.wsapp.no_such_routes' cannot be loaded: "
            "No module named 'tests.wsapp.no_such_routes'",
            hint=E002_HINT,
            id="wsapp.E002",
        )
    ]


@override_settings(DEBUG=True, WSAPP={"ROUTING": "tests.wsapp.helpers"}, CHANNEL_LAYERS=IN_MEMORY)
def test_e002_routing_module_without_urlpatterns() -> None:
    assert wsapp_messages() == [
        Error(
            "WSAPP[\"ROUTING\"] = 'tests.wsapp.helpers' cannot be loaded: "
            "tests.wsapp.helpers has no `urlpatterns` list of wsapp routes.",
            hint=E002_HINT,
            id="wsapp.E002",
        )
    ]


@override_settings(DEBUG=True, WSAPP={"ROUTING": "tests.wsapp.broken"}, CHANNEL_LAYERS=IN_MEMORY)
def test_e002_routing_module_that_fails_to_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tests.wsapp.broken", None)  # import raises ImportError
    assert wsapp_messages() == [
        Error(
            "WSAPP[\"ROUTING\"] = 'tests.wsapp.broken' cannot be loaded: "
            "import of tests.wsapp.broken halted; None in sys.modules",
            hint=E002_HINT,
            id="wsapp.E002",
        )
    ]


# -- E003: unknown keys ----------------------------------------------------------------------------


@override_settings(
    DEBUG=True,
    WSAPP={"ROUTING": ROUTING, "MAX_MESAGE_SIZE": 10},
    CHANNEL_LAYERS=IN_MEMORY,
)
def test_e003_unknown_key_with_a_suggestion() -> None:
    assert wsapp_messages() == [
        Error(
            "WSAPP has an unknown key 'MAX_MESAGE_SIZE'.",
            hint="Did you mean 'MAX_MESSAGE_SIZE'?",
            id="wsapp.E003",
        )
    ]


@override_settings(DEBUG=True, WSAPP={"ROUTING": ROUTING, "FOO": 1}, CHANNEL_LAYERS=IN_MEMORY)
def test_e003_unknown_key_without_a_suggestion() -> None:
    assert wsapp_messages() == [
        Error(
            "WSAPP has an unknown key 'FOO'.",
            hint="See README's Settings table.",
            id="wsapp.E003",
        )
    ]


# -- E004: bad values ------------------------------------------------------------------------------

METRICS_IPS_HINT = "Use a list of IP addresses or networks, e.g. ['127.0.0.1', '10.0.0.0/8']."


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("MAX_MESSAGE_SIZE", 0, "Use a positive number of bytes, or None."),
        ("MAX_MESSAGE_SIZE", "1MB", "Use a positive number of bytes, or None."),
        ("MAX_QUEUE", True, "Use a positive integer."),
        ("IDLE_TIMEOUT", -1, "Use a positive number of seconds, or None."),
        ("RATE_LIMIT", "fast", "Use None or a rate such as '20/s' or '20/s burst 40'."),
        ("RATE_LIMIT", "0/s", "Use None or a rate such as '20/s' or '20/s burst 40'."),
        ("ALLOWED_ORIGINS", "https://example.com", "Use None or a list of origin patterns."),
        ("ALLOWED_ORIGINS", [""], "Use None or a list of origin patterns."),
        ("REQUIRE_ORIGIN", "yes", "Use True or False."),
        ("COMPRESSION", 1, "Use True or False."),
        ("CLOSE_ON_HANDLER_ERROR", None, "Use True or False."),
        ("MAX_INVALID_FRAMES", 0, "Use a positive integer."),
        ("HISTORY_LENGTH", -1, "Use an integer ≥ 0."),
        ("SHUTDOWN_GRACE", -0.5, "Use a number of seconds ≥ 0."),
        ("PING_INTERVAL", 0, "Use a positive number of seconds, or None."),
        ("JSON_DUMPS", "orjson", "Use None or the dotted path of a dumps(obj) -> str."),
        ("JSON_MAX_DEPTH", 0, "Use a positive integer."),
        ("METRICS_ALLOWED_IPS", "127.0.0.1", METRICS_IPS_HINT),
        ("METRICS_ALLOWED_IPS", ["localhost"], METRICS_IPS_HINT),
        ("METRICS_ALLOWED_IPS", [2130706433], METRICS_IPS_HINT),
        ("MAX_QUEUE_BYTES", 0, "Use a positive number of bytes."),
        ("MAX_FRAGMENTS", 1.5, "Use a positive integer."),
        ("CONTROL_FRAME_RATE", "lots", "Use None or a rate such as '10/s burst 50'."),
        ("MAX_INFLATE_RATE", -1, "Use a positive number of bytes a second, or None."),
        ("HANDSHAKE_TIMEOUT", None, "Use a positive number of seconds."),
        ("MAX_PENDING_HANDSHAKES", 0, "Use a positive integer."),
    ],
    ids=lambda value: repr(value) if not isinstance(value, str) or " " not in value else None,
)
def test_e004_bad_value(key: str, value: Any, hint: str) -> None:
    with override_settings(
        DEBUG=True, WSAPP={"ROUTING": ROUTING, key: value}, CHANNEL_LAYERS=IN_MEMORY
    ):
        assert wsapp_messages() == [
            Error(f'WSAPP["{key}"] is {value!r}.', hint=hint, id="wsapp.E004")
        ]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MAX_MESSAGE_SIZE", None),
        ("IDLE_TIMEOUT", 0.5),
        ("RATE_LIMIT", "20/s burst 40"),
        ("ALLOWED_ORIGINS", ["https://example.com", "*.example.org"]),
        ("HISTORY_LENGTH", 0),
        ("SHUTDOWN_GRACE", 0),
        ("JSON_DUMPS", "json.dumps"),
        ("JSON_MAX_DEPTH", 1_000),
        ("METRICS_ALLOWED_IPS", ["10.0.0.0/8", "::1", "192.168.1.7"]),
        ("METRICS_ALLOWED_IPS", []),
        ("CONTROL_FRAME_RATE", None),
        ("MAX_INFLATE_RATE", None),
        ("HANDSHAKE_TIMEOUT", 2.5),
    ],
)
def test_e004_accepts_good_values(key: str, value: Any) -> None:
    with override_settings(
        DEBUG=True, WSAPP={"ROUTING": ROUTING, key: value}, CHANNEL_LAYERS=IN_MEMORY
    ):
        assert wsapp_messages() == []


@override_settings(DEBUG=True, WSAPP=["ROUTING"], CHANNEL_LAYERS=IN_MEMORY)
def test_e004_wsapp_that_is_not_a_dict_is_one_error() -> None:
    assert wsapp_messages() == [
        Error(
            "WSAPP must be a dict.",
            hint="WSAPP = {'ROUTING': 'mysite.routing'}",
            id="wsapp.E004",
        )
    ]


@override_settings(
    DEBUG=True,
    WSAPP={"ROUTING": ROUTING, "IDLE_TIME": 5, "MAX_QUEUE": 0},
    CHANNEL_LAYERS=IN_MEMORY,
)
def test_e003_and_e004_are_reported_together() -> None:
    assert wsapp_messages() == [
        Error(
            "WSAPP has an unknown key 'IDLE_TIME'.",
            hint="Did you mean 'IDLE_TIMEOUT'?",
            id="wsapp.E003",
        ),
        Error('WSAPP["MAX_QUEUE"] is 0.', hint="Use a positive integer.", id="wsapp.E004"),
    ]


# -- E005 and W001: channel layers -----------------------------------------------------------------

E005 = Error(
    'CHANNEL_LAYERS has no "default" layer.',
    hint="Add channels_redis.core.RedisChannelLayer (or InMemoryChannelLayer for one process).",
    id="wsapp.E005",
)
W001 = Warning(
    "The in-memory channel layer serves one process only.",
    hint="With several processes, rooms, presence and logouts need channels_redis.",
    id="wsapp.W001",
)


@override_settings(DEBUG=True, WSAPP={"ROUTING": ROUTING}, CHANNEL_LAYERS={})
def test_no_channel_layers_at_all_is_fine_with_debug_the_fallback_is_in_memory() -> None:
    assert wsapp_messages() == []


@override_settings(DEBUG=False, WSAPP={"ROUTING": ROUTING}, CHANNEL_LAYERS={})
def test_no_channel_layers_with_debug_off_warns_like_the_in_memory_layer() -> None:
    assert wsapp_messages() == [W001]


@override_settings(
    DEBUG=True, WSAPP={"ROUTING": ROUTING}, CHANNEL_LAYERS={"other": IN_MEMORY["default"]}
)
def test_e005_no_default_layer() -> None:
    assert wsapp_messages() == [E005]


@override_settings(DEBUG=False, WSAPP={"ROUTING": ROUTING}, CHANNEL_LAYERS=IN_MEMORY)
def test_w001_in_memory_layer_with_debug_off() -> None:
    assert wsapp_messages() == [W001]


@override_settings(DEBUG=True, WSAPP={"ROUTING": ROUTING}, CHANNEL_LAYERS=IN_MEMORY)
def test_w001_not_raised_with_debug_on() -> None:
    assert wsapp_messages() == []


@override_settings(DEBUG=False, WSAPP={"ROUTING": ROUTING}, CHANNEL_LAYERS=REDIS)
def test_w001_not_raised_for_redis_with_debug_off() -> None:
    assert wsapp_messages() == []


@override_settings(DEBUG=False, WSAPP={}, CHANNEL_LAYERS=IN_MEMORY)
def test_every_problem_is_reported_at_once() -> None:
    # Django keeps registered checks in a set: the order of their messages is not theirs to keep.
    assert sorted(wsapp_messages(), key=lambda message: message.id) == [E001, W001]
