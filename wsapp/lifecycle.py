"""A connection's life around its handler: who is told of its accept and close, and how the
handler's outcome becomes a close code.

**The registry.** One :class:`Registry` per process (:data:`registry`) owns the open connections
(:meth:`Registry.connections`, like websockets' ``Server.connections``) and an ordered list of
:class:`ConnectionObserver` objects. A route hands it to every socket it creates; the socket tells
it of its accept, close and refusal. Observers are registered in one visible place,
``WsappConfig.ready()``: the process's counters first, then the hub's index of users. Nothing
else is called on accept or close.

**Last words.** :meth:`Registry.shutdown` runs the callbacks sockets registered with
``ws.on_shutdown()``, all at once and for a bounded time: ``manage.py serve`` calls it when it
drains (SIGTERM), before it sends every socket 1001.

**The close policy**, for what a connection's handler did (:func:`settle`, :func:`run`):

- it returned → 1000, unless it closed the socket itself;
- it raised ``CloseConnection`` → that exception's code and reason; a ``Reject`` before the
  handshake completed is accepted first, because a browser can read a close code but not a
  refused handshake's HTTP status;
- the database went away under it → 1013 (try again later), the outage logged once
  (:mod:`wsapp.dbhealth`), not a traceback per connection;
- anything else → logged with its traceback, 1011;
- the peer had left (``WebSocketDisconnect``) → nothing to do.

For an exception from the handler of *one message* (a Consumer event, a layer event),
:func:`escalate` decides whether it ends the connection (then :func:`settle` closes it) or only
that message; :class:`HandlerErrorLog` logs an application error's traceback once per
connection, event and exception type.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from wsapp.codes import CloseCode
from wsapp.connection import CONNECTING, DISCONNECTED, WebSocket
from wsapp.dbhealth import UNAVAILABLE_ERRORS, database
from wsapp.exceptions import (
    CloseConnection,
    DatabaseUnavailable,
    InvalidStateError,
    Reject,
    WebSocketDisconnect,
)

__all__ = [
    "ConnectionObserver",
    "HandlerErrorLog",
    "Registry",
    "close_for",
    "close_quietly",
    "connections",
    "escalate",
    "registry",
    "run",
    "settle",
]

logger = logging.getLogger("wsapp")


class ConnectionObserver(Protocol):
    """Something told of every connection's accept and close (the counters, the user index)."""

    async def on_accept(self, ws: WebSocket) -> None:
        """The handshake completed. Raise a ``Reject`` to close the new connection with its
        code (a per-user cap does); the observers after this one are then not called."""

    def on_close(self, ws: WebSocket) -> None:
        """An accepted socket closed, by either side; called once. Synchronous, because a
        close happens where nothing may be awaited: cleanup that must wait is scheduled."""

    def on_refuse(self, ws: WebSocket) -> None:
        """The application closed the socket before accepting it (a refused handshake)."""


class Registry:
    """The process's open connections and the observers of their accept and close."""

    def __init__(self) -> None:
        self._open: set[WebSocket] = set()
        self._observers: list[ConnectionObserver] = []

    def observe(self, *observers: ConnectionObserver) -> None:
        """Tell ``observers``, in this order after those already registered, of every accept
        and close. Idempotent: an observer registered twice is called once."""
        for observer in observers:
            if observer not in self._observers:
                self._observers.append(observer)

    @property
    def observers(self) -> tuple[ConnectionObserver, ...]:
        return tuple(self._observers)

    def connections(self) -> list[WebSocket]:
        """The sockets accepted and not yet closed, as a new list (like ``Server.connections``)."""
        return list(self._open)

    async def accepted(self, ws: WebSocket) -> None:
        """Open ``ws`` and tell the observers, in order.

        Raises:
            Reject: an observer refuses the connection; it stays open until the caller closes
                it, and that close is told to every observer.
        """
        self._open.add(ws)
        for observer in self._observers:
            await observer.on_accept(ws)

    def closed(self, ws: WebSocket) -> None:
        """Forget ``ws`` and tell the observers; a socket that is not open is ignored, so
        closing twice, or closing one never accepted, tells no one."""
        if ws in self._open:
            self._open.discard(ws)
            for observer in self._observers:
                observer.on_close(ws)

    def refused(self, ws: WebSocket) -> None:
        for observer in self._observers:
            observer.on_refuse(ws)

    async def shutdown(self, timeout: float) -> int:
        """Run the open sockets' ``on_shutdown`` callbacks at once, for up to ``timeout`` s.

        A callback that raises is logged (one whose peer has gone is not); one still running
        at the deadline, or when this call is cancelled, is cancelled.

        Returns:
            How many callbacks ran.
        """
        calls = [hook for ws in list(self._open) if ws.open for hook in ws.shutdown_hooks]
        tasks = [asyncio.ensure_future(_last_words(hook)) for hook in calls]
        if not tasks:
            return 0
        try:
            await asyncio.wait(tasks, timeout=timeout)
        finally:
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                logger.warning("Cancelled %d shutdown callbacks still running.", len(pending))
                await asyncio.wait(pending)
        return len(tasks)


