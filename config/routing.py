"""The demo's websocket routes: the websocket twin of ``urls.py``."""

from consumers.echo import echo, json_echo
from wsapp.routing import path

urlpatterns = [
    path("ws/echo/", echo, name="echo"),
    path("ws/json-echo/", json_echo, name="json-echo"),
]
