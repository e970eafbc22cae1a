"""Bytes written to a Twisted transport that the kernel has not taken yet, and pushing them."""

from __future__ import annotations

from typing import Any


def buffered_bytes(transport: Any) -> int:
    """Bytes written to ``transport`` that the kernel has not taken yet.

    Twisted's ``FileDescriptor`` keeps them in ``dataBuffer`` (from ``offset`` on) plus
    ``_tempDataBuffer`` (``_tempDataLen`` bytes). A wrapping transport (TLS) passes its
    bytes on to the one below, so the whole chain is summed.
    """
    total = 0
    for _ in range(4):  # TCP, or TLS over TCP: never deeper than a couple of wrappers
        if transport is None:
            break
        data = getattr(transport, "dataBuffer", b"")
        total += len(data) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)
        transport = getattr(transport, "transport", None)
    return total


def flush(transport: Any, limit: int) -> int:
    """Write ``transport``'s buffer to the socket until it is at most ``limit`` or the kernel
    takes no more; return what is still buffered."""
    buffered = buffered_bytes(transport)
    innermost = transport
    while getattr(innermost, "transport", None) is not None:
        innermost = innermost.transport
    if not hasattr(innermost, "doWrite") or getattr(innermost, "disconnecting", True):
        return buffered
    while buffered > limit:
        # doWrite returns an exception for a broken socket: the reactor's own doWrite reports it.
        if innermost.doWrite() is not None:
            break
        remaining = buffered_bytes(transport)
        if remaining >= buffered:
            break
        buffered = remaining
    return buffered
