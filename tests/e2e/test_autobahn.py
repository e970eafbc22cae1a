"""The Autobahn TestSuite against ``manage.py serve``: every case of 1–7, 9 and 10, and the
compression cases of 12.x/13.x that ``bench.autobahn --quick`` picks (``WSAPP_AUTOBAHN=full``: all
517, as ``python -m bench.autobahn --only wsapp@serve`` runs them).

Run through ``bench.autobahn`` (kosoku runs the suite's case files natively; the original
``autobahntestsuite`` is Python 2 only) with wsapp's default settings but the three limits the
cases exceed by design (``bench/servers/autobahn_settings.py`` says which and why): every case
must pass or be non-strict (conformant, short of a SHOULD), with the slow-reader guard on —
9.1.6/9.2.6 echo 16 MiB to a client that reads.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import autobahn

pytestmark = pytest.mark.e2e

#: Seconds one chunk of cases may take before it counts as failed (12.x/13.x send 1,000 each).
CHUNK_TIMEOUT = 600.0
#: The 216 cases of 12.x/13.x push up to 128 MiB of compressed data each and take 15–20 minutes
#: of this machine's two cores; the suite runs a sample of them, bench.autobahn all.
COMPRESSION_SAMPLE = [c for c in autobahn.QUICK_CHUNKS if c.startswith(("12.", "13."))]
UNCOMPRESSED = [c for c in autobahn.FULL_CHUNKS if not c.startswith(("12.", "13."))]


def test_serve_passes_every_autobahn_case(tmp_path: Path) -> None:
    try:
        import kosoku  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("kosoku is not installed; requirements.txt lists it.")
        pytest.skip("kosoku is not installed (pip install -r requirements.txt)")
    (serve,) = [s for s in autobahn.SERVERS if s.name == "wsapp@serve"]
    cpus = sorted(os.sched_getaffinity(0))
    full = os.environ.get("WSAPP_AUTOBAHN") == "full"
    chunks = autobahn.FULL_CHUNKS if full else UNCOMPRESSED + COMPRESSION_SAMPLE
    run = autobahn.run_server(serve, chunks, cpus=cpus, timeout=CHUNK_TIMEOUT, logs=tmp_path)
    failed = [c["case"] for c in run["cases"] if autobahn.verdict(c) == "fail"]
    assert run["errors"] == [], run["errors"]
    assert failed == []
    assert run["total"] == (517 if full else 301 + len(COMPRESSION_SAMPLE)), run["counts"]
    assert run["counts"]["unimplemented"] == 0
    assert "Traceback" not in (tmp_path / "wsapp_serve.log").read_text()
