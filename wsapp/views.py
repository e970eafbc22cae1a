"""HTTP views wsapp ships: ``token_view`` hands a logged-in browser session a connection token.

The token lets code that has no cookie jar of its own — a mobile app behind a web login, a worker,
a page connecting to another host — open sockets as that user. It is a GET that only a same-origin
page can read (no CORS headers), never cached.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from wsapp.tokens import make_token, token_max_age

__all__ = ["token_view"]


@never_cache
@require_GET
def token_view(request: HttpRequest) -> JsonResponse:
    """``{"token": "...", "expires_in": seconds}`` for the logged-in user.

    An anonymous request gets a 401 JSON body, not a redirect to the login page: the caller is
    code, which wants a status it can act on, not an HTML form.
    """
    user = request.user
    if not user.is_authenticated:
        response = JsonResponse(
            {"error": "not_authenticated", "message": "Log in to get a connection token."},
            status=401,
        )
        # RFC 9110 §15.5.2: a 401 names a challenge; the session cookie is the only scheme here.
        response["WWW-Authenticate"] = 'Session realm="wsapp"'
        return response
    return JsonResponse({"token": make_token(user), "expires_in": token_max_age()})
