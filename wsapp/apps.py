from __future__ import annotations

from django.apps import AppConfig


class WsappConfig(AppConfig):
    name = "wsapp"
    verbose_name = "WebSockets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from wsapp import checks, revocation
        from wsapp.hub import users
        from wsapp.hub.hub import hubs
        from wsapp.metrics import cluster

        checks.register()

        users.install()
        hubs.add_service(cluster.report_forever)
        revocation.connect_receivers()
