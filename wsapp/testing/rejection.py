"""A refused handshake as the test client reports it: what a real client would get.

A close before accept reaches a real client as Daphne's ``403`` with an empty body, and a
``ws.deny()`` as its own status, headers and body; :class:`HandshakeRejected` carries exactly
that, read from the application's events by :func:`read_denial`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from wsapp.codes import CloseCode
from wsapp.exceptions import WebSocketDisconnect
from wsapp.types import DENIAL_BODY, DENIAL_START, Message

#: What a real server answers a close before accept with: 403 and an empty body (Daphne's).
REFUSED_STATUS = 403


class HandshakeRejected(WebSocketDisconnect):
    """The application refused the handshake; what a real client gets is the HTTP response.

    Attributes:
        status_code: the response's status: the denial's (``ws.deny()``), or 403 for a close
            before accept.
        headers: the denial's headers as ``(name, value)`` str pairs (none for a close).
        body: the denial's body (empty for a close).
        code, reason: the close the application sent, which no client ever sees (a browser
            reports 1006 for any refused handshake); kept for older tests. 1006 for a denial.
    """

    def __init__(
        self,
        code: int = CloseCode.ABNORMAL_CLOSURE,
        reason: str = "",
        *,
        status_code: int = REFUSED_STATUS,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        super().__init__(code, reason)
        self.status_code = status_code
        self.headers = list(headers)
        self.body = body

    def __repr__(self) -> str:
        return f"HandshakeRejected(status_code={self.status_code!r}, body={self.body!r:.60})"


async def read_denial(
    start: Message, next_event: Callable[[], Awaitable[Message]]
) -> HandshakeRejected:
    """The rejection a denial amounts to: ``start`` and the body events ``next_event`` reads.

    Raises:
        RuntimeError: the application broke the extension's sequence.
    """
    if start.get("status") is None:
        raise RuntimeError(f"{DENIAL_START} without a status: {start!r}")
    body = b""
    while True:
        message = await next_event()
        if message["type"] != DENIAL_BODY:
            raise RuntimeError(f'Expected "{DENIAL_BODY}", but got {message["type"]!r}')
        body += message.get("body") or b""
        if not message.get("more_body"):
            break
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]
    return HandshakeRejected(status_code=int(start["status"]), headers=headers, body=body)
