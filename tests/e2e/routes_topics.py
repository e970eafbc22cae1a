"""The demo's websocket routes plus ``TopicConsumer`` itself at ``/ws/test-topics/``, for the topics
e2e tests (``WSAPP["ROUTING"]`` of their server processes; the demo's own routing is not
touched)."""

from __future__ import annotations

from config.routing import urlpatterns as demo_urlpatterns
from wsapp.rooms import TopicConsumer
from wsapp.routing import path

urlpatterns = [*demo_urlpatterns, path("ws/test-topics/", TopicConsumer)]
