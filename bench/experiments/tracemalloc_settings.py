"""The demo's settings with :mod:`bench.experiments.memtrace` installed (``python -m bench.memory``).

The SIGUSR1 handler is installed here, at settings import, in the main thread; tracing starts
at the first signal (see the module).
"""

from __future__ import annotations

from bench.experiments import memtrace
from config.settings import *  # noqa: F403

memtrace.install()
