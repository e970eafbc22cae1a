"""Settings of the wsapp demo project, read from the environment.

Everything has a laptop default: SQLite in the project folder and the in-memory channel layer.
Production sets ``DATABASE_URL``, ``REDIS_URL``, ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG=0`` and
``DJANGO_ALLOWED_HOSTS``; every process then shares rooms, presence and history.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from wsapp.layers import redis_layer_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)
# The fallback key only ever serves DEBUG; a production process must be given its own.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (
    "django-insecure-wsapp-demo-only" if DEBUG else ""
)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "wsapp",
    "config.apps.DemoConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from the process itself, with far-future caching of the hashed names that
    # collectstatic writes: no separate file server needed (README, "Production checklist").
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=0
    )
}

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    # channels_redis, with wsapp's pool that waits instead of failing under churn (200
    # connections a process), and hub channels sized for a whole process's room traffic.
    CHANNEL_LAYERS = {"default": redis_layer_config(REDIS_URL)}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Production-safe limits (README, "Production checklist" → "Limits" says what each costs). A
# person chats at well under 1 message/s and the demo's client sends ``typing`` every 2.5 s; a
# script flooding one socket gets 20 + 10/s through for RATE_LIMIT_GRACE (2 s), then 4429.
DEMO_LIMITS = {
    "RATE_LIMIT": "10/s burst 20",  # per connection: no store round trip
    "RATE_LIMIT_PER_USER": "10/s burst 30",  # all of a user's sockets: one store call a message
    "MAX_CONNECTIONS_PER_USER": 10,  # tabs and devices; the 11th is closed with 4409
}
WSAPP = {
    "ROUTING": "config.routing",
    **DEMO_LIMITS,
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
# Production serves what `manage.py collectstatic` wrote: compressed, under content-hashed names
# (so a deploy never serves a stale wsapp.js from a browser cache). DEBUG serves the sources.
# WhiteNoise follows the environment's DEBUG, not Django's (tests run with DEBUG forced off but
# no collectstatic): under DEBUG it serves the sources through the finders and rescans per
# request; in production it indexes STATIC_ROOT once at start and warns if it is missing.
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# The demo pages' stylesheet and scripts; wsapp's own client ships inside the app (wsapp/static/).
STATICFILES_DIRS = [BASE_DIR / "static"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# One line per event, each with its time: what a production log collector expects.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "timestamped": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "timestamped"}},
    "loggers": {
        "wsapp": {
            "handlers": ["console"],
            "level": os.environ.get("WSAPP_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
        # Django's default sends request errors to the console only under DEBUG; a production
        # process must log its 500s too.
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
