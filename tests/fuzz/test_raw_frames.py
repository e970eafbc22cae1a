"""Raw-frame fuzzing of a real ``manage.py serve`` socket.

Each test sends a few hundred generated inputs, one connection each, some at a time: malformed
upgrade requests, oversize headers, reserved bits, bad opcodes, fragment and continuation abuse,
bad close codes, oversized or fragmented control frames, unmasked frames, random byte streams.
The server must answer each with the RFC's close code (1002 protocol error, 1007 bad payload,
1009 too big, …), a 4xx for a bad request, or drop the TCP — never 1011, never a 5xx, never a
traceback in its output — and a healthy client on another socket must still get its echo.

Seeded: ``WSAPP_FUZZ_SEED`` (default 6455) picks every generated input; a failure names the
seed and the case, and the same seed replays it. Bounded: ~2,000 connections, under a minute.
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import e2e_database_url, start_server  # noqa: F401  (fixtures)
from tests.e2e.servers import ServerProcess, StartServer
from tests.security.rawws import (
    DROPPED,
    KEY,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RawClient,
    close_frame,
    frame,
    upgrade_request,
)
from tests.support.timing import scaled
from wsapp.codes import CloseCode

pytestmark = [pytest.mark.fuzz, pytest.mark.e2e]

SEED = int(os.environ.get("WSAPP_FUZZ_SEED", "6455"))
MAX_MESSAGE_SIZE = 64 * 1024  # tests.e2e.settings_serve
CONCURRENCY = 32
#: Still open after this long: the server is waiting for the rest of a frame, which is fine.
QUIET = 0.3
OPEN = "open"
PROTOCOL_ERROR = {CloseCode.PROTOCOL_ERROR}
# A bad close frame: autobahn queues its 1002 and then takes the client's close as the reply,
# aborting the TCP (the 1002 goes with it). RFC 6455 §7.1.7 allows failing by a drop.
BAD_CLOSE = {CloseCode.PROTOCOL_ERROR, DROPPED}


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    #: the answers RFC 6455 allows: close codes, "http-4xx", DROPPED, OPEN
    allowed: frozenset[object]
    handshake: bool = True  # send a valid upgrade request first


def case(name: str, data: bytes, *allowed: object, handshake: bool = True) -> Case:
    return Case(name, data, frozenset(allowed), handshake)


async def answer(server: ServerProcess, item: Case) -> object:
    """What the server does with ``item``: a close code, ``"http-NNN"``, DROPPED or OPEN."""
    client = await RawClient.connect(server.host, server.port)
    try:
        if item.handshake:
            await client.send(upgrade_request("/test/echo/"))
            head = await client.read_head()
            assert head.startswith(b"HTTP/1.1 101 "), head
        client.writer.write(item.data)
        if not item.handshake:
            try:
                head = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), scaled(3))
            except (asyncio.IncompleteReadError, ConnectionError):
                return DROPPED
            except TimeoutError:
                return OPEN
            status = int(head.split(b" ", 2)[1])
            return f"http-{status // 100}xx"
        return await close_or_quiet(client)
    finally:
        client.abort()


async def close_or_quiet(client: RawClient) -> object:
    """The server's close code, DROPPED, or OPEN if it says nothing for ``QUIET`` s."""
    while True:
        try:
            got = await client.read_frame(wait=QUIET)
        except TimeoutError:
            return OPEN
        except (asyncio.IncompleteReadError, ConnectionError):
            return DROPPED
        if got.opcode == OP_CLOSE:
            return got.close_code


async def run_cases(server: ServerProcess, cases: list[Case]) -> Counter[object]:
    """Every case's answer checked against what it allows; the tally of answers."""
    gate = asyncio.Semaphore(CONCURRENCY)
    wrong: list[str] = []
    tally: Counter[object] = Counter()

    async def one(item: Case) -> None:
        async with gate:
            got = await answer(server, item)
        tally[got] += 1
        if got not in item.allowed:
            wrong.append(f"{item.name}: got {got!r}, allowed {sorted(map(str, item.allowed))}")

    await asyncio.wait_for(asyncio.gather(*(one(c) for c in cases)), scaled(60))
    assert not wrong, f"WSAPP_FUZZ_SEED={SEED}: {len(wrong)} wrong answers:\n" + "\n".join(
        wrong[:20]
    )
    return tally


async def assert_still_healthy(server: ServerProcess) -> None:
    async with connect(server.url("/test/echo/"), open_timeout=scaled(10)) as ws:
        await ws.send("after the fuzz")
        assert await asyncio.wait_for(ws.recv(), scaled(10)) == "after the fuzz"
    output = server.output()
    assert "Traceback" not in output, f"WSAPP_FUZZ_SEED={SEED}\n{output[-3000:]}"


def rng(name: str) -> random.Random:
    """A generator per test, derived from the seed, so one test's cases do not shift another's."""
    return random.Random(f"{SEED}:{name}")


def mask(r: random.Random) -> bytes:
    return r.randbytes(4)


