"""Settings of the multi-process tests: the e2e settings, with Redis (``REDIS_URL``) and a shared
database (``DATABASE_URL``: PostgreSQL in CI; SQLite in WAL mode locally, so two processes can
write without "database is locked")."""

from __future__ import annotations

from tests.e2e.settings_serve import *  # noqa: F403
from tests.e2e.settings_serve import DATABASES

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", "timeout": 20}
    )
