"""Bytes written to a Twisted transport that the kernel has not taken yet, pushing them, and
writing past Twisted's buffer when it is empty."""

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


def writable_now(transport: Any) -> bool:
    """Whether bytes for ``transport`` may go straight to ``socket.send``: it is a plain TCP one
    with nothing buffered and no close pending.

    Twisted's ``write`` never writes: it buffers, registers the socket for writability (an
    ``epoll_ctl``), writes on the next loop turn and unregisters (another one): per frame, ~30 %
    of a fan-out's CPU. When nothing is buffered before them, bytes given to the kernel at once
    keep the order they were written in: everything written earlier has already left.
    """
    return not (
        getattr(transport, "socket", None) is None
        or getattr(transport, "TLS", False)
        or not getattr(transport, "connected", False)
        or transport.disconnecting
        or getattr(transport, "_writeDisconnected", True)
        or transport._tempDataLen
        or len(transport.dataBuffer) != transport.offset
    )


def send_now(transport: Any, data: bytes) -> None:
    """``socket.send`` what the kernel takes now; the rest through Twisted's buffer, in order.
    Only for a transport :func:`writable_now` said yes to, with nothing written since (it may
    have lost its connection in between: Twisted then has no socket for it, and the bytes go)."""
    sock = getattr(transport, "socket", None)
    if sock is None or not transport.connected:
        return  # the connection was lost while the bytes waited: no one is left to read them
    try:
        sent = sock.send(data)
    except (BlockingIOError, InterruptedError):
        sent = 0
    except OSError:
        sent = 0  # a broken socket: Twisted's own write finds and reports it
    if sent < len(data):
        transport.write(data[sent:] if sent else data)
