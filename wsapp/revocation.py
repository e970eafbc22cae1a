"""Revoked credentials take effect at once: a logout, a deactivation or a password change
closes every open socket of that user, on every process, with 4401.

Product level: it builds on the rooms API (``close_user`` reaches the user's hub group), which
builds on the hub; nothing below imports this module. The receivers are connected in
``WsappConfig.ready()`` (:func:`connect_receivers`), each with a ``dispatch_uid``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save, pre_save

from wsapp.codes import CloseCode
from wsapp.rooms.api import close_user

logger = logging.getLogger("wsapp")


def _close_user(pk: Any, reason: str) -> None:
    try:
        close_user(pk, CloseCode.NOT_AUTHENTICATED, reason)
    except Exception:  # a down layer must not break the logout or the save that triggered it
        logger.exception("Could not close the sockets of user %s", pk)


def on_logged_out(sender: Any, user: Any = None, **kwargs: Any) -> None:
    if user is not None and user.pk is not None:
        _close_user(user.pk, "Logged out.")


def remember_credentials(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Before a save, note whether it changes the password or deactivates the user."""
    if instance.pk is None:
        return
    old = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    instance._wsapp_revoke = bool(
        old
        and (old["password"] != instance.password or (old["is_active"] and not instance.is_active))
    )


def revoke_after_save(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if getattr(instance, "_wsapp_revoke", False):
        instance._wsapp_revoke = False
        pk = instance.pk
        transaction.on_commit(lambda: _close_user(pk, "Credentials changed."))


def connect_receivers() -> None:
    user_model = get_user_model()
    user_logged_out.connect(on_logged_out, dispatch_uid="wsapp.revocation.logged_out")
    pre_save.connect(
        remember_credentials, sender=user_model, dispatch_uid="wsapp.revocation.pre_save"
    )
    post_save.connect(
        revoke_after_save, sender=user_model, dispatch_uid="wsapp.revocation.post_save"
    )
