"""What an open connection of ``manage.py serve`` stops holding: its handshake's leftovers.

autobahn keeps the upgrade request on the protocol for the connection's whole life: the raw
bytes (``http_request_data``), the parsed headers (``http_headers``, shared with the
``ConnectionRequest`` Daphne keeps as ``request``), the URI, host, path and query, the offered
subprotocols and extensions, the key, and the 101 response it sent (``http_response_data``,
"for the testsuite"). Daphne adds its own handshake state (the cleaned headers, the root path,
the raw query, the deferred that made the application). Nothing reads any of them once the socket is open (autobahn's are read in
``processHandshake``/``succeedHandshake``, Daphne's in ``onConnect``), and the application's
scope holds its own references to what it needs.

autobahn also sets ~25 state attributes on every new protocol (``wasClean = False``,
``localCloseCode = None``...) that an idle connection never changes. Each is an instance-dict
key, and CPython sizes that dict in steps: at most 42 keys fit a 64-slot table (~0.8 KB), 85 a
128-slot one (~1.6 KB). Those still at their initial value are read from the class instead,
the first assignment puts one back on the instance, so every read sees what it saw before.

A dict never shrinks on deletion, so :meth:`HandshakeLeftovers.shed_handshake` drops them and
rebuilds the protocol's instance dict at its new size. A late reader of a handshake leftover gets
``None`` from the class, not an ``AttributeError``. (autobahn's options are not here: :mod:`wsapp.server.options`
keeps them off the instance from the start.)
"""

from __future__ import annotations

from typing import Any

__all__ = ["HANDSHAKE_ONLY", "INITIAL_STATE", "HandshakeLeftovers", "OpenRequest"]

# Read only until the connection is open; each reader is named where it is.
HANDSHAKE_ONLY = (
    # autobahn's processHandshake() and succeedHandshake()
    "http_request_data",
    "http_status_line",
    "http_headers",
    "http_request_uri",
    "http_request_path",
    "http_request_params",
    "http_request_host",
    "http_response_data",
    "_wskey",
    "websocket_origin",
    "websocket_protocols",  # and AnsweringProtocol.serverAccept(), before the 101
    "websocket_extensions",
    # Daphne's WebSocketProtocol.onConnect()
    "clean_headers",
    "root_path",
    "_raw_query_string",
    "protocol_to_accept",
    "application_deferred",
)


# autobahn's per-connection state, which it sets on every new protocol to these values; an open
# connection that has done nothing yet (an idle one) reads them from the class instead.
INITIAL_STATE: dict[str, None | bool] = dict.fromkeys(
    (
        "wasNotCleanReason",
        "localCloseCode",
        "localCloseReason",
        "remoteCloseCode",
        "remoteCloseReason",
        "closeHandshakeTimeoutCall",
        "openHandshakeTimeoutCall",
        "autoPingPending",
        "autoPingPendingCall",
        "autoPingTimeoutCall",
        "current_frame",
        "trackedTimings",
        "websocket_protocol_in_use",
        "_perMessageCompress",
    )
) | dict.fromkeys(
    (
        "wasClean",
        "wasServerConnectionDropTimeout",
        "wasOpenHandshakeTimeout",
        "wasCloseHandshakeTimeout",
        "wasServingFlashSocketPolicyFile",
        "wasMaxFramePayloadSizeExceeded",
        "wasMaxMessagePayloadSizeExceeded",
        "closedByMe",
        "failedByMe",
        "droppedByMe",
        "inside_message",
    ),
    False,
)


class OpenRequest:
    """What is left of autobahn's ``ConnectionRequest`` once open: the path Daphne logs with."""

    __slots__ = ("path", "peer")

    def __init__(self, path: str, peer: str) -> None:
        self.path, self.peer = path, peer


class HandshakeLeftovers:
    """The protocol's :meth:`shed_handshake` (a mixin)."""

    request: Any

    def shed_handshake(self) -> None:
        """Drop :data:`HANDSHAKE_ONLY`, the request's headers and the state still at its
        :data:`INITIAL_STATE`; compact the instance dict."""
        attrs = vars(self)
        for name in HANDSHAKE_ONLY:
            attrs.pop(name, None)
        for name, initial in INITIAL_STATE.items():
            if name in attrs and attrs[name] is initial:
                del attrs[name]
        request = attrs.get("request")
        if request is not None and not isinstance(request, OpenRequest):
            attrs["request"] = OpenRequest(request.path, request.peer)
        # A copy of a dict with deleted entries is sized for what is left (a deletion frees
        # the values, never the table).
        self.__dict__ = dict(attrs)


for _name in HANDSHAKE_ONLY:
    setattr(HandshakeLeftovers, _name, None)
for _name, _initial in INITIAL_STATE.items():
    setattr(HandshakeLeftovers, _name, _initial)
del _name, _initial
