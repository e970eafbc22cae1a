"""wsapp's HTTP URLs. Include them under any prefix: ``path("wsapp/", include("wsapp.urls"))``."""

from __future__ import annotations

from django.urls import path

from wsapp.views import metrics_view, token_view

app_name = "wsapp"

urlpatterns = [
    path("token/", token_view, name="token"),
    path("metrics", metrics_view, name="metrics"),
]
