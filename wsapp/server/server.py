"""``WsappServer``: Daphne's ``Server`` configured from ``WSAPP``, with a graceful shutdown.

Daphne builds its websocket factory inside ``run()``, just before the reactor starts, so the
factory is tuned from ``reactor.callWhenRunning`` (protocol class, permessage-deflate, close
frames instead of dropped TCP on protocol errors). ``kill_all_applications``, Daphne's "before
shutdown" trigger, is where SIGTERM drains: stop listening, run the sockets' ``on_shutdown``
callbacks (their last messages, for at most half of ``SHUTDOWN_GRACE``), send every websocket
1001, give the applications the rest of the grace to finish, then cancel what is left.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import signal
from collections.abc import Iterable
from functools import partial
from typing import Any

from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from channels.routing import ProtocolTypeRouter
from daphne.server import Server
from twisted.internet import defer, reactor

from wsapp.conf import DEFAULTS, get_settings
from wsapp.lifecycle import registry
from wsapp.server import substrate
from wsapp.server.budgets import Limits
from wsapp.server.frames import FrameCache
from wsapp.server.handshake import HandshakeGuard, channel_factory
from wsapp.server.inbox import Inbox
from wsapp.server.options import configured
from wsapp.server.protocol import WsappWebSocketProtocol
from wsapp.server.ticks import TickWriter
from wsapp.types import DENIAL_EXTENSION, DISCONNECT_EXTENSION, PING_EXTENSION, SEND_EXTENSION

logger = logging.getLogger("wsapp.server")

# Server-to-client compression with a 4 KiB window and memLevel 5, as the `websockets` library
# does: most of deflate's gain for a fraction of the 256 KiB per connection zlib's defaults take.
DEFLATE_WINDOW_BITS = 12
DEFLATE_MEM_LEVEL = 5
# After the grace, cancelled applications get this long to unwind before the reactor stops.
CANCEL_WAIT = 1.0
# The share of SHUTDOWN_GRACE the on_shutdown callbacks may take: the handlers' cleanup after
# the 1001 always keeps the rest.
LAST_WORDS_SHARE = 0.5
# Daphne checks timeouts every 2 s: autobahn's opening-handshake timeout, a dropped TCP, waits
# this long past CONNECT_TIMEOUT so the application's lateness is answered with a 503 first.
CONNECT_TIMEOUT_SLACK = 3.0
# ASGI HTTP+WebSocket spec: 2.3 adds the close reason. (2.4 would make a send after the close
# raise, which turns every late group message in a Channels consumer into a traceback.)
ASGI_SPEC_VERSION = "2.3"


def accept_deflate(
    offers: Iterable[Any], *, context_takeover: bool = True
) -> PerMessageDeflateOfferAccept | None:
    """Accept the client's first permessage-deflate offer (RFC 7692), with a small window;
    without ``context_takeover``, with ``server_no_context_takeover`` (RFC 7692 §7.1.1.1 lets a
    server add it to any offer): every message compressed on its own, so a broadcast's
    compressed frame is the same for every member that agreed the same window."""
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            bits = offer.request_max_window_bits or DEFLATE_WINDOW_BITS
            return PerMessageDeflateOfferAccept(
                offer,
                window_bits=min(bits, DEFLATE_WINDOW_BITS),
                mem_level=DEFLATE_MEM_LEVEL,
                no_context_takeover=None if context_takeover else True,
            )
    return None


def refuse_compression(offers: Iterable[Any]) -> None:
    """Decline every permessage-compress offer (``COMPRESSION`` is off)."""
    return None


def websocket_app(application: Any) -> Any:
    """The app a websocket scope reaches: a Channels ``ProtocolTypeRouter``'s ``websocket``
    entry itself (its dispatch would be one more coroutine frame waiting as long as each
    connection), else ``application``."""
    if type(application) is ProtocolTypeRouter:
        return application.application_mapping.get("websocket", application)
    return application


def _address(port: Any) -> str:
    """``host:port`` of a listening TCP port, or the path of a Unix socket."""
    address = port.getHost()
    if hasattr(address, "port"):
        host = address.host
        return f"[{host}]:{address.port}" if ":" in host else f"{host}:{address.port}"
    name = getattr(address, "name", address)
    return f"unix:{name.decode() if isinstance(name, bytes) else name}"


class WsappServer(Server):
    """Daphne's server with wsapp's websocket protocol, limits and graceful shutdown.

    Args:
        application: the ASGI application.
        endpoints: Twisted endpoint strings (``daphne.endpoints.build_endpoint_description_strings``).
        max_message_size: largest incoming message in bytes (1009 above it); None: no limit.
        max_queue: incoming messages an application may have waiting before reading pauses.
        max_send_buffer: unsent bytes after which a client is closed with 1013.
        compression: negotiate permessage-deflate.
        compression_context_takeover: ``False`` asks for ``server_no_context_takeover``.
        shutdown_grace: seconds applications get to finish after SIGTERM's 1001.
        limits: per-connection budgets (fragments, control frames, inflating, queued bytes).
        handshake_timeout: seconds for the request headers.
        connect_timeout: seconds the application has to accept (or deny) once they are in.
        max_pending_handshakes: connections that may be sending request headers at once.
        **kwargs: passed to ``daphne.server.Server``; ``ping_interval=None``: no keepalive.

    Each default is the ``WSAPP`` setting's default (``wsapp.conf.DEFAULTS``), written once.
    """

    def __init__(
        self,
        application: Any,
        endpoints: list[str],
        *,
        max_message_size: int | None = DEFAULTS["MAX_MESSAGE_SIZE"],
        max_queue: int = DEFAULTS["MAX_QUEUE"],
        max_send_buffer: int = DEFAULTS["MAX_SEND_BUFFER"],
        compression: bool = DEFAULTS["COMPRESSION"],
        compression_context_takeover: bool = DEFAULTS["COMPRESSION_CONTEXT_TAKEOVER"],
        shutdown_grace: float = DEFAULTS["SHUTDOWN_GRACE"],
        limits: Limits | None = None,
        handshake_timeout: float = DEFAULTS["HANDSHAKE_TIMEOUT"],
        connect_timeout: float = DEFAULTS["CONNECT_TIMEOUT"],
        max_pending_handshakes: int = DEFAULTS["MAX_PENDING_HANDSHAKES"],
        **kwargs: Any,
    ) -> None:
        # Daphne closes every websocket after 24 h by default; WSAPP["IDLE_TIMEOUT"] is ours.
        kwargs.setdefault("websocket_timeout", -1)
        # autobahn (26.x) delivers a compressed message that inflates to just over its limit
        # cut to the limit, without an error. Its limit is one byte over ours, so such a
        # message arrives one byte too big and the protocol refuses it with 1009. 0: no limit.
        autobahn_limit = max_message_size + 1 if max_message_size else 0
        kwargs["websocket_max_message_size"] = kwargs["websocket_max_frame_size"] = autobahn_limit
        # From the upgrade until the application answers: Daphne's connect timeout (a 503, see
        # AnsweringProtocol), and autobahn's opening-handshake timeout behind it.
        kwargs["websocket_connect_timeout"] = connect_timeout
        kwargs["websocket_handshake_timeout"] = connect_timeout + CONNECT_TIMEOUT_SLACK
        # Daphne pings once more than ping_interval has passed: never, past infinity.
        self.keepalive = kwargs.get("ping_interval", DEFAULTS["PING_INTERVAL"]) is not None
        if not self.keepalive:
            kwargs["ping_interval"] = math.inf
        super().__init__(application, endpoints=endpoints, **kwargs)
        self.limits = limits or Limits()
        self.handshake_guard = HandshakeGuard(handshake_timeout, max_pending_handshakes)
        self.max_message_size = max_message_size or None
        self.max_queue = max_queue
        self.max_send_buffer = max_send_buffer
        self.compression = compression
        self.compression_context_takeover = compression_context_takeover
        self.shutdown_grace = shutdown_grace
        self.shutting_down = False
        #: A broadcast's frame, built once for all of this process's uncompressed sockets.
        self.frames = FrameCache()
        #: Each socket's frames of one loop tick, written together at its end.
        self.ticks = TickWriter()
        self.ports: list[Any] = []
        self._grace_over: asyncio.Event | None = None

    @classmethod
    def from_settings(cls, application: Any, endpoints: list[str], **kwargs: Any) -> WsappServer:
        """A server configured from ``wsapp.conf.get_settings()``; ``kwargs`` override it."""
        conf = get_settings()
        options: dict[str, Any] = {
            "ping_interval": conf["PING_INTERVAL"],
            "ping_timeout": conf["PING_TIMEOUT"],
            "max_message_size": conf["MAX_MESSAGE_SIZE"],
            "max_queue": conf["MAX_QUEUE"],
            "max_send_buffer": conf["MAX_SEND_BUFFER"],
            "compression": conf["COMPRESSION"],
            "compression_context_takeover": conf["COMPRESSION_CONTEXT_TAKEOVER"],
            "shutdown_grace": conf["SHUTDOWN_GRACE"],
            "limits": Limits.from_settings(conf),
            "handshake_timeout": conf["HANDSHAKE_TIMEOUT"],
            "connect_timeout": conf["CONNECT_TIMEOUT"],
            "max_pending_handshakes": conf["MAX_PENDING_HANDSHAKES"],
            "server_name": "wsapp",
        }
        options.update(kwargs)
        return cls(application, endpoints, **options)

    def settings_summary(self) -> str:
        """The effective websocket settings, for the start-up log line."""
        return (
            f"MAX_MESSAGE_SIZE={self.max_message_size} "
            f"MAX_QUEUE={self.max_queue} "
            f"PING_INTERVAL={self.ping_interval if self.keepalive else None} "
            f"PING_TIMEOUT={self.ping_timeout} COMPRESSION={self.compression} "
            f"MAX_SEND_BUFFER={self.max_send_buffer} SHUTDOWN_GRACE={self.shutdown_grace} "
            f"MAX_QUEUE_BYTES={self.limits.max_queue_bytes} "
            f"MAX_FRAGMENTS={self.limits.max_fragments} "
            f"CONTROL_FRAME_RATE={self.limits.control_frame_rate!r} "
            f"MAX_INFLATE_RATE={self.limits.max_inflate_rate} "
            f"HANDSHAKE_TIMEOUT={self.handshake_guard.timeout} "
            f"CONNECT_TIMEOUT={self.websocket_connect_timeout} "
            f"MAX_PENDING_HANDSHAKES={self.handshake_guard.limit}"
        )

    def run(self) -> None:
        reactor.callWhenRunning(self._started)
        substrate.install()
        # The tens of thousands of objects Django, the apps and Twisted made at start-up live
        # as long as the process: freezing them keeps every later full collection from
        # traversing them again (the CPython docs' advice for pre-fork servers).
        gc.collect()
        gc.freeze()
        super().run()

    def _started(self) -> None:
        """Tune the factories Daphne built in ``run()``, before any connection arrives."""
        self.http_factory.protocol = channel_factory(self.handshake_guard)
        self.ws_factory.setProtocolOptions(
            # Close frames (1009, 1002, 1007) on protocol errors instead of a dropped TCP (1006).
            failByDrop=False,
            perMessageCompressionAccept=(
                partial(accept_deflate, context_takeover=self.compression_context_takeover)
                if self.compression
                else refuse_compression
            ),
        )
        # The options are final now: each connection reads them from its class (options.py).
        self.ws_factory.protocol = configured(WsappWebSocketProtocol, self.ws_factory)
        where = ", ".join(_address(port) for port in self.ports)
        logger.info(
            "wsapp serve listening on %s; %s", where or self.endpoints, self.settings_summary()
        )
        for port in self.ports:
            if not _address(port).startswith("unix:"):
                print(
                    f"Open http://{_address(port)}/ (Ctrl-C stops, after a graceful drain)",
                    flush=True,
                )

    def listen_success(self, port: Any) -> None:
        self.ports.append(port)
        super().listen_success(port)

    # -- applications ------------------------------------------------------------------------

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Inbox | None:
        """Daphne's, plus the ping, denial and disconnect extensions, and a ``receive`` that
        resumes a paused socket; the messages wait in an :class:`Inbox`, not an
        ``asyncio.Queue`` (about 100 bytes empty instead of 3 KB)."""
        if not isinstance(protocol, WsappWebSocketProtocol):
            return super().create_application(protocol, scope)  # type: ignore[no-any-return]
        assert "application_instance" not in self.connections[protocol]
        queue = Inbox()
        scope.setdefault("asgi", {"version": "3.0", "spec_version": ASGI_SPEC_VERSION})
        scope["extensions"] = {
            **(scope.get("extensions") or {}),
            PING_EXTENSION: {},
            DENIAL_EXTENSION: {},
            DISCONNECT_EXTENSION: {"event": lambda: protocol.closed_event},
            SEND_EXTENSION: {"frame": protocol.send_data},
        }

        async def receive() -> Any:
            message = await queue.get()
            protocol.application_received(queue.qsize(), message)
            return message

        instance = websocket_app(self.application)(
            scope=scope, receive=receive, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
        return queue

    # -- shutdown ----------------------------------------------------------------------------

    def kill_all_applications(self) -> defer.Deferred[None]:
        """Drain before the reactor stops: last words, 1001 to every websocket, then the rest
        of the grace."""
        self.shutting_down = True
        for port in self.ports:
            port.stopListening()
        self._grace_over = asyncio.Event()
        self._skip_grace_on_second_signal()
        return defer.Deferred.fromFuture(asyncio.ensure_future(self._shut_down()))

    async def _shut_down(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_grace
        await self._last_words()
        closing = 0
        for protocol in list(self.connections):
            if isinstance(protocol, WsappWebSocketProtocol):
                closing += protocol.state == protocol.STATE_OPEN
                protocol.close_for_shutdown()
        running = [
            instance
            for details in self.connections.values()
            if (instance := details.get("application_instance")) is not None and not instance.done()
        ]
        remaining = max(0.0, deadline - loop.time())
        logger.info(
            "Shutting down: sent 1001 to %d websockets; waiting up to %.3g s for %d applications.",
            closing,
            remaining,
            len(running),
        )
        await self._drain(running, remaining)

    async def _last_words(self) -> None:
        """The sockets' ``on_shutdown`` callbacks, until they end, their share of the grace
        does, or a second signal comes."""
        assert self._grace_over is not None
        words = asyncio.ensure_future(registry.shutdown(self.shutdown_grace * LAST_WORDS_SHARE))
        interrupted = asyncio.ensure_future(self._grace_over.wait())
        await asyncio.wait([words, interrupted], return_when=asyncio.FIRST_COMPLETED)
        interrupted.cancel()
        if not words.done():
            words.cancel()  # cancels the callbacks still running
        await asyncio.wait([words])
        if not words.cancelled() and words.result():
            logger.info("Shutting down: ran %d on_shutdown callbacks.", words.result())

    async def _drain(self, running: list[asyncio.Future[Any]], timeout: float) -> None:
        """Wait for ``running`` for ``timeout`` s or until a second signal, then cancel the rest."""
        if not running:
            return
        assert self._grace_over is not None
        # Cancelling asyncio.wait() leaves the futures it waits for alone (gather would not).
        finished = asyncio.ensure_future(asyncio.wait(running))
        grace_over = asyncio.ensure_future(self._grace_over.wait())
        await asyncio.wait(
            [finished, grace_over], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        finished.cancel()
        grace_over.cancel()
        pending = [instance for instance in running if not instance.done()]
        if pending:
            logger.warning(
                "Cancelling %d applications still running after the %s s shutdown grace.",
                len(pending),
                self.shutdown_grace,
            )
            for instance in pending:
                instance.cancel()
            await asyncio.wait(pending, timeout=CANCEL_WAIT)

    def _skip_grace_on_second_signal(self) -> None:
        """A second SIGINT/SIGTERM ends the grace at once (Twisted would just ignore it)."""
        if not self.signal_handlers:
            return

        def handler(signum: int, frame: Any) -> None:
            logger.warning("Second %s: cancelling applications now.", signal.Signals(signum).name)
            if self._grace_over is not None:
                reactor.callFromThread(self._grace_over.set)

        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # e.g. SIGINT under nohup
                signal.signal(signum, handler)
