"""``wsapp.conf``: one cached settings accessor over DEFAULTS, reset when a test overrides it;
the caches derived from the settings (the JSON codec, the routing table) follow it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django.urls import NoReverseMatch

from wsapp import jsoncodec, routing
from wsapp.checks import VALIDATORS
from wsapp.conf import DEFAULTS, MiB, get_settings, parse_rate


def upper_dumps(data: Any) -> str:
    """A ``JSON_DUMPS`` codec to tell apart from the default."""
    return jsoncodec.dumps(data).upper()


@override_settings(WSAPP={"IDLE_TIMEOUT": 5, "ROUTING": "x.routing"})
def test_the_projects_values_override_the_defaults() -> None:
    conf = get_settings()
    assert (conf["IDLE_TIMEOUT"], conf["ROUTING"]) == (5, "x.routing")
    assert {k: v for k, v in conf.items() if k not in {"IDLE_TIMEOUT", "ROUTING"}} == {
        k: v for k, v in DEFAULTS.items() if k not in {"IDLE_TIMEOUT", "ROUTING"}
    }


@override_settings(WSAPP={})
def test_an_empty_wsapp_gives_the_defaults() -> None:
    assert get_settings() == DEFAULTS


def test_design_defaults() -> None:
    assert (
        DEFAULTS["MAX_MESSAGE_SIZE"],
        DEFAULTS["HISTORY_LENGTH"],
        DEFAULTS["PRESENCE_TTL"],
        DEFAULTS["IDLE_TIMEOUT"],
        DEFAULTS["REQUIRE_ORIGIN"],
        DEFAULTS["ALLOWED_ORIGINS"],
        DEFAULTS["CLOSE_ON_HANDLER_ERROR"],
    ) == (MiB, 50, 30, None, False, None, False)
    assert MiB == 1024 * 1024


def test_the_settings_are_cached() -> None:
    assert get_settings() is get_settings()


def test_overriding_wsapp_resets_the_cache() -> None:
    before = get_settings()
    with override_settings(WSAPP={"MAX_QUEUE": 7}):
        inside = get_settings()
        assert inside is not before
        assert inside["MAX_QUEUE"] == 7
    assert get_settings()["MAX_QUEUE"] == before["MAX_QUEUE"]


def derived_caches() -> tuple[Any, Any, int]:
    """The settings, the default codec, and how many routing tables are cached (filling both)."""
    conf, codec = get_settings(), jsoncodec.default_codec()
    cached_tables = routing.get_resolver.cache_info().currsize
    routing.get_resolver()
    return conf, codec, cached_tables


@pytest.mark.parametrize("setting", ["WSAPP", "ALLOWED_HOSTS", "CHANNEL_LAYERS"])
def test_a_setting_wsapp_reads_resets_every_derived_cache(setting: str) -> None:
    conf, codec, _ = derived_caches()
    with override_settings(**{setting: {**conf} if setting == "WSAPP" else []}):
        inside, inside_codec, cached_tables = derived_caches()
        assert (inside is not conf, inside_codec is not codec, cached_tables) == (True, True, 0)
    after, after_codec, cached_tables = derived_caches()
    assert (after is not inside, after_codec is not inside_codec, cached_tables) == (True, True, 0)


def test_other_settings_do_not_reset_the_caches() -> None:
    conf, codec, _ = derived_caches()
    with override_settings(TIME_ZONE="Europe/Paris"):
        inside, inside_codec, cached_tables = derived_caches()
        assert (inside is conf, inside_codec is codec, cached_tables) == (True, True, 1)


def test_overriding_wsapp_changes_the_json_codec() -> None:
    assert jsoncodec.default_codec()[0]({"a": "b"}) == '{"a":"b"}'
    with override_settings(WSAPP={"JSON_DUMPS": f"{__name__}.upper_dumps"}):
        assert jsoncodec.default_codec()[0]({"a": "b"}) == '{"A":"B"}'
    assert jsoncodec.default_codec()[0]({"a": "b"}) == '{"a":"b"}'


def test_overriding_wsapp_changes_the_routing_table() -> None:
    with pytest.raises(NoReverseMatch):
        routing.reverse("square", n=7)  # the demo's table has no such route
    with override_settings(WSAPP={**get_settings(), "ROUTING": "tests.wsapp.routes"}):
        assert routing.reverse("square", n=7) == "/ws/square/7/"
    with pytest.raises(NoReverseMatch):
        routing.reverse("square", n=7)


def test_every_setting_but_routing_is_validated_by_a_check() -> None:
    assert set(VALIDATORS) == set(DEFAULTS) - {"ROUTING"}


@pytest.mark.parametrize("key", sorted(VALIDATORS))
def test_every_default_passes_its_own_check(key: str) -> None:
    test, _ = VALIDATORS[key]
    assert test(DEFAULTS[key])


@pytest.mark.parametrize(
    ("text", "rate", "burst"),
    [
        ("20/s", 20.0, 20.0),
        ("60/m", 1.0, 60.0),
        ("3600/h", 1.0, 3600.0),
        ("20/s burst 40", 20.0, 40.0),
        ("  5 / s  burst  7 ", 5.0, 7.0),
    ],
)
def test_parse_rate(text: str, rate: float, burst: float) -> None:
    assert parse_rate(text) == (rate, burst)


@pytest.mark.parametrize(
    "value",
    ["0/s", "fast", "20/d", "20 per second", "", "/s", "20/s burst", "-1/s", None, 20],
    ids=repr,
)
def test_parse_rate_refuses_what_is_not_a_rate(value: Any) -> None:
    with pytest.raises(ValueError) as info:
        parse_rate(value)
    assert str(info.value) == (
        f"{value!r} is not a rate; use 'N/s', 'N/m' or 'N/h', optionally with 'burst B'."
    )
