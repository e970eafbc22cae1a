"""The websocket routing table: Django's own URL patterns and converters, for sockets.

``path()``/``re_path()`` build Django ``URLPattern`` objects whose callback is an
:class:`Endpoint`, so converters (``<int:n>`` arrives as an ``int``), ``include()`` and
``reverse()`` behave exactly as they do for views. :class:`Router` is the ASGI app that resolves a
connection's path once, at the handshake.

A route's target is an ``async def handler(ws, **params)``, a ``wsapp.Consumer`` subclass, or a
Channels consumer (its class or ``as_asgi()``). Whatever it is, its :class:`Endpoint` enforces the
route's access rules, builds the socket with the process's connection registry, and closes it as
:func:`wsapp.lifecycle.run` says its handler's outcome requires. Every socket has the route's
parameters as ``ws.path_params``; a handler gets them as arguments too, but only those its
signature takes, so a Starlette-style ``async def endpoint(ws)`` works on any route.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from importlib import import_module
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import NoReverseMatch, Resolver404, URLPattern, URLResolver, include
from django.urls.resolvers import RegexPattern, RoutePattern, get_ns_resolver

from wsapp import lifecycle, metrics
from wsapp.access import access_rule, check_access, guarded
from wsapp.codes import CloseCode
from wsapp.conf import WATCHED_SETTINGS, get_settings
from wsapp.connection import WebSocket
from wsapp.consumers import Consumer
from wsapp.exceptions import Reject
from wsapp.types import ASGIApp, Receive, Scope, Send

__all__ = ["Endpoint", "Router", "include", "path", "re_path", "reverse"]

logger = logging.getLogger("wsapp")


def path(
    route: str,
    target: Any,
    *,
    name: str | None = None,
    subprotocols: list[str] | tuple[str, ...] = (),
    kwargs: dict[str, Any] | None = None,
) -> URLPattern | URLResolver:
    """Route ``route`` (Django ``path()`` syntax, no leading slash) to a handler or consumer.

    Args:
        target: ``async def handler(ws, **params)`` (or ``handler(ws)``: the parameters are
            always ``ws.path_params``), a ``wsapp.Consumer`` subclass, a Channels consumer, or
            the result of ``include()``.
        name: the name ``reverse()`` knows the route by.
        subprotocols: what the route supports, in preference order; ``accept()`` negotiates.
        kwargs: extra keyword arguments passed to the handler.
    """
    return _make(
        RoutePattern(route, name=name, is_endpoint=True), route, target, name, subprotocols, kwargs
    )


def re_path(
    route: str,
    target: Any,
    *,
    name: str | None = None,
    subprotocols: list[str] | tuple[str, ...] = (),
    kwargs: dict[str, Any] | None = None,
) -> URLPattern | URLResolver:
    """Like :func:`path`, with a regular expression (named groups become parameters)."""
    return _make(
        RegexPattern(route, name=name, is_endpoint=True), route, target, name, subprotocols, kwargs
    )


def _make(
    pattern: RoutePattern | RegexPattern,
    route: str,
    target: Any,
    name: str | None,
    subprotocols: list[str] | tuple[str, ...],
    kwargs: dict[str, Any] | None,
) -> URLPattern | URLResolver:
    if isinstance(target, tuple):  # include(): (urlconf_module, app_name, namespace)
        pattern = type(pattern)(route, name=name, is_endpoint=False)  # type: ignore[call-arg]
        urlconf, app_name, namespace = target
        return URLResolver(pattern, urlconf, kwargs, app_name=app_name, namespace=namespace)
    if route.startswith("/"):
        raise ImproperlyConfigured(
            f"Websocket route {route!r} must not start with '/', as in urls.py."
        )
    return URLPattern(pattern, Endpoint(target, subprotocols), kwargs or {}, name)


class Endpoint:
    """A route's target with the route's options; called once per connection.

    Raises:
        TypeError: the target is none of the kinds a route takes.
    """

    def __init__(self, target: Any, subprotocols: Iterable[str] = ()) -> None:
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
        # Read once, here: a connection pays only for filtering its parameters.
        self.positional, self.keywords = _accepted_params(target)
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
            tracker=lifecycle.registry,
        )
        target = self.target
        if isinstance(target, type):
            call: Callable[[], Awaitable[None]] = target(ws).run
        else:
            if self.positional is not None:
                args = args[: self.positional]
            if self.keywords is not None:
                kwargs = {k: v for k, v in kwargs.items() if k in self.keywords}
            call = lambda: target(ws, *args, **kwargs)  # noqa: E731
        await lifecycle.run(ws, guarded(scope, self.access, call) if checked else call)

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Check a Channels consumer's connection; refuse it (accept, close 4401/4403) if it fails."""
        try:
            await check_access(scope, self.access)
        except Reject as exc:
            ws = WebSocket(scope, receive, send, tracker=lifecycle.registry)
            await lifecycle.close_for(ws, exc)
            return False
        return True

    def __repr__(self) -> str:
        return f"<Endpoint {self.__module__}.{self.__qualname__}>"


