"""Declarative access rules, one mechanism for both handler styles.

A rule is two attributes on the route's target, read once when the route is built:

    @login_required                          class Dashboard(Consumer):
    async def feed(ws): ...                      login_required = True

    @permission_required("chat.moderate")    class Moderation(Consumer):
    async def moderate(ws): ...                  permission_required = ["chat.moderate"]

The decorators only set those attributes (and return the target unchanged), so they work on
``Consumer`` classes too. :class:`~wsapp.routing.Endpoint` enforces them, in one place, before
the handler runs: not logged in → 4401, logged in without a permission → 4403. A credential that
failed is 4401 on every route, with or without a rule: ``scope["auth_error"]`` holds the reason,
set by wsapp's token middleware (:mod:`wsapp.auth`) for a wsapp token, or by a project's own auth
middleware for its own scheme — one way to refuse, whoever's the credential.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from channels.db import database_sync_to_async

from wsapp.exceptions import NotAuthenticated, PermissionDenied
from wsapp.types import Scope

__all__ = ["AccessRule", "access_rule", "check_access", "login_required", "permission_required"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccessRule:
    """What a route demands of its user. A permission implies a login."""

    login_required: bool = False
    permissions: tuple[str, ...] = ()


def login_required(target: T) -> T:
    """Refuse anonymous users with 4401. For ``async def`` handlers and ``Consumer`` classes."""
    target.login_required = True  # type: ignore[attr-defined]
    return target


def permission_required(*perms: str | Iterable[str]) -> Callable[[T], T]:
    """Refuse users without every one of ``perms`` (``"app_label.codename"``) with 4403, and
    anonymous users with 4401.

    Raises:
        ValueError: no permission given, or one is not ``"app_label.codename"``.
    """
    flat = _normalize(perms)
    if not flat:
        raise ValueError("permission_required() needs at least one 'app_label.codename'.")

    def apply(target: T) -> T:
        target.permission_required = flat  # type: ignore[attr-defined]
        return target

    return apply


def access_rule(target: Any) -> AccessRule | None:
    """The rule a route's target declares, or ``None`` when it is open to everyone.

    Raises:
        ValueError: ``permission_required`` names something that is not a permission.
    """
    target = getattr(target, "consumer_class", target)  # a Channels consumer's as_asgi()
    perms = getattr(target, "permission_required", None)
    permissions = _normalize([perms]) if perms else ()
    login = getattr(target, "login_required", False)
    if not isinstance(login, bool):
        raise ValueError(f"{target!r}: login_required must be True or False, not {login!r}.")
    if not login and not permissions:
        return None
    return AccessRule(login_required=True, permissions=permissions)


async def check_access(scope: Scope, rule: AccessRule | None) -> None:
    """Let the connection through, or raise the refusal it gets.

    Raises:
        NotAuthenticated: a presented token failed (any route), or the rule needs a login.
        PermissionDenied: the user lacks one of the rule's permissions.
        RuntimeError: a rule, but nothing in the stack set ``scope["user"]``.
    """
    error = scope.get("auth_error")
    if error:
        raise NotAuthenticated(str(error))
    if rule is None:
        return
    if "user" not in scope:
        raise RuntimeError(
            "An access rule needs scope['user']; serve the route through "
            "wsapp.asgi.websocket_application() or wrap it in wsapp.auth.SessionAuthStack."
        )
    user = scope["user"]
    if not user.is_authenticated:
        raise NotAuthenticated()
    if rule.permissions and not await database_sync_to_async(user.has_perms)(rule.permissions):
        raise PermissionDenied()


def guarded(
    scope: Scope, rule: AccessRule | None, call: Callable[[], Awaitable[None]]
) -> Callable[[], Awaitable[None]]:
    """``call``, run only once :func:`check_access` has let the connection through."""

    async def run_checked() -> None:
        await check_access(scope, rule)
        await call()

    return run_checked


def _normalize(perms: Iterable[Any]) -> tuple[str, ...]:
    flat: list[str] = []
    for item in perms:
        items = [item] if isinstance(item, str) else list(item)
        for perm in items:
            if not isinstance(perm, str) or "." not in perm.strip(".") or " " in perm:
                raise ValueError(f"{perm!r} is not a permission; use 'app_label.codename'.")
            flat.append(perm)
    return tuple(flat)
