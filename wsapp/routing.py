"""The websocket routing table: Django's own URL patterns and converters, for sockets.

``path()``/``re_path()`` build Django ``URLPattern`` objects whose callback is an
:class:`~wsapp.endpoints.Endpoint`, so converters (``<int:n>`` arrives as an ``int``), ``include()``
and ``reverse()`` behave exactly as they do for views. :class:`Router` is the ASGI app that
resolves a connection's path once, at the handshake.
"""

from __future__ import annotations

import functools
import logging
from importlib import import_module
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, Resolver404, URLPattern, URLResolver, include
from django.urls.resolvers import RegexPattern, RoutePattern, get_ns_resolver

from wsapp import metrics
from wsapp.codes import CloseCode
from wsapp.conf import get_settings, on_reset
from wsapp.endpoints import Endpoint
from wsapp.types import Receive, Scope, Send

__all__ = ["Router", "include", "path", "re_path", "reverse"]

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
        target: ``async def handler(ws, **params)``, a ``wsapp.Consumer`` subclass, a Channels
            consumer, or the result of ``include()``.
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
            return
        scope = dict(scope)
        scope["url_route"] = {"args": match.args, "kwargs": match.kwargs, "name": match.url_name}
        endpoint: Endpoint = match.func  # type: ignore[assignment]
        await endpoint(
            scope, receive, send, args=match.args, kwargs=match.kwargs, route_name=match.url_name
        )


@functools.cache
def _resolver_for(urlpatterns: tuple[URLPattern | URLResolver, ...]) -> URLResolver:
    return URLResolver(RegexPattern(r"^/"), list(urlpatterns))


@functools.cache
def get_resolver() -> URLResolver:
    """The resolver of the project's table, ``WSAPP["ROUTING"]``, built once."""
    return _resolver_for(tuple(load_urlpatterns()))


on_reset(get_resolver.cache_clear)


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