def _accepted_params(handler: Any) -> tuple[int | None, frozenset[str] | None]:
    """What of a route's parameters ``handler`` takes after the socket: how many positional ones
    (``None``: any, it has ``*args``) and which by name (``None``: any, it has ``**kwargs``).

    A parameter the handler does not name stays in ``ws.path_params`` only; one it names but
    the route lacks is still a ``TypeError`` at the call, as for a Django view.
    """
    try:
        params = list(inspect.signature(handler).parameters.values())[1:]
    except (TypeError, ValueError):  # no signature to read: pass everything, as a view gets
        return None, None
    kinds = {p.kind for p in params}
    positional: int | None = sum(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params
    )
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        positional = None
    keywords: frozenset[str] | None = frozenset(
        p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )
    if inspect.Parameter.VAR_KEYWORD in kinds:
        keywords = None
    return positional, keywords


class Router:
    """The ASGI app for websocket connections: resolve the path, hand the socket to its route.

    An unknown path is refused at the handshake (403 under Daphne) with one warning line.
    """

    def __init__(self, urlpatterns: list[URLPattern | URLResolver] | None = None) -> None:
        self._urlpatterns = urlpatterns

    @property
    def resolver(self) -> URLResolver:
        if self._urlpatterns is None:
            return get_resolver()
        return _resolver_for(tuple(self._urlpatterns))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        call = await self.route(scope, receive, send)
        if call is not None:
            await call

    async def route(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None] | None:
        """Resolve the path: the route's call, for the caller to await at once, or ``None``
        once the handshake was refused (no route). The caller's frame is the only one waiting.

        Raises:
            ValueError: ``scope`` is not a websocket's.
        """
        if scope["type"] != "websocket":
            raise ValueError(
                f"wsapp.routing.Router serves websocket scopes, not {scope['type']!r}."
            )
        try:
            match = self.resolver.resolve(scope["path"])
        except Resolver404:
            logger.warning("No websocket route for %s; handshake refused.", scope["path"])
            metrics.totals.refuse("no_route")
            await send({"type": "websocket.close", "code": CloseCode.NORMAL_CLOSURE, "reason": ""})
            return None
        scope = dict(scope)
        scope["url_route"] = {"args": match.args, "kwargs": match.kwargs, "name": match.url_name}
        endpoint: Endpoint = match.func  # type: ignore[assignment]
        return endpoint(
            scope, receive, send, args=match.args, kwargs=match.kwargs, route_name=match.url_name
        )


@functools.cache
def _resolver_for(urlpatterns: tuple[URLPattern | URLResolver, ...]) -> URLResolver:
    return URLResolver(RegexPattern(r"^/"), list(urlpatterns))


@functools.cache
def get_resolver() -> URLResolver:
    """The resolver of the project's table, ``WSAPP["ROUTING"]``, built once."""
    return _resolver_for(tuple(load_urlpatterns()))


@receiver(setting_changed, dispatch_uid="wsapp.routing.reset")
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        get_resolver.cache_clear()


def load_urlpatterns() -> list[URLPattern | URLResolver]:
    """Import ``WSAPP["ROUTING"]`` and return its ``urlpatterns`` (or ``websocket_urlpatterns``).

    Raises:
        ImproperlyConfigured: the setting is missing, or the module has no table.
    """
    dotted = get_settings()["ROUTING"]
    if not dotted:
        raise ImproperlyConfigured(
            'WSAPP["ROUTING"] is not set; name the module that holds your websocket urlpatterns.'
        )
    module = import_module(dotted)
    patterns = getattr(module, "urlpatterns", None)
    if patterns is None:
        patterns = getattr(module, "websocket_urlpatterns", None)
    if patterns is None:
        raise ImproperlyConfigured(f"{dotted} has no `urlpatterns` list of wsapp routes.")
    return list(patterns)


def reverse(name: str, *args: Any, **kwargs: Any) -> str:
    """The path of the route named ``name``: ``reverse("square", n=7) == "/ws/square/7/"``.

    A name may be namespaced (``"chat:room"``) by ``include((patterns, "chat"))`` or an
    included module's ``app_name``, exactly as with ``django.urls.reverse``.

    Raises:
        django.urls.NoReverseMatch: no route has that name, or the arguments do not fit it.
    """
    *namespaces, view = name.split(":")
    resolver = get_resolver()
    if namespaces:
        resolver = _namespace_resolver(resolver, namespaces)
    return "/" + resolver.reverse(view, *args, **kwargs)


def _namespace_resolver(resolver: URLResolver, namespaces: list[str]) -> URLResolver:
    """The resolver of a (nested) namespace, as Django's ``reverse()`` walks it."""
    prefix, converters = "", {}
    for ns in namespaces:
        instances = resolver.app_dict.get(ns)
        if instances and ns not in instances:
            ns = instances[0]  # an application namespace: its default (first) instance
        try:
            extra, resolver = resolver.namespace_dict[ns]
        except KeyError:
            raise NoReverseMatch(f"{ns!r} is not a registered namespace") from None
        prefix += extra
        converters.update(resolver.pattern.converters)
    return get_ns_resolver(prefix, resolver, tuple(converters.items()))
