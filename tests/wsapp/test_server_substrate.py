"""serve's per-frame substrate: the C masker, lazy autobahn formatting, frames built once and the
direct write."""

from __future__ import annotations

import asyncio
import socket
import zlib
from types import SimpleNamespace

import autobahn.twisted.websocket as autobahn_twisted
import autobahn.websocket.protocol as autobahn_protocol
import pytest
from autobahn.websocket.compress import PerMessageDeflateOffer
from autobahn.websocket.compress_deflate import PerMessageDeflate
from autobahn.websocket.protocol import PreparedMessage
from hypothesis import given
from hypothesis import strategies as st

from wsapp.server import substrate
from wsapp.server.buffers import send_now, writable_now
from wsapp.server.frames import FrameCache, encode_frame
from wsapp.server.server import DEFLATE_WINDOW_BITS, accept_deflate
from wsapp.server.ticks import MAX_HELD, TickWriter


def reference_unmask(mask: bytes, data: bytes) -> bytes:
    return bytes(byte ^ mask[index % 4] for index, byte in enumerate(data))


@given(
    mask=st.binary(min_size=4, max_size=4),
    data=st.binary(max_size=600),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=6),
)
def test_the_c_masker_unmasks_a_frame_fed_in_any_pieces_like_rfc_6455_says(
    mask: bytes, data: bytes, cuts: list[int]
) -> None:
    masker = substrate.create_xor_masker(mask, len(data))
    bounds = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    out = b"".join(masker.process(data[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))
    assert out == reference_unmask(mask, data)
    assert masker.pointer() == len(data)
    masker.reset()
    assert masker.process(data) == reference_unmask(mask, data)


def test_install_replaces_autobahns_masker_and_makes_both_modules_debug_helpers_lazy() -> None:
    substrate.install()
    substrate.install()  # idempotent: no wrapper around a wrapper
    assert autobahn_protocol.create_xor_masker is substrate.create_xor_masker
    for module in (autobahn_protocol, autobahn_twisted):
        helper = module.hltype
        assert isinstance(helper, substrate._LazyFormat)
        assert not isinstance(helper.helper, substrate._LazyFormat)
        lazy = module.hlval(42)
        assert isinstance(lazy, substrate._Deferred)  # nothing formatted yet
        assert "42" in f"{lazy}"  # formatted on demand, by the real helper


class Transport(SimpleNamespace):
    """The attributes of a Twisted TCP transport that writable_now reads, over a real socket."""

    __hash__ = object.__hash__  # one per connection, as Twisted's are

    def __init__(self, sock: socket.socket, buffered: bytes = b"") -> None:
        super().__init__(
            socket=sock,
            connected=True,
            disconnecting=False,
            _writeDisconnected=False,
            _tempDataLen=0,
            dataBuffer=buffered,
            offset=0,
            written=[],
        )

    def write(self, data: bytes) -> None:
        self.written.append(data)


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    server.setblocking(False)
    yield server, client
    server.close()
    client.close()


async def test_a_ticks_frames_leave_as_one_send_at_its_end(pair) -> None:
    server, client = pair
    ticks, transport = TickWriter(), Transport(server)
    assert ticks.write(transport, b"one") and ticks.write(transport, b"two")
    assert ticks.held_bytes(transport) == 6
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(100)  # held until the tick ends
    await asyncio.sleep(0)
    assert client.recv(100) == b"onetwo"
    assert transport.written == [] and ticks.held_bytes(transport) == 0


async def test_a_flush_writes_what_is_held_at_once_before_a_close(pair) -> None:
    server, client = pair
    ticks, transport = TickWriter(), Transport(server)
    assert ticks.write(transport, b"frame") and ticks.write(transport, b"close")
    ticks.flush(transport)
    assert client.recv(100) == b"frameclose"
    await asyncio.sleep(0)  # the tick's end finds nothing more to write
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(100)


async def test_more_than_max_held_in_one_tick_is_written_without_waiting(pair) -> None:
    server, client = pair
    ticks, transport = TickWriter(), Transport(server)
    chunk = b"x" * (MAX_HELD // 2 + 1)
    assert ticks.write(transport, chunk) and ticks.write(transport, chunk)
    assert ticks.held_bytes(transport) == 0  # an application that never yields meets the guard
    rest = b"".join(transport.written)
    received = b""
    while len(received) < 2 * len(chunk) - len(rest):
        received += client.recv(1 << 20)
    assert received + rest == chunk * 2


@pytest.mark.parametrize(
    "state",
    [
        {"dataBuffer": b"101 Switching", "offset": 0},
        {"_tempDataLen": 3},
        {"disconnecting": True},
        {"connected": False},
        {"TLS": True},
    ],
    ids=["buffered", "temp-buffered", "closing", "not-connected", "tls"],
)
async def test_nothing_is_held_behind_bytes_twisted_still_has(pair, state) -> None:
    server, client = pair
    ticks, transport = TickWriter(), Transport(server)
    for name, value in state.items():
        setattr(transport, name, value)
    assert not writable_now(transport)
    assert not ticks.write(transport, b"frame")  # the caller writes through Twisted, behind them
    await asyncio.sleep(0)
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(100)  # nothing jumped the queue


def test_what_the_kernel_does_not_take_goes_to_twisted_in_order(pair) -> None:
    server, client = pair
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    data = bytes(range(256)) * 4096  # 1 MiB: more than an unread socket pair holds
    transport = Transport(server)
    assert writable_now(transport)
    send_now(transport, data)
    (rest,) = transport.written
    assert 0 < len(rest) < len(data)
    taken = len(data) - len(rest)
    received = b""
    while len(received) < taken:
        received += client.recv(taken - len(received))
    assert received + rest == data


@given(
    payload=st.binary(max_size=300) | st.sampled_from([b"x" * n for n in (125, 126, 65535, 65536)]),
    binary=st.booleans(),
)
def test_encode_frame_builds_the_frame_autobahn_builds(payload: bytes, binary: bool) -> None:
    prepared = PreparedMessage(payload, binary, applyMask=False, doNotCompress=True)
    assert encode_frame(payload, binary) == prepared.payloadHybi


def test_the_frame_cache_shares_one_frame_per_broadcast_object_and_never_a_mutable_one() -> None:
    cache = FrameCache()
    text = "".join(["broad", "cast"])
    first = cache.frame(text)
    assert cache.frame(text) is first  # the same broadcast object: the same bytes
    equal = "".join(["broad", "cast"])
    assert equal is not text
    assert cache.frame(equal) == first and cache.frame(equal) is not first  # rebuilt, not guessed
    buffer = bytearray(b"abc")
    assert cache.frame(buffer) == encode_frame(b"abc", binary=True)
    buffer[:] = b"xyz"
    assert cache.frame(buffer) == encode_frame(b"xyz", binary=True)  # never served stale
    big = "x" * FrameCache.MAX_CACHED
    assert cache.frame(big) is not cache.frame(big)  # too big to pin


def autobahn_deflated(payload: bytes, window_bits: int, mem_level: int) -> bytes:
    """What autobahn's own permessage-deflate sends for ``payload`` from a fresh context."""
    deflate = PerMessageDeflate(True, True, False, window_bits, 15, mem_level)
    deflate.start_compress_message()
    return deflate.compress_message_data(payload) + deflate.end_compress_message()


@given(
    payload=st.text(max_size=300) | st.binary(max_size=300) | st.just("x" * 70_000),
    window_bits=st.integers(min_value=9, max_value=15),
)
def test_a_shared_deflated_frame_is_what_autobahn_would_send_a_fresh_context(
    payload: str | bytes, window_bits: int
) -> None:
    raw = payload.encode() if isinstance(payload, str) else payload
    compressed = autobahn_deflated(raw, window_bits, 5)
    frame = FrameCache().deflated(payload, window_bits, 5)
    expected = encode_frame(compressed, binary=isinstance(payload, bytes))
    # The same frame but with RSV1 (RFC 7692 §6: "this message is compressed").
    assert frame == bytes([expected[0] | 0x40]) + expected[1:]
    inflate = zlib.decompressobj(-window_bits)
    assert inflate.decompress(compressed + b"\x00\x00\xff\xff") == raw


def test_the_deflated_frame_is_shared_per_object_window_and_memory_level() -> None:
    cache = FrameCache()
    text = "".join(["broad", "cast"]) * 10
    first = cache.deflated(text, 12, 5)
    assert cache.deflated(text, 12, 5) is first
    assert cache.deflated(text, 11, 5) is not first  # another window: another stream
    assert cache.deflated(text, 11, 5) is cache.deflated(text, 11, 5)
    assert cache.frame(text) == encode_frame(text.encode(), binary=False)  # plain one apart


def test_autobahns_timings_still_print_as_text_once_pformat_is_lazy() -> None:
    substrate.install()
    timings = autobahn_protocol.Timings()
    timings.track("start")
    text = str(timings)
    assert isinstance(text, str) and "start" in text


def test_outside_a_running_loop_a_frame_is_written_at_once(pair) -> None:
    server, client = pair
    ticks, transport = TickWriter(), Transport(server)
    assert ticks.write(transport, b"now")
    assert client.recv(100) == b"now" and ticks.held_bytes(transport) == 0


async def test_a_connection_lost_before_the_ticks_end_drops_what_it_held(pair) -> None:
    server, client = pair
    ticks, transport = TickWriter(), Transport(server)
    assert ticks.write(transport, b"late")
    del transport.socket  # what Twisted's connectionLost does
    transport.connected = False
    await asyncio.sleep(0)  # the tick's end: nothing to write to, and no error
    assert transport.written == []


@pytest.mark.parametrize("takeover", [True, False])
def test_accept_deflate_keeps_or_drops_the_servers_context_as_configured(takeover: bool) -> None:
    """``COMPRESSION_CONTEXT_TAKEOVER: False`` makes the negotiated compressor start afresh
    for each message, which is what lets every member share one compressed frame."""
    accept = accept_deflate([PerMessageDeflateOffer()], context_takeover=takeover)
    assert accept is not None
    deflate = PerMessageDeflate.create_from_offer_accept(True, accept)
    assert deflate.server_no_context_takeover is (not takeover)
    assert deflate.server_max_window_bits == DEFLATE_WINDOW_BITS
