"""The smallest Django settings that run the plain Channels baselines.

Nothing but Channels and a channel layer, so that what is measured is Channels' consumer
machinery and not middleware or apps: the in-memory layer, or channels_redis when ``REDIS_URL`` is
set (the runner starts its own ``redis-server`` on a free port for that).
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
ASGI_APPLICATION = "bench.servers.channels_app.application"

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
