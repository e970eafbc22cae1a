from __future__ import annotations

from django.apps import AppConfig


class WsappConfig(AppConfig):
    name = "wsapp"
    verbose_name = "WebSockets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from wsapp import checks, revocation
        from wsapp.hub import users

        checks.register()

        users.install()
        revocation.connect_receivers()
