"""The ported examples' routing table (``WSAPP["ROUTING"]`` of the migration tests' server).

One prefix per framework, so that each module reads as its original does. ``/stats/`` is the
tests' window on what the handlers did in the server process (:mod:`tests.migration.common`).
"""

from __future__ import annotations

from tests.migration import (
    blacksheep_ports,
    quart_ports,
    sanic_ports,
    starlette_ports,
    websockets_ports,
)
from tests.migration.common import stats
from wsapp.routing import include, path

urlpatterns = [
    path("starlette/", include(starlette_ports.urlpatterns)),
    path("sanic/", include(sanic_ports.urlpatterns)),
    path("quart/", include(quart_ports.urlpatterns)),
    path("blacksheep/", include(blacksheep_ports.urlpatterns)),
    path("websockets/", include(websockets_ports.urlpatterns)),
    path("stats/", stats),
]
