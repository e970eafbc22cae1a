"""The demo's websocket routes: the websocket twin of ``urls.py``."""

from consumers.broadcast import broadcast_room
from consumers.chat import ChatConsumer
from consumers.dashboard import DashboardConsumer
from consumers.echo import echo, json_echo
from consumers.topics import ChatTopicsConsumer
from wsapp.routing import path

urlpatterns = [
    path("ws/echo/", echo, name="echo"),
    path("ws/json-echo/", json_echo, name="json-echo"),
    path("ws/chat/<slug:room>/", ChatConsumer, name="chat"),
    path("ws/topics/", ChatTopicsConsumer, name="topics"),
    path("ws/broadcast/<slug:room>/", broadcast_room, name="broadcast"),
    path("ws/dashboard/", DashboardConsumer, name="dashboard"),
]