async def _last_words(hook: Callable[[], Awaitable[None]]) -> None:
    try:
        await hook()
    except (WebSocketDisconnect, InvalidStateError):
        pass  # the socket closed meanwhile: nothing to say to it any more
    except Exception:
        logger.exception("Error in an on_shutdown callback %r", hook)


#: The process's registry: every route's socket is handed this one.
registry = Registry()


def connections() -> list[WebSocket]:
    """The sockets this process has accepted and not yet closed."""
    return registry.connections()


# -- the close policy ---------------------------------------------------------------------------


async def run(
    ws: WebSocket, call: Callable[[], Awaitable[None]], *, handler: str = "websocket handler"
) -> None:
    """Run one connection's application code and close the socket the way its outcome says.

    Args:
        handler: how a log line names the code that raised (``"Unhandled exception in
            <handler> for <path>"``).
    """
    try:
        await call()
    except Exception as exc:
        await settle(ws, exc, handler=handler)
    if ws.application_state is not DISCONNECTED:
        await close_quietly(ws, CloseCode.NORMAL_CLOSURE)


async def settle(ws: WebSocket, exc: Exception, *, handler: str = "websocket handler") -> None:
    """Close ``ws`` the way the exception that ended its handler says (the module's policy)."""
    if isinstance(exc, WebSocketDisconnect):
        return
    if isinstance(exc, CloseConnection):
        await close_for(ws, exc)
    elif isinstance(exc, UNAVAILABLE_ERRORS):
        # The database went away under the handler (a room lookup, a session): not its bug.
        # Logged once per outage; the client retries after 1013 (RFC 6455 §7.4.1, IANA).
        database.failed(ws.path, exc)
        await close_for(ws, DatabaseUnavailable(str(exc)))
    else:
        logger.error("Unhandled exception in %s for %s", handler, ws.path, exc_info=exc)
        await close_quietly(ws, CloseCode.INTERNAL_ERROR, "Internal error.")


def escalate(ws: WebSocket, exc: Exception, *, close_on_error: bool) -> Exception | None:
    """What an exception from the handler of one message does to the connection.

    Returns the exception that ends the connection (raise it, or pass it to :func:`settle`), or
    ``None``: the connection stays open, and the caller logs the error and answers that one
    message. A ``CloseConnection`` or the peer's going end it; so does any error when
    ``close_on_error`` is set. A socket another task closed mid-handler (a kick, the hub's resync
    after a layer outage) makes the handler's next send an ``InvalidStateError``: the connection
    is over, which is not the handler's bug, so that is a ``WebSocketDisconnect``.
    """
    if isinstance(exc, InvalidStateError) and ws.closed:
        return ws.disconnect_error()
    if close_on_error or isinstance(exc, CloseConnection | WebSocketDisconnect):
        return exc
    return None


class HandlerErrorLog:
    """Logs a connection's handler errors: with the traceback once per event type and exception
    type, then one line each, so a client that can trigger an application bug with every frame
    cannot fill the log with tracebacks.

    Args:
        owner: the handler's name in the log lines (the Consumer's class).
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._logged: set[tuple[str, type[Exception]]] = set()

    def log(self, event_type: str, exc: Exception) -> None:
        key = (event_type, type(exc))
        if key not in self._logged:
            self._logged.add(key)
            logger.error("Error handling %r in %s", event_type, self.owner, exc_info=exc)
            return
        logger.error(
            "Error handling %r in %s again (%s: %.200s); its traceback was logged before",
            event_type,
            self.owner,
            type(exc).__qualname__,
            exc,
        )


async def close_for(ws: WebSocket, exc: CloseConnection) -> None:
    """Close with the exception's code. A refusal before accept is accepted first, because a
    browser cannot read a refused handshake's HTTP status, only a close code."""
    if isinstance(exc, Reject) and ws.application_state is CONNECTING:
        with contextlib.suppress(WebSocketDisconnect, OSError):
            await ws.accept()
    logger.info("Closing %s with %s: %s", ws.path, exc.code, exc.reason)
    await close_quietly(ws, exc.code, exc.reason)


async def close_quietly(ws: WebSocket, code: int, reason: str = "") -> None:
    """Close, ignoring a peer that has already gone."""
    with contextlib.suppress(WebSocketDisconnect, OSError):
        await ws.close(code, reason)
