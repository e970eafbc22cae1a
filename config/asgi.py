"""The demo's ASGI application: ``daphne config.asgi:application`` or ``manage.py serve``."""

import os

# As startproject's asgi.py does, so any ASGI server can import this module without being told.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from wsapp.asgi import get_asgi_application  # noqa: E402  (needs the settings module above)

application = get_asgi_application()
