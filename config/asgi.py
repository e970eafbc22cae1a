from wsapp.asgi import get_asgi_application

application = get_asgi_application()
