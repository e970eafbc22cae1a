"""Test settings: the demo's, with an in-memory layer and a throwaway SQLite database."""

from config.settings import *  # noqa: F403
from config.settings import DEMO_LIMITS, WSAPP

# Without the demo's limits, so that a test floods or opens sockets only against limits it sets
# itself; tests/demo/test_limits.py tests the demo's own.
WSAPP = {key: value for key, value in WSAPP.items() if key not in DEMO_LIMITS}

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Let pytest's caplog see wsapp's log records.
LOGGING = {"version": 1, "disable_existing_loggers": False}

# README's project-defined token scheme (its API keys live in their own model).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.apikeys"]  # noqa: F405
