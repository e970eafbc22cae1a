"""``Consumer``: class-based handlers for JSON protocols whose messages carry a ``type``.

Dispatch is a dict from event type to method name, built once per class from methods marked
``@event("chat.message")``. Only those are reachable from a client: nothing else on the class —
not ``disconnect``, not a helper, not a channel-layer handler — can be named by a frame.

A frame arrives at the hooks ``on_text(text)`` / ``on_bytes(data)``, which decode it with
``on_json_frame(raw)`` and dispatch it. These hooks were named ``receive_text``,
``receive_bytes`` and ``receive_raw_json`` in wsapp 0.1, the names of the connection's methods
that *pull* a frame; a subclass that still overrides an old name gets a ``DeprecationWarning``
when it is defined, and its override is still called. What an exception does to the connection
is :mod:`wsapp.lifecycle`'s policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import warnings
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeVar

from wsapp import lifecycle
from wsapp.codes import CloseCode
from wsapp.conf import get_settings
from wsapp.connection import CONNECTED, WebSocket
from wsapp.exceptions import BadRequest, InvalidMessage, InvalidText, UnsupportedData
from wsapp.layers import get_layer
from wsapp.limits import RATE_LIMITED_FRAME

__all__ = ["Consumer", "event", "layer_event"]

logger = logging.getLogger("wsapp")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$")
#: The hooks' names before they said they were hooks: old name → new name (a constant table,
#: read when a subclass is defined; nothing registers into it).
_DEPRECATED_HOOK_NAMES = MappingProxyType(
    {
        "receive_text": "on_text",
        "receive_bytes": "on_bytes",
        "receive_raw_json": "on_json_frame",
    }
)


def _shorten(text: str, limit: int = 100) -> str:
    """A client's text as an error message quotes it: a registered type is at most 100 characters,
    so a longer one is cut, and a hostile one is not echoed back larger (``repr`` grows NULs 4×)."""
    return text if len(text) <= limit else text[:limit] + "…"


def _registered(cls: type, marker: str) -> dict[str, str]:
    """``{event type: method name}`` for the methods of ``cls`` (and its bases) marked so."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            event_type = getattr(value, marker, None)
            if event_type is not None:
                found[event_type] = name
    return found


def _marker(attribute: str) -> Callable[[str], Callable[[F], F]]:
    """A decorator factory that marks methods as handlers of one event ``type``."""

    def decorator(type: str) -> Callable[[F], F]:  # noqa: A002 - "type" is the protocol's word
        if not isinstance(type, str) or not _EVENT_TYPE.match(type):
            raise ValueError(f"{type!r} is not a valid event type (e.g. 'chat.message').")

        def register(method: F) -> F:
            setattr(method, attribute, type)
            return method

        return register

    return decorator


event = _marker("_wsapp_event")
event.__doc__ = """Register the decorated method as the handler of client messages of this ``type``.

    Raises:
        ValueError: ``type`` is not a dotted name of at most 100 characters.
    """
layer_event = _marker("_wsapp_layer_event")
layer_event.__doc__ = """Register the method as the handler of channel-layer messages of this ``type``.

    Layer events and client events are separate tables: a client frame can never reach a
    ``@layer_event`` method, nor a layer message an ``@event`` one.
    """


