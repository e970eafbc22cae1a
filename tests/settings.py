"""Test settings: the demo's, with an in-memory layer and a throwaway SQLite database."""

from config.settings import *  # noqa: F403

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Let pytest's caplog see wsapp's log records.
LOGGING = {"version": 1, "disable_existing_loggers": False}
