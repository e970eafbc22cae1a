"""``wsapp.conf``: one cached settings accessor over DEFAULTS, reset when a test overrides it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from wsapp.checks import VALIDATORS
from wsapp.conf import _RESET_HOOKS, DEFAULTS, MiB, get_settings, on_reset, parse_rate


@pytest.fixture
def resets() -> Iterator[list[str]]:
    calls: list[str] = []
    hook = on_reset(lambda: calls.append("reset"))
    yield calls
    _RESET_HOOKS.remove(hook)


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


@pytest.mark.parametrize("setting", ["WSAPP", "ALLOWED_HOSTS", "CHANNEL_LAYERS"])
def test_reset_hooks_run_when_a_setting_wsapp_reads_changes(
    setting: str, resets: list[str]
) -> None:
    with override_settings(**{setting: {} if setting != "ALLOWED_HOSTS" else []}):
        assert resets == ["reset"]
    assert resets == ["reset", "reset"]


def test_other_settings_do_not_reset_the_cache(resets: list[str]) -> None:
    before = get_settings()
    with override_settings(TIME_ZONE="Europe/Paris"):
        assert get_settings() is before
    assert resets == []


def test_on_reset_returns_the_hook() -> None:
    def hook() -> None:
        pass

    assert on_reset(hook) is hook
    _RESET_HOOKS.remove(hook)


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