class Consumer:
    """A connection handled by a class: ``connect``, events by ``type``, ``disconnect``.

    Override ``connect()`` to refuse (raise ``wsapp.exceptions.PermissionDenied`` etc.) or to
    accept with a chosen subprotocol; register events with ``@event``. ``self.ws`` is the
    connection, the same ``WebSocket`` an ``async def`` handler gets.
    """

    #: Subprotocols the route supports when ``path()`` names none.
    subprotocols: ClassVar[tuple[str, ...] | list[str]] = ()
    #: ``"text"`` or ``"binary"`` JSON frames.
    json_mode: ClassVar[Literal["text", "binary"]] = "text"
    #: Close with 1011 when an event handler raises (``None``: ``WSAPP["CLOSE_ON_HANDLER_ERROR"]``).
    close_on_error: ClassVar[bool | None] = None
    #: Refuse anonymous users with 4401 before ``connect()`` runs (see :mod:`wsapp.access`).
    login_required: ClassVar[bool] = False
    #: ``"app_label.codename"`` or a list of them; without every one → 4403. Implies a login.
    permission_required: ClassVar[str | list[str] | tuple[str, ...] | None] = None
    _events: ClassVar[dict[str, str]] = {}

    #: Channel-layer groups to join. Opting in to Channels-style layer events (this, or any
    #: ``@layer_event`` method) costs a layer channel per connection; rooms need neither.
    groups: ClassVar[list[str] | tuple[str, ...]] = ()
    _layer_events: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._events = _registered(cls, "_wsapp_event")
        cls._layer_events = _registered(cls, "_wsapp_layer_event")
        for old, new in _DEPRECATED_HOOK_NAMES.items():
            override = vars(cls).get(old)
            if override is None:
                continue
            warnings.warn(
                f"{cls.__qualname__}.{old}() is deprecated: override {new}() instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            if new not in vars(cls):
                setattr(cls, new, override)  # the old override is the hook that is called

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.scope = ws.scope
        # A message dropped over a rate limit is answered in this protocol's own JSON, in its
        # frame type; a subclass for another protocol sets its own notice (or None) in connect().
        notice = RATE_LIMITED_FRAME
        ws.limits.drop_notice = notice if self.json_mode == "text" else notice.encode()
        self._invalid_in_a_row = 0
        self._errors = lifecycle.HandlerErrorLog(type(self).__qualname__)

    # -- lifecycle, for subclasses ----------------------------------------------------------

    async def connect(self) -> None:
        """Accept, negotiating the subprotocol. Raise a ``Reject`` subclass to refuse."""
        await self.ws.accept()

    async def disconnect(self, code: int) -> None:
        """Called once the connection is over, with the close code, whoever closed it."""

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, dispatch messages until the connection ends, then ``disconnect()``.

        ``disconnect()`` runs for every connection that was accepted; one refused in
        ``connect()`` never started, so there is nothing to tear down. A consumer that opts in
        to layer events joins its groups *before* ``connect()``, as Channels does, so nothing
        sent to them once the client sees the accept is missed.
        """
        if not (self.groups or self._layer_events):
            await self._serve(self._receive_loop)
            return
        await self._join_groups()
        try:
            await self._serve(self._receive_with_layer)
        finally:
            await self._leave_groups()

    async def _serve(self, receive: Callable[[], Awaitable[None]]) -> None:
        await self.connect()
        if self.ws.application_state is not CONNECTED:
            return
        try:
            await receive()
        except Exception as exc:
            await lifecycle.settle(self.ws, exc, handler=type(self).__qualname__)
        finally:
            code = self.ws.close_code
            await self.disconnect(CloseCode.ABNORMAL_CLOSURE if code is None else code)

    # -- Channels-style layer events (opt in) ------------------------------------------------

    async def _join_groups(self) -> None:
        self.channel_layer = get_layer()
        self.channel_name = await self.channel_layer.new_channel()
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def _leave_groups(self) -> None:
        for group in self.groups:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def _receive_with_layer(self) -> None:
        reader = asyncio.ensure_future(self._layer_loop())
        try:
            await self._receive_loop()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def _layer_loop(self) -> None:
        """Layer messages to their ``@layer_event`` methods; never to a client-reachable one."""
        while True:
            message = await self.channel_layer.receive(self.channel_name)
            name = self._layer_events.get(message.get("type", ""))
            if name is None:
                logger.warning(
                    "%s has no @layer_event for %r", type(self).__qualname__, message.get("type")
                )
                continue
            try:
                await getattr(self, name)(message)
            except Exception as exc:
                fatal = lifecycle.escalate(self.ws, exc, close_on_error=False)
                if fatal is not None:
                    await lifecycle.settle(self.ws, fatal, handler=type(self).__qualname__)
                    return
                logger.error(
                    "Error handling layer event %r in %s",
                    message.get("type"),
                    type(self).__qualname__,
                    exc_info=exc,
                )

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Send ``message`` to a channel-layer group (its ``type`` names the ``@layer_event``)."""
        await get_layer().group_send(group, message)

    async def _receive_loop(self) -> None:
        receive = self.ws.receive
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                await self.on_text(text)
            else:
                await self.on_bytes(message.get("bytes") or b"")

    # -- hooks, for subclasses ----------------------------------------------------------------

    async def on_text(self, text: str) -> None:
        """Hook: a text frame arrived. JSON with a ``type`` in text mode; override for other
        protocols."""
        if self.json_mode != "text":
            raise UnsupportedData("This endpoint takes binary JSON frames.")
        await self.on_json_frame(text)

    async def on_bytes(self, data: bytes) -> None:
        """Hook: a binary frame arrived. JSON in binary mode, else unsupported (closes 1003)."""
        if self.json_mode != "binary":
            raise UnsupportedData("This endpoint takes JSON text frames.")
        await self.on_json_frame(data)

    async def on_json_frame(self, raw: str | bytes) -> None:
        """Hook: decode one JSON frame and dispatch it; what is not a JSON object with a
        ``type`` (or holds text that is not Unicode) gets an ``error`` frame that counts toward
        ``MAX_INVALID_FRAMES``."""
        try:
            content = self.ws.loads(raw)
        except InvalidText as exc:
            await self.reject_message("invalid_message", str(exc))
            return
        # A custom decoder may overflow the stack on deep input: the peer's fault, not a 1011.
        except (ValueError, RecursionError) as exc:
            await self.reject_message("invalid_json", f"Invalid JSON: {exc}")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.reject_message("invalid_message", 'Expected a JSON object with a "type".')
            return
        await self.dispatch(content)

    async def dispatch(self, content: dict[str, Any]) -> None:
        """Call the ``@event`` method registered for ``content["type"]``."""
        name = self._events.get(content["type"])
        if name is None:
            shown = _shorten(content["type"])
            await self.reject_message("unknown_type", f"Unknown message type {shown!r}.")
            return
        invalid_before = self._invalid_in_a_row
        try:
            await getattr(self, name)(content)
        except InvalidMessage as exc:
            details = self.error_details(content)
            await self.reject_message(exc.error_code, exc.message, **details)
            return
        except Exception as exc:
            fatal = lifecycle.escalate(self.ws, exc, close_on_error=self._close_on_error())
            if fatal is exc:
                raise  # run() closes (1011 for an application error, logged with its traceback)
            if fatal is not None:
                raise fatal from None
            self._errors.log(content["type"], exc)
            await self.send_error("internal_error", "The server failed to handle this message.")
            return
        if self._invalid_in_a_row == invalid_before:
            # A handler that answered with its own error frame and counted it (count_invalid())
            # did not handle a valid message: the count must not restart.
            self._invalid_in_a_row = 0

    def error_details(self, content: dict[str, Any]) -> dict[str, Any]:
        """Hook: fields added to the ``error`` frame that answers an ``InvalidMessage`` raised by
        the handler of ``content`` (``RoomConsumer`` names the message's ``client_id``)."""
        return {}

    # -- sending ----------------------------------------------------------------------------

    async def send_json(self, data: Any) -> None:
        await self.ws.send_json(data, mode=self.json_mode)

    async def send_error(self, code: str, message: str, **details: Any) -> None:
        """Answer one message with the wire protocol's ``error`` frame (plus ``details``, such as
        the message's ``client_id``); the connection stays open."""
        await self.send_json({"type": "error", "code": code, "message": message, **details})

    async def reject_message(self, code: str, message: str, **details: Any) -> None:
        """An ``error`` frame for a malformed message; too many in a row close with 4400."""
        await self.send_error(code, message, **details)
        await self.count_invalid()

    async def count_invalid(self) -> None:
        """Count a malformed message whose error frame was sent; too many in a row → 4400."""
        self._invalid_in_a_row += 1
        if self._invalid_in_a_row >= get_settings()["MAX_INVALID_FRAMES"]:
            raise BadRequest(f"{self._invalid_in_a_row} malformed messages in a row.")

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        await self.ws.close(code, reason)

    def _close_on_error(self) -> bool:
        if self.close_on_error is not None:
            return self.close_on_error
        return bool(get_settings()["CLOSE_ON_HANDLER_ERROR"])

    # -- the hooks' old names (deprecated) -------------------------------------------------------
    # Kept so that an old override calling ``super().receive_text(text)`` still works: each
    # runs the base hook (not ``self.on_*``, which may be that very override).

    async def receive_text(self, text: str) -> None:
        """Deprecated: the base :meth:`on_text`, for old overrides that call ``super()``."""
        await Consumer.on_text(self, text)

    async def receive_bytes(self, data: bytes) -> None:
        """Deprecated: the base :meth:`on_bytes`, for old overrides that call ``super()``."""
        await Consumer.on_bytes(self, data)

    async def receive_raw_json(self, raw: str | bytes) -> None:
        """Deprecated: the base :meth:`on_json_frame`, for old overrides that call ``super()``."""
        await Consumer.on_json_frame(self, raw)