# -- generators ------------------------------------------------------------------------------


def reserved_bits(r: random.Random) -> list[Case]:
    return [
        case(f"rsv={rsv} op={op}", frame(op, r.randbytes(r.randrange(20)), rsv=rsv, mask=mask(r)),
             *PROTOCOL_ERROR)
        for _ in range(40)
        for rsv in [r.randrange(1, 8)]
        for op in [r.choice([OP_TEXT, OP_BINARY, OP_PING])]
    ]  # fmt: skip


def bad_opcodes(r: random.Random) -> list[Case]:
    opcodes = [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]
    return [
        case(f"opcode={op:#x}", frame(op, r.randbytes(r.randrange(10)), mask=mask(r)),
             *PROTOCOL_ERROR)
        for op in opcodes
        for _ in range(4)
    ]  # fmt: skip


def unmasked(r: random.Random) -> list[Case]:
    ops = [OP_TEXT, OP_BINARY, OP_PING, OP_PONG]
    cases = [
        case(f"unmasked op={op}", frame(op, r.randbytes(r.randrange(9)), mask=None),
             *PROTOCOL_ERROR)
        for op in ops
        for _ in range(4)
    ]  # fmt: skip
    return cases + [case("unmasked close", frame(OP_CLOSE, b"", mask=None), *BAD_CLOSE)] * 4


def fragments(r: random.Random) -> list[Case]:
    m = mask
    cases = []
    for index in range(30):
        cases += [
            case(f"continuation-first-{index}", frame(OP_CONTINUATION, b"x", mask=m(r)),
                 *PROTOCOL_ERROR),
            case(f"new-message-inside-fragmented-{index}",
                 frame(OP_TEXT, b"a", fin=False, mask=m(r)) + frame(OP_BINARY, b"b", mask=m(r)),
                 *PROTOCOL_ERROR),
            case(f"fragmented-ping-{index}",
                 frame(OP_PING, b"a", fin=False, mask=m(r)) + frame(OP_CONTINUATION, b"b", mask=m(r)),
                 *PROTOCOL_ERROR),
            # A fragmented message that never ends: the server waits (or drops it later).
            case(f"never-ending-{index}",
                 b"".join([frame(OP_BINARY, b"a", fin=False, mask=m(r))]
                          + [frame(OP_CONTINUATION, b"b", fin=False, mask=m(r))] * r.randrange(50)),
                 OPEN),
        ]  # fmt: skip
    cases.append(
        case("too-many-fragments",
             frame(OP_BINARY, b"a", fin=False) + frame(OP_CONTINUATION, b"b", fin=False) * 1100,
             CloseCode.POLICY_VIOLATION)
    )  # fmt: skip
    return cases


def close_codes(r: random.Random) -> list[Case]:
    bad = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
    cases = [case(f"close-code-{code}", close_frame(code), *BAD_CLOSE) for code in bad]
    cases += [
        # A valid close is answered (autobahn answers 1000 rather than echoing the code).
        case(f"close-code-{code}", close_frame(code, b"bye"), CloseCode.NORMAL_CLOSURE, DROPPED)
        for code in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999]
    ]
    cases += [
        case("close-one-byte", frame(OP_CLOSE, b"\x03"), *BAD_CLOSE),
        case("close-empty", frame(OP_CLOSE, b""), CloseCode.NORMAL_CLOSURE, DROPPED),
        case("close-bad-utf8-reason", close_frame(1000, b"\xff\xfe"), *BAD_CLOSE,
             CloseCode.INVALID_PAYLOAD),
    ]  # fmt: skip
    return cases * 3


def control_frames(r: random.Random) -> list[Case]:
    return [
        case(f"{name}-{size}-bytes", frame(op, r.randbytes(size), mask=mask(r)), *PROTOCOL_ERROR)
        for name, op in [("ping", OP_PING), ("pong", OP_PONG), ("close", OP_CLOSE)]
        for size in [126, 200, 1000, 65535, 70000]
    ] * 3


