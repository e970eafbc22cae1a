"""What a route points at, and the one place that turns a handler's fate into a close code.

A route's target is an ``async def handler(ws, **params)``, a ``wsapp.Consumer`` subclass, or a
Channels consumer (its class or ``as_asgi()``). Whatever it is, :func:`run` applies DESIGN.md's
policy: returns without closing → 1000; raises ``CloseConnection`` → its code and reason; raises
anything else → logged with its traceback, 1011; never accepted → the handshake is refused.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from wsapp.access import access_rule, check_access, guarded
from wsapp.codes import CloseCode
from wsapp.connection import CONNECTING, DISCONNECTED, WebSocket
from wsapp.dbhealth import UNAVAILABLE_ERRORS, database
from wsapp.exceptions import CloseConnection, DatabaseUnavailable, Reject, WebSocketDisconnect
from wsapp.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("wsapp")

Handler = Callable[..., Awaitable[None]]


class Endpoint:
    """A route's target with the route's options; called once per connection."""

    def __init__(self, target: Any, subprotocols: Iterable[str] = ()) -> None:
        from wsapp.consumers import Consumer

        self.target = target
        self.subprotocols = tuple(subprotocols)
        self.asgi_app: ASGIApp | None = None
        if isinstance(target, type) and issubclass(target, Consumer):
            self.subprotocols = self.subprotocols or tuple(target.subprotocols)
        elif isinstance(target, type) and hasattr(target, "as_asgi"):
            self.asgi_app = target.as_asgi()  # a Channels consumer class
        elif hasattr(target, "consumer_class"):
            self.asgi_app = target  # a Channels consumer's as_asgi()
        elif not inspect.iscoroutinefunction(target):
            raise TypeError(
                f"A websocket route needs an `async def handler(ws, **params)`, a wsapp.Consumer "
                f"subclass or a Channels consumer, not {target!r}."
            )
        self.__name__ = getattr(target, "__name__", type(target).__name__)
        self.__qualname__ = getattr(target, "__qualname__", self.__name__)
        self.__module__ = getattr(target, "__module__", __name__)
        self.access = access_rule(target)

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        route_name: str | None = None,
    ) -> None:
        kwargs = kwargs or {}
        # Access rules and failed tokens are enforced here, once, for every kind of target.
        checked = self.access is not None or "auth_error" in scope
        if self.asgi_app is not None:
            if checked and not await self._admit(scope, receive, send):
                return
            await self.asgi_app(scope, receive, send)
            return
        ws = WebSocket(
            scope,
            receive,
            send,
            path_params=kwargs,
            subprotocols=self.subprotocols,
            route_name=route_name,
        )
        target = self.target
        if isinstance(target, type):
            call: Callable[[], Awaitable[None]] = target(ws).run
        else:
            call = lambda: target(ws, *args, **kwargs)  # noqa: E731
        await run(ws, guarded(scope, self.access, call) if checked else call)

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Check a Channels consumer's connection; refuse it (accept, close 44xx) if it fails."""
        try:
            await check_access(scope, self.access)
        except Reject as exc:
            await close_for(WebSocket(scope, receive, send), exc)
            return False
        return True

    def __repr__(self) -> str:
        return f"<Endpoint {self.__module__}.{self.__qualname__}>"


async def run(ws: WebSocket, call: Callable[[], Awaitable[None]]) -> None:
    """Run one connection's application code and close the socket the way its outcome says."""
    try:
        await call()
    except WebSocketDisconnect:
        pass
    except CloseConnection as exc:
        await close_for(ws, exc)
    except UNAVAILABLE_ERRORS as exc:
        # The database went away under the handler (a room lookup, a session): not its bug.
        # Logged once per outage; the client retries after 1013 (RFC 6455 §7.4.1, IANA).
        database.failed(ws.path, exc)
        await close_for(ws, DatabaseUnavailable(str(exc)))
    except Exception:
        logger.exception("Unhandled exception in websocket handler for %s", ws.path)
        await close_quietly(ws, CloseCode.INTERNAL_ERROR, "Internal error.")
    if ws.application_state is not DISCONNECTED:
        await close_quietly(ws, CloseCode.NORMAL_CLOSURE)


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
