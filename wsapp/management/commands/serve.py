"""``manage.py serve``: the project's ASGI application on Daphne, with WSAPP's websocket settings.

    python manage.py serve --host 127.0.0.1 --port 8000
    python manage.py serve --bind 0.0.0.0:8000 --bind unix:/run/wsapp.sock

The command only parses its options; :class:`wsapp.server.WsappServer` does the work. Unlike
``runserver`` it has no autoreloader: it is the process a deployment runs, and it drains on
SIGTERM.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from daphne.endpoints import build_endpoint_description_strings
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from wsapp.proxy import ProxyHeadersMiddleware
from wsapp.server import WsappServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d+)$")
_LOG_LEVELS = {0: logging.WARNING, 1: logging.INFO}


def _port(value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 0 <= port <= 65535:
        raise CommandError(f"{value!r} is not a port number (0-65535).")
    return port


def endpoints_from_options(host: str | None, port: int | None, binds: list[str]) -> list[str]:
    """Twisted endpoint strings for ``--host``/``--port`` and each ``--bind``.

    Raises:
        CommandError: a bind is neither ``HOST:PORT``, ``[IPv6]:PORT`` nor ``unix:PATH``.
    """
    endpoints: list[str] = []
    if host is not None or port is not None or not binds:
        endpoints += build_endpoint_description_strings(
            host=host or DEFAULT_HOST, port=_port(DEFAULT_PORT if port is None else port)
        )
    for bind in binds:
        if bind.startswith("unix:") and len(bind) > len("unix:"):
            endpoints += build_endpoint_description_strings(unix_socket=bind[len("unix:") :])
            continue
        match = _HOST_PORT.match(bind)
        if match is None:
            raise CommandError(
                f"--bind {bind!r} is not HOST:PORT, [IPv6]:PORT or unix:PATH "
                "(e.g. 0.0.0.0:8000, [::1]:8000, unix:/run/wsapp.sock)."
            )
        endpoints += build_endpoint_description_strings(
            host=match["v6"] or match["host"], port=_port(match["port"])
        )
    return endpoints


def load_application(use_static: bool) -> Any:
    """``settings.ASGI_APPLICATION``, serving static files like runserver when DEBUG is on.

    Raises:
        CommandError: the setting is missing or does not import.
    """
    from channels.routing import get_default_application

    if not getattr(settings, "ASGI_APPLICATION", None):
        raise CommandError("Set ASGI_APPLICATION (e.g. 'config.asgi.application') to serve it.")
    try:
        application = get_default_application()
    except (ImproperlyConfigured, ImportError) as exc:
        raise CommandError(
            f"Cannot load ASGI_APPLICATION {settings.ASGI_APPLICATION!r}: {exc}"
        ) from exc
    from django.apps import apps

    if use_static and settings.DEBUG and apps.is_installed("django.contrib.staticfiles"):
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        return ASGIStaticFilesHandler(application)
    return application


def configure_logging(verbosity: int) -> None:
    """Show the server's log lines at the level ``--verbosity`` asks for, each with its time.

    Loggers the project's ``LOGGING`` already handles are left to it; the others (all of wsapp's,
    and Daphne's) get a timestamped console handler, not logging's bare last-resort one.
    """
    level = _LOG_LEVELS.get(verbosity, logging.DEBUG)
    for name in ("wsapp.server", "daphne"):
        logging.getLogger(name).setLevel(level)
    for name in ("wsapp", "daphne"):
        logger = logging.getLogger(name)
        if not logger.hasHandlers():
            handler = logging.StreamHandler()
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            )
            logger.addHandler(handler)


class Command(BaseCommand):
    help = "Serve ASGI_APPLICATION on Daphne with WSAPP's websocket settings; SIGTERM drains."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", help=f"Interface to listen on (default {DEFAULT_HOST}).")
        parser.add_argument("--port", type=int, help=f"TCP port (default {DEFAULT_PORT}).")
        parser.add_argument(
            "--bind",
            action="append",
            default=[],
            metavar="ADDRESS",
            help="HOST:PORT, [IPv6]:PORT or unix:PATH; repeat to listen on several.",
        )
        parser.add_argument(
            "--shutdown-grace",
            type=float,
            help='Seconds handlers get after SIGTERM (default WSAPP["SHUTDOWN_GRACE"]).',
        )
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            help="Take the client address and scheme from X-Forwarded-For/-Proto, believed only "
            'from WSAPP["TRUSTED_PROXIES"].',
        )
        parser.add_argument(
            "--nostatic",
            action="store_false",
            dest="use_static",
            help="Do not serve STATIC_URL even when DEBUG is on.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        endpoints = endpoints_from_options(options["host"], options["port"], options["bind"])
        overrides: dict[str, Any] = {}
        grace = options["shutdown_grace"]
        if grace is not None:
            if grace < 0:
                raise CommandError(f"--shutdown-grace must be ≥ 0 seconds, got {grace}.")
            overrides["shutdown_grace"] = grace
        application = load_application(options["use_static"])
        if options["proxy_headers"]:
            # Not Daphne's own proxy options: they believe X-Forwarded-For from any peer.
            application = ProxyHeadersMiddleware(application)
        configure_logging(options["verbosity"])
        server = WsappServer.from_settings(
            application,
            endpoints,
            verbosity=options["verbosity"],
            root_path=getattr(settings, "FORCE_SCRIPT_NAME", None) or "",
            **overrides,
        )
        server.run()
        if server.abort_start:
            raise CommandError(f"Could not listen on {', '.join(endpoints)} (see the log above).")
