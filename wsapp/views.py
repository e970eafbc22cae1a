"""HTTP views wsapp ships: ``token_view`` hands a logged-in browser session a connection token,
``metrics_view`` serves Prometheus.

The token lets code that has no cookie jar of its own — a mobile app behind a web login, a worker,
a page connecting to another host — open sockets as that user. It is a GET that only a same-origin
page can read (no CORS headers), never cached.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from wsapp.conf import get_settings
from wsapp.proxy import address_in
from wsapp.tokens import make_token, token_max_age

__all__ = ["metrics_view", "token_view"]


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


@never_cache
@require_GET
async def metrics_view(request: HttpRequest) -> HttpResponse:
    """This process's counters in Prometheus's text format (see :mod:`wsapp.metrics.prometheus`).

    Open to the scraper's address (``WSAPP["METRICS_ALLOWED_IPS"]``) and to staff users; anyone
    else gets a 403, since the numbers (room names, traffic) are not for the public. The address
    is checked first, so a scrape costs no session lookup.
    """
    if not metrics_allowed_ip(request.META.get("REMOTE_ADDR", "")):
        user = await request.auser()
        if not (user.is_active and user.is_staff):
            return HttpResponseForbidden(
                "The metrics are for staff users and the addresses in "
                'WSAPP["METRICS_ALLOWED_IPS"].\n',
                content_type="text/plain; charset=utf-8",
            )
    from wsapp.metrics import prometheus  # prometheus_client is optional: imported on first scrape

    return HttpResponse(await prometheus.render(), content_type=prometheus.CONTENT_TYPE)


def metrics_allowed_ip(address: str) -> bool:
    """Whether ``address`` is in one of ``WSAPP["METRICS_ALLOWED_IPS"]``'s addresses or networks.

    Behind a reverse proxy ``REMOTE_ADDR`` is the proxy's address unless the server rewrites it
    from the proxy's headers (``manage.py serve --proxy-headers``, which believes them only from
    ``WSAPP["TRUSTED_PROXIES"]``): then do not list the proxy's address here.
    """
    return address_in(address, get_settings()["METRICS_ALLOWED_IPS"])
