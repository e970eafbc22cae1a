"""wsapp's benchmark harness: ``python -m bench`` (``--quick`` while developing).

Performance is only claimed as ratios measured in one run on one machine (the machines are shared
and noisy), so the runner measures every server back to back and prints ratios against one anchor:
a plain Channels ``AsyncWebsocketConsumer`` on Daphne.

- ``python -m bench``: the targets (``bench/targets.py``), measured; ``--experiments`` adds the
  what-if patches of ``bench/experiments/``.
- ``python -m bench.report [--targets]``, ``python -m bench.plot``: tables and the fan-out plot of a
  past run.
- ``python -m bench.profile TARGET SCENARIO``: py-spy on a server under one of the loads.
- ``python -m bench.autobahn``: Autobahn TestSuite conformance per server, through kosoku.

BENCHMARKS.md at the repository root has the numbers and how they were obtained.
"""
