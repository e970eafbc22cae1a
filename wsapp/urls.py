"""wsapp's HTTP URLs. Include them under any prefix: ``path("wsapp/", include("wsapp.urls"))``.

``token/`` (a session's connection token), ``metrics`` (Prometheus), ``publish/`` (signed
messages from outside Django: off until ``WSAPP["PUBLISH_SECRET"]`` or ``PUBLISH_TOKEN`` is set).
"""

from __future__ import annotations

from django.urls import path

from wsapp.publish_view import publish_view
from wsapp.views import metrics_view, token_view

app_name = "wsapp"

urlpatterns = [
    path("token/", token_view, name="token"),
    path("metrics", metrics_view, name="metrics"),
    path("publish/", publish_view, name="publish"),
]
