import hashlib
import secrets

from django.conf import settings
from django.db import models


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(models.Model):
    """A key the project gives a service; only its hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key_hash = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return f"API key of {self.user}"

    @classmethod
    def issue(cls, user) -> str:
        key = "sk_" + secrets.token_urlsafe(24)
        cls.objects.create(user=user, key_hash=hash_key(key))
        return key
