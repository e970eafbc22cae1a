"""The fuzz suite's hypothesis profile: reproducible, no example database, budget from the env.

- ``WSAPP_FUZZ_EXAMPLES`` (default ``1``) multiplies every property's ``max_examples``; at ``1``
  the suite generates over 100,000 inputs (``tests/fuzz/strategies.py``'s :func:`examples`).
- ``WSAPP_FUZZ_SEED``: unset, runs are derandomized (the same inputs every run, derived from each
  test's name); set to an integer, that seed drives every property, so a CI failure reproduces
  with the seed it printed.

No deadline (a busy 2-core machine must not turn slowness into failures) and no example database
(nothing written to ``.hypothesis/``; the seed is what reproduces a run).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, seed, settings

SEED = os.environ.get("WSAPP_FUZZ_SEED")

settings.register_profile(
    "wsapp-fuzz",
    derandomize=SEED is None,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        # The in-process properties share one function-scoped database and hub per test on
        # purpose: their assertions are about what each example changed, not absolute state.
        HealthCheck.function_scoped_fixture,
    ],
)
settings.load_profile("wsapp-fuzz")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if not str(item.path).startswith(here):
            continue
        item.add_marker(pytest.mark.fuzz)
        test = getattr(item, "obj", None)
        if SEED is not None and getattr(test, "is_hypothesis_test", False):
            seed(int(SEED))(test)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.fuzz.strategies import GENERATED

    if GENERATED:
        total = sum(GENERATED.values())
        terminalreporter.write_line(
            f"wsapp fuzz: {total:,} generated inputs in {len(GENERATED)} properties "
            f"(WSAPP_FUZZ_SEED={SEED or 'derandomized'}, "
            f"WSAPP_FUZZ_EXAMPLES={os.environ.get('WSAPP_FUZZ_EXAMPLES', '1')})"
        )
