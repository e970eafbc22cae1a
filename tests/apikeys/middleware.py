from urllib.parse import parse_qs

from .models import ApiKey, hash_key


class ApiKeyMiddleware:
    """``Authorization: Bearer <key>`` or ``?token=<key>`` → the key's user, on every route."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        key = presented_key(scope)
        decided = "auth_method" in scope or "auth_error" in scope  # by a wsapp token
        if key and not decided:
            found = await (
                ApiKey.objects.select_related("user")
                .filter(key_hash=hash_key(key), user__is_active=True)
                .afirst()
            )
            if found is None:  # every route closes with 4401 and this reason
                scope = {**scope, "auth_error": "Invalid API key."}
            else:
                scope = {**scope, "user": found.user, "auth_method": "api_key"}
        return await self.inner(scope, receive, send)


def presented_key(scope) -> str:
    headers = dict(scope["headers"])
    scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "bearer":
        return key.strip()
    return parse_qs(scope["query_string"].decode("latin-1")).get("token", [""])[0]
