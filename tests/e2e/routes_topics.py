"""The demo's websocket routes plus a ``TopicConsumer`` at ``/ws/test-topics/``, for the topics
e2e tests (``WSAPP["ROUTING"]`` of their server processes; the demo's own routing is not
touched)."""

from __future__ import annotations

from config.routing import urlpatterns as demo_urlpatterns
from wsapp.rooms import TopicConsumer
from wsapp.routing import path


class Topics(TopicConsumer):
    """The multiplexed endpoint as a project would route it: the chat endpoint's subprotocol."""

    subprotocols = ["wsapp.v1"]
    max_body_length = 2000


urlpatterns = [*demo_urlpatterns, path("ws/test-topics/", Topics)]
