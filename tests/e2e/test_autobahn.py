"""The Autobahn TestSuite (every case of 1–7, 9, 10, 12, 13) against ``manage.py serve``.

Run through ``bench.autobahn`` (kosoku runs the suite's case files natively; the original
``autobahntestsuite`` is Python 2 only) with wsapp's default settings but ``MAX_MESSAGE_SIZE``
(the 9.x cases echo 16 MiB): every case must pass or be non-strict (conformant, short of a
SHOULD), the slow-reader guard included — 9.1.6/9.2.6 echo 16 MiB to a client that reads.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import autobahn

pytestmark = pytest.mark.e2e

#: Seconds one chunk of cases may take before it counts as failed (12.x/13.x send 1,000 each).
CHUNK_TIMEOUT = 300.0


def test_serve_passes_every_autobahn_case(tmp_path: Path) -> None:
    try:
        import kosoku  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("kosoku is not installed; requirements.txt lists it.")
        pytest.skip("kosoku is not installed (pip install -r requirements.txt)")
    (serve,) = [s for s in autobahn.SERVERS if s.name == "wsapp@serve"]
    cpus = sorted(os.sched_getaffinity(0))
    run = autobahn.run_server(
        serve, autobahn.FULL_CHUNKS, cpus=cpus, timeout=CHUNK_TIMEOUT, logs=tmp_path
    )
    failed = [c["case"] for c in run["cases"] if autobahn.verdict(c) == "fail"]
    assert run["errors"] == [], run["errors"]
    assert failed == []
    assert run["total"] == 517, run["counts"]
    assert run["counts"]["unimplemented"] == 0
    assert "Traceback" not in (tmp_path / "wsapp_serve.log").read_text()
