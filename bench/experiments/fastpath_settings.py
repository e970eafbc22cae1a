"""The demo's settings plus the what-if patches of :mod:`bench.experiments.fastpath`."""

from __future__ import annotations

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.experiments.apps.FastpathConfig"]