def payloads(r: random.Random) -> list[Case]:
    cases = []
    for index in range(40):
        bad = r.choice([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"])
        # The bad sequence last: random bytes after a truncated one could complete it.
        text = bytes(r.randrange(32, 127) for _ in range(r.randrange(10))) + bad
        cases.append(case(f"bad-utf8-{index}", frame(OP_TEXT, text, mask=mask(r)),
                          CloseCode.INVALID_PAYLOAD))  # fmt: skip
    big = MAX_MESSAGE_SIZE + 1
    cases += [
        case("frame-over-max-size", frame(OP_BINARY, b"x" * big), CloseCode.MESSAGE_TOO_BIG),
        case("announced-2**63", frame(OP_BINARY, b"", length=(1 << 63) - 1),
             CloseCode.MESSAGE_TOO_BIG, CloseCode.PROTOCOL_ERROR),
        # RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
        case("announced-2**64-1", b"\x82\xff" + struct.pack("!Q", (1 << 64) - 1) + b"\0" * 4,
             CloseCode.MESSAGE_TOO_BIG, CloseCode.PROTOCOL_ERROR),
        case("compressed-without-extension", frame(OP_TEXT, b"x", rsv=4), *PROTOCOL_ERROR),
    ]  # fmt: skip
    return cases


def random_streams(r: random.Random) -> list[Case]:
    """Random bytes after a valid handshake: any answer but 1011."""
    anything = (*(set(CloseCode) - {CloseCode.INTERNAL_ERROR}), DROPPED, OPEN)
    cases = [case(f"random-{i}", r.randbytes(r.randrange(1, 400)), *anything) for i in range(700)]
    # Valid-looking frames with random headers: opcode, bits and lengths from the generator.
    for i in range(700):
        head = bytes([r.randrange(256), r.randrange(256) | 0x80])
        cases.append(case(f"random-frame-{i}", head + r.randbytes(r.randrange(4, 200)), *anything))
    return cases


# -- handshakes ------------------------------------------------------------------------------

BAD_REQUEST = ("http-4xx", DROPPED)


def bad_upgrades(r: random.Random) -> list[Case]:
    def request(lines: list[str]) -> bytes:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    base = [
        "GET /test/echo/ HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
        "Connection: Upgrade", f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13",
    ]  # fmt: skip
    variants: list[tuple[str, Callable[[list[str]], list[str]]]] = [
        ("no-key", lambda h: [x for x in h if not x.startswith("Sec-WebSocket-Key")]),
        ("short-key", lambda h: [*h[:4], "Sec-WebSocket-Key: abc", h[5]]),
        ("no-version", lambda h: h[:5]),
        ("version-8", lambda h: [*h[:5], "Sec-WebSocket-Version: 8"]),
        ("version-junk", lambda h: [*h[:5], "Sec-WebSocket-Version: 13x"]),
        ("post", lambda h: ["POST /test/echo/ HTTP/1.1", *h[1:]]),
        ("http-1.0", lambda h: ["GET /test/echo/ HTTP/1.0", *h[1:]]),
        ("no-connection", lambda h: [x for x in h if not x.startswith("Connection")]),
        ("header-no-colon", lambda h: [*h, "Broken header line"]),
        ("header-bad-name", lambda h: [*h, "Bad Name: x"]),
        ("header-nul", lambda h: [*h, "X-Nul: a\0b"]),
        ("path-utf8", lambda h: ["GET /test/\xe9\xff/ HTTP/1.1", *h[1:]]),
        ("query-utf8", lambda h: ["GET /test/echo/?q=\xff HTTP/1.1", *h[1:]]),
        ("huge-header", lambda h: [*h, "X-Big: " + "a" * 20_000]),
        ("many-headers", lambda h: h + [f"X-{i}: v" for i in range(600)]),
        ("garbage-request-line", lambda h: ["\x16\x03\x01 nonsense", *h[1:]]),
        ("bad-extension", lambda h: [*h, "Sec-WebSocket-Extensions: permessage-deflate; x=;;"]),
        ("bad-window-bits", lambda h: [
            *h, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=99"]),
        ("bad-subprotocol", lambda h: [*h, "Sec-WebSocket-Protocol: ,,, ;"]),
        ("bad-origin", lambda h: [*h, "Origin: \xff\xfe"]),
    ]  # fmt: skip
    # The handshake may still succeed where the RFC lets a server ignore the oddity.
    lenient = {
        "bad-extension",
        "bad-window-bits",
        "bad-subprotocol",
        "bad-origin",
        "http-1.0",
        "version-8",
    }  # fmt: skip  (autobahn speaks hybi-8 too)
    cases = []
    for name, change in variants:
        allowed = (*BAD_REQUEST, "http-1xx") if name in lenient else BAD_REQUEST
        cases += [case(f"upgrade-{name}", request(change(base)), *allowed, handshake=False)] * 3
    cases += [
        case(f"random-request-{i}", r.randbytes(r.randrange(1, 300)) + b"\r\n\r\n", *BAD_REQUEST,
             handshake=False)
        for i in range(100)
    ]  # fmt: skip
    return cases


GENERATORS = {
    "reserved-bits": reserved_bits,
    "bad-opcodes": bad_opcodes,
    "unmasked": unmasked,
    "fragments": fragments,
    "close-codes": close_codes,
    "control-frames": control_frames,
    "payloads": payloads,
    "random-streams": random_streams,
    "bad-upgrades": bad_upgrades,
}


@pytest.mark.parametrize("name", list(GENERATORS))
async def test_raw_frames_get_their_rfc_answer(
    start_server: StartServer,  # noqa: F811  (the e2e fixture, imported above)
    name: str,
) -> None:
    print(f"WSAPP_FUZZ_SEED={SEED}")  # shown with the output of a failing test
    server = start_server("serve", wsapp={"HANDSHAKE_TIMEOUT": 2.0})
    cases = GENERATORS[name](rng(name))
    tally = await run_cases(server, cases)
    assert sum(tally.values()) == len(cases)
    await assert_still_healthy(server)
