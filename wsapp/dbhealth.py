"""The database going away (a restart, a failover): one warning, and a close a client retries.

A chat message is stored before it is acknowledged, so while the database is away there is
nothing to acknowledge. Answering with an ``internal_error`` frame left the message in the
client's outbox with no reason ever to resend it, and logged a traceback per message. Instead
the connection is closed with 1013 (try again later): the client reconnects with ``?since=``
and resends its unacknowledged messages with their ``client_id``, stored once when the database
answers again. The outage is logged when it starts and when a call succeeds again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import InterfaceError, OperationalError

from wsapp.exceptions import DatabaseUnavailable
from wsapp.outage import Outage

#: The database errors that mean "not reachable now" rather than "this query is wrong".
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)

#: This process's view of the database: one per process, like its connections.
database = Outage("Database", "chat messages are refused with 1013")


@contextmanager
def database_call(action: str) -> Iterator[None]:
    """Run one database call; its connection errors become :class:`DatabaseUnavailable`.

    Raises:
        DatabaseUnavailable: the database did not answer (the connection closes with 1013).
    """
    try:
        yield
    except UNAVAILABLE_ERRORS as exc:
        database.failed(action, exc)
        raise DatabaseUnavailable(str(exc)) from exc
    if database.down:
        database.recovered()
