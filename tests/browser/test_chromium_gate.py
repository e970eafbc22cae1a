"""A missing Chromium skips the browser tests on a laptop but fails them under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.harness import require_chromium

MISSING = Path("/nonexistent/chromium")


def test_a_missing_chromium_skips_locally() -> None:
    with pytest.raises(pytest.skip.Exception, match="Chromium not found at /nonexistent/chromium"):
        require_chromium(MISSING, {})


@pytest.mark.parametrize("value", ["true", "TRUE"])
def test_a_missing_chromium_fails_under_ci(value: str) -> None:
    with pytest.raises(pytest.fail.Exception, match="CI=true, so this is a failure, not a skip"):
        require_chromium(MISSING, {"CI": value})


def test_an_installed_chromium_is_returned(tmp_path: Path) -> None:
    binary = tmp_path / "chromium"
    binary.touch()
    assert require_chromium(binary, {"CI": "true"}) == binary
