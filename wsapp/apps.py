from __future__ import annotations

from django.apps import AppConfig


class WsappConfig(AppConfig):
    name = "wsapp"
    verbose_name = "WebSockets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Deferred to ready(): revocation reads the user model, and this module is imported while
        # the app registry is still loading (INSTALLED_APPS); the rest follows for one import place.
        from wsapp import checks, lifecycle, metrics, revocation
        from wsapp.hub.hub import hubs
        from wsapp.hub.users import UserIndex
        from wsapp.metrics import cluster

        # Everything a connection's accept and close set off, in the order it runs: the process's
        # counters first (a refused user is still an accepted, then closed, connection), then the
        # hub's index of users (per-user caps and rate, revocation, presence cleanup).
        lifecycle.registry.observe(metrics.totals, UserIndex())
        # What runs beside every hub: its numbers, published for the dashboard of any process.
        hubs.add_service(cluster.report_forever)
        checks.register()
        revocation.connect_receivers()
