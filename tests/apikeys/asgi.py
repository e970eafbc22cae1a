from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()  # sets Django up before the imports below load models

from channels.routing import ProtocolTypeRouter  # noqa: E402

from tests.apikeys.middleware import ApiKeyMiddleware  # noqa: E402
from wsapp.asgi import websocket_application  # noqa: E402
from wsapp.routing import Router  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin check → wsapp tokens → session → your API keys → the routes.
        "websocket": websocket_application(ApiKeyMiddleware(Router())),
    }
)
