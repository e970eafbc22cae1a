"""``wsapp.server.budgets``: the per-connection budgets ``serve`` checks before each cost."""

from __future__ import annotations

import pytest

from wsapp.conf import parse_rate
from wsapp.server import budgets as budgets_module
from wsapp.server.budgets import Budgets, ByteBudget, Limits

MiB = 1024 * 1024


def test_byte_budget_goes_into_debt_and_says_how_long_to_wait() -> None:
    budget = ByteBudget(rate=100.0, burst=200.0)
    assert budget.spend(150, now=0.0) == 0.0
    assert budget.spend(150, now=0.0) == pytest.approx(1.0)  # 100 bytes of debt at 100/s
    assert budget.spend(0, now=1.0) == 0.0  # paid off
    assert budget.spend(0, now=100.0) == 0.0
    assert budget.tokens == 200.0  # refills up to the burst, no further


def test_fragments_are_counted_per_message() -> None:
    budgets = Budgets(Limits(max_fragments=3), max_message_size=MiB)
    assert [budgets.fragment() for _ in range(4)] == [True, True, True, False]
    budgets.fragments = 0  # the protocol resets it when a message begins
    assert budgets.fragment()


def test_control_frames_are_rate_limited_and_can_be_turned_off() -> None:
    budgets = Budgets(Limits(control_frame_rate="1/s burst 2"), max_message_size=MiB)
    assert [budgets.control_frame(now=0.0) for _ in range(3)] == [True, True, False]
    assert budgets.control_frame(now=1.0)
    unlimited = Budgets(Limits(control_frame_rate=None), max_message_size=MiB)
    assert all(unlimited.control_frame(now=0.0) for _ in range(1000))


def test_inflate_burst_holds_at_least_one_message() -> None:
    budgets = Budgets(Limits(max_inflate_rate=MiB), max_message_size=4 * MiB)
    assert budgets.inflated(4 * MiB, now=0.0) == 0.0
    assert budgets.inflated(MiB, now=0.0) == pytest.approx(1.0)
    assert Budgets(Limits(max_inflate_rate=None), None).inflated(10 * MiB, now=0.0) == 0.0


def test_limits_from_settings() -> None:
    from wsapp.conf import DEFAULTS

    assert Limits.from_settings(DEFAULTS) == Limits()


def test_the_control_frame_rate_is_parsed_once_per_server_not_per_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def counting_parse_rate(value: str) -> tuple[float, float]:
        calls.append(value)
        return parse_rate(value)

    monkeypatch.setattr(budgets_module, "parse_rate", counting_parse_rate)
    limits = Limits(control_frame_rate="10/s burst 50")
    connections = [Budgets(limits, None) for _ in range(3)]
    assert calls == ["10/s burst 50"]
    assert all(b.control is not None and b.control.burst == 50 for b in connections)
    assert Budgets(Limits(control_frame_rate=None), None).control is None
