"""wsapp's HTTP URLs. Include them under any prefix: ``path("wsapp/", include("wsapp.urls"))``."""

from __future__ import annotations

from django.urls import path

from wsapp.views import token_view

app_name = "wsapp"

urlpatterns = [
    path("token/", token_view, name="token"),
]
