"""Close codes as one IntEnum, which of them a client should reconnect after, and the rules of
a close frame (which codes may be sent, how long its reason may be).

RFC 6455 §7.4.1 defines the 1xxx codes; the 4xxx ones are wsapp's application codes, chosen to
mirror HTTP status codes so they read at a glance (4403 ≈ 403 Forbidden). Both the connection and
``manage.py serve``'s protocol apply the close-frame rules from here, so they cannot disagree.
"""

from __future__ import annotations

import enum


class CloseCode(enum.IntEnum):
    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RECEIVED = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014

    BAD_REQUEST = 4400
    NOT_AUTHENTICATED = 4401
    FORBIDDEN = 4403
    ROOM_NOT_FOUND = 4404
    TOO_MANY_CONNECTIONS = 4409
    ROOM_CLOSED = 4410
    RATE_LIMITED = 4429
    ROOM_FULL = 4503


#: A client reconnects (with backoff) after these; never after an application 4xxx code.
RECONNECT_CODES = frozenset(
    {
        CloseCode.GOING_AWAY,
        CloseCode.ABNORMAL_CLOSURE,
        CloseCode.INTERNAL_ERROR,
        CloseCode.SERVICE_RESTART,
        CloseCode.TRY_AGAIN_LATER,
    }
)

# RFC 6455 §5.5: a control frame carries at most 125 bytes; the close code takes two of them.
MAX_CLOSE_REASON_BYTES = 123

# RFC 6455 §7.4.1: 1005, 1006 and 1015 are reserved for reporting and must never be sent in a
# close frame; 1004 is reserved. §7.4.2: 3000–4999 are for libraries and applications.
_SENDABLE_RFC_CODES = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)


def is_sendable(code: int) -> bool:
    """Whether ``code`` may be put in a close frame we send."""
    return code in _SENDABLE_RFC_CODES or 3000 <= code <= 4999


def check_sendable(code: int) -> None:
    """Refuse a code no endpoint may put in a close frame.

    Raises:
        ValueError: ``code`` is reserved or out of range (RFC 6455 §7.4).
    """
    if not is_sendable(code):
        raise ValueError(f"{code} is not a close code an endpoint may send (RFC 6455 §7.4).")


def truncate_reason(reason: str) -> str:
    """``reason`` cut to the 123 UTF-8 bytes a close frame allows, at a character boundary.

    Raises:
        UnicodeEncodeError: ``reason`` holds a lone surrogate, which no close frame can carry.
    """
    encoded = reason.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return reason
    # A cut inside a multi-byte character leaves an incomplete tail; "ignore" drops just that.
    return encoded[:MAX_CLOSE_REASON_BYTES].decode("utf-8", errors="ignore")


def close_reason_bytes(reason: str) -> bytes:
    """``reason`` as a close frame carries it: UTF-8, a lone surrogate replaced by ``?``, cut
    as :func:`truncate_reason` cuts it. For a server writing frames, which must not fail."""
    return truncate_reason(reason.encode("utf-8", "replace").decode("utf-8")).encode()


def should_reconnect(code: int) -> bool:
    """Whether a client should reconnect after the server closed with ``code``."""
    return code in RECONNECT_CODES
