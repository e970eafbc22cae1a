"""The security suite runs real server processes: the e2e fixtures, shared."""

from tests.e2e.conftest import e2e_database_url, serve_server, start_server  # noqa: F401
