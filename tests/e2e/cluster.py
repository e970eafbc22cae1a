"""Several ``manage.py serve`` processes sharing one Redis and one database, as in production.

The database is PostgreSQL when ``TEST_DATABASE_URL`` names a server (``.ci/run`` makes sure one
runs): a fresh database is created for the session and dropped after. Without it, locally, the
processes share a SQLite file in WAL mode, and the fixture says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.e2e.servers import PROJECT_ROOT, migrate, server_env

CLUSTER_SETTINGS = "tests.e2e.settings_cluster"


def postgres_database(base_url: str) -> Iterator[str]:
    """A new database on the server at ``base_url``: yields its URL once, drops it when resumed."""
    import psycopg

    name = f"wsapp_e2e_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(base_url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def cluster_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, seeded database for multi-process tests (PostgreSQL or SQLite WAL)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        databases = postgres_database(base)
        url = next(databases)
    else:
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_DATABASE_URL is not set; .ci/run provides a PostgreSQL server.")
        sys.stderr.write(
            "\nTEST_DATABASE_URL is not set: multi-process tests share SQLite in WAL mode.\n"
        )
        databases = iter(())
        url = f"sqlite:///{tmp_path_factory.mktemp('cluster-db') / 'db.sqlite3'}"
    seed_cluster_database(url)
    yield url
    for _ in databases:  # drop the PostgreSQL database
        pass


def seed_cluster_database(url: str) -> None:
    """Migrate ``url`` and load the demo's users and rooms into it."""
    migrate(url, CLUSTER_SETTINGS)
    django_run(url, "from django.core.management import call_command; call_command('seed_demo')")


def django_run(database_url: str, code: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a Django process on the cluster's database; return what it printed.

    Raises:
        RuntimeError: the code failed; its output is in the message.
    """
    program = f"import django; django.setup()\n{code}"
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=PROJECT_ROOT,
        env=server_env(CLUSTER_SETTINGS, database_url, env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"django_run failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip()


def session_cookie(database_url: str, username: str) -> str:
    """A real Django session for ``username`` in the cluster's database, as a Cookie header."""
    return session_cookies(database_url, [username])[0]


def session_cookies(
    database_url: str, usernames: list[str], *, create_users: bool = False
) -> list[str]:
    """:func:`session_cookie` for several users in one Django process (creating them first if
    ``create_users``): one process start instead of one per user."""
    lookup = "create_user(name)" if create_users else "get(username=name)"
    keys = django_run(
        database_url,
        "from django.contrib.auth import get_user_model, SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY\n"
        "from django.contrib.sessions.backends.db import SessionStore\n"
        f"for name in {usernames!r}:\n"
        f"    u = get_user_model().objects.{lookup}\n"
        "    s = SessionStore()\n"
        "    s[SESSION_KEY] = str(u.pk)\n"
        "    s[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
        "    s[HASH_SESSION_KEY] = u.get_session_auth_hash()\n"
        "    s.create()\n"
        "    print(s.session_key)",
    )
    return [f"sessionid={key}" for key in keys.split()]
