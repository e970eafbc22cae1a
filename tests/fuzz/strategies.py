"""Hostile JSON and text for the fuzz suite, the models it checks against, and its budget.

The strategies lean on what broke wsapp before: nesting far past any limit, numbers past a
double's range or Python's int-string limit, ``NaN``/``Infinity``, lone surrogates (as JSON
escapes and as raw code points), NUL, and valid messages with one thing wrong.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st

T = TypeVar("T")

#: ``WSAPP_FUZZ_EXAMPLES`` multiplies every property's budget (see tests/fuzz/conftest.py).
SCALE = float(os.environ.get("WSAPP_FUZZ_EXAMPLES", "1"))


#: Inputs each property generated this session, by test name (reported at the end of the run).
GENERATED: dict[str, int] = {}


def generated(name: str, count: int = 1) -> None:
    """Count ``count`` generated inputs toward the suite's total (≥ 100,000 per CI run)."""
    GENERATED[name] = GENERATED.get(name, 0) + count


def examples(n: int) -> Callable[[T], T]:
    """``@settings(max_examples=n × WSAPP_FUZZ_EXAMPLES)`` over the suite's profile."""
    return settings(max_examples=max(1, round(n * SCALE)))  # type: ignore[return-value]


#: Every code point, surrogates included (hypothesis leaves category Cs out by default).
any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
any_text = st.text(any_char, max_size=40)
#: Text a client could send over a real socket (valid Unicode), NUL and controls included.
unicode_text = st.text(st.characters(codec="utf-8"), max_size=40)

HOSTILE_TOKENS = [
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "0.1e99999",
    "1" * 4301, "-" + "9" * 4300, "123456789012345678901234567890",
    '"\\ud800"', '"\\udfff"', '"\\ud83d\\ude00"', '"\\ud83d"', '"\\\\ud800"', '"\\u0000"',
    '"\ud800"', '"\x00"', "\ufeff", '"\\', '"', "\\u", "[", "]", "{", "}", ",", ":",
    "true", "false", "null", "nul", "tru", " ", "\n", "\t", "-", "0", "01", "1.", ".5", "1e",
    '{"type": "echo"}', '"type"', '"chat.message"', '"body"', '"client_id"',
]  # fmt: skip

# 256 pieces, one per byte: hypothesis draws (and shrinks) cheap bytes, each byte one piece of
# hostile text. Structure and escapes weigh most, because that is where decoders go wrong.
_PIECES = [*HOSTILE_TOKENS, *'[]{},:"' * 6, *"[]{}" * 4, *"0123456789", *"eE.+-" * 2]
_PIECES += ["\\n", '\\"', "\\\\", "\\u00e9", "\\ud800", "\\udc00", "\\ud83d", "\\ude00"] * 2
_PIECES += ["é", "😀", "\ud800", "\udfff", "\x00", "\x1f", "\u2028", "\ufffe", "\U0010ffff"]
_PIECES += [chr(c) for c in range(0x20, 0x7F)]
PIECES = tuple((_PIECES * 2)[:256])
assert len(PIECES) == 256, len(PIECES)


def soup(raw: bytes) -> str:
    """The hostile text that the bytes ``raw`` spell, one piece per byte."""
    return "".join(map(PIECES.__getitem__, raw))


#: Hostile almost-JSON, cheap enough to draw by the ten thousand.
soup_text = st.binary(max_size=48).map(soup)


def soups(n: int) -> st.SearchStrategy[list[str]]:
    """A batch of ``n`` hostile texts per example: the per-example overhead paid once."""
    return st.lists(soup_text, min_size=n, max_size=n)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**300), max_value=10**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | unicode_text
)
#: Values a peer can legitimately send (valid JSON, valid Unicode), nested a few levels.
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(unicode_text, children, max_size=5)
    ),
    max_leaves=12,
)
#: What an application might try to encode: the above plus NaN, infinities and surrogates.
app_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(any_text, children, max_size=5)
    ),
    max_leaves=12,
)


_UNITS = {"[": "]", '{"a":': "}", '[{"k":': "}]", '{"a":[': "]}"}


@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    """Arrays and objects nested up to 50,000 deep around a scalar, balanced or cut short."""
    shallow, deep = st.integers(0, 140), st.integers(0, 3_000)
    depth = draw(st.one_of(shallow, deep, deep, st.sampled_from([2_000, 50_000])))
    unit = draw(st.sampled_from(sorted(_UNITS)))
    inner = draw(st.sampled_from(["1", '"x"', "[]", "{}", "NaN", '"\\ud800"', ""]))
    close = _UNITS[unit] * depth
    if draw(st.booleans()):  # sometimes unbalanced: cut somewhere in the closers
        close = close[: draw(st.integers(0, len(close)))]
    return unit * depth + inner + close


@st.composite
def mutated_json(draw: st.DrawFn) -> str:
    """A valid JSON text with hostile tokens spliced in at random places."""
    text = json.dumps(draw(json_values), ensure_ascii=draw(st.booleans()))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        token = draw(st.sampled_from(HOSTILE_TOKENS))
        cut = draw(st.integers(0, 2))
        text = text[:at] + token + text[at + cut :]
    return text


token_soup = st.lists(st.sampled_from(HOSTILE_TOKENS) | any_text, max_size=12).map("".join)
#: Text that is mostly almost-JSON: what a hostile peer sends in a text frame.
hostile_json_text = st.one_of(
    json_values.map(json.dumps),
    st.builds(
        lambda v: json.dumps(v, allow_nan=True), st.floats() | st.lists(st.floats(), max_size=3)
    ),
    mutated_json(),
    deep_nesting(),
    token_soup,
    any_text,
)


#: Edge cases of a text field: empty, blank, at and over each limit, NUL, surrogates, not text.
FIELD_EDGES: tuple[Any, ...] = (
    "", " ", "\n\t ", "x" * 64, "x" * 65, "x" * 2000, "x" * 2001, " " + "x" * 2000 + " ",
    "é" * 2001, "😀" * 1000, "\x00", "a\x00", "\ud800", "a\ud83db", "\udc00\ud800", "\ufeff",
    5, 0, -1.5, True, None, [], {}, ["x"], {"body": "x"},
)  # fmt: skip
field_value = st.one_of(soup_text, st.sampled_from(FIELD_EDGES), json_scalars)

#: ``chat.message`` contents that should be stored, from a few client_ids (so retries happen).
valid_chat = st.fixed_dictionaries(
    {
        "type": st.just("chat.message"),
        "body": unicode_text.map(lambda body: "m " + body.replace("\x00", "")),
        "client_id": st.sampled_from(["", "c-1", "c-2", "c-3"]) | st.uuids().map(str),
    }
)
#: ``chat.message`` contents, each with one or several things wrong (or nothing).
chat_contents = st.fixed_dictionaries(
    {"type": st.just("chat.message")},
    optional={"body": field_value, "client_id": field_value, "extra": json_scalars},
)


#: Frames a hostile client sends: mostly text (almost-JSON, valid messages, raw surrogates),
#: now and then a binary frame.
def frames(
    messages: st.SearchStrategy[Any], weight: int = 1
) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """Up to 8 frames: ``("text", str)`` or ``("bytes", bytes)``; ``messages`` are sent as JSON
    (``json.dumps``, so a lone surrogate travels as a ``\\ud800`` escape), ``weight`` times as
    often as each kind of hostile text."""
    text = st.one_of(
        *[messages.map(json.dumps)] * weight,
        soup_text,
        hostile_json_text,
        st.sampled_from(['{"body": "\ud800"}', "\udfff", "[NaN]", "[1e400]", "{}", "[]", ""]),
        st.sampled_from(['{"type": "echo", "x": "\\ud800"}', '{"type": "chat.message\\udc00"}']),
    )
    texts = text.map(lambda t: ("text", t))
    binary = st.binary(max_size=16).map(lambda b: ("bytes", b))
    frame = st.one_of(texts, texts, texts, texts, texts, binary)  # one binary frame in six
    return st.lists(frame, max_size=8)


def storable(text: str) -> bool:
    """Whether a database (PostgreSQL included) can store ``text``: no NUL, no lone surrogate."""
    return "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def chat_model(content: dict[str, Any], max_body: int) -> dict[str, str] | None:
    """What ``chat.message`` validation should return (``None``: refuse), written apart from it."""
    from wsapp.rooms.consumer import CLIENT_ID_MAX_LENGTH

    body, client_id = content.get("body"), content.get("client_id", "")
    if not isinstance(body, str) or not body.strip() or len(body) > max_body:
        return None
    if not isinstance(client_id, str) or len(client_id) > CLIENT_ID_MAX_LENGTH:
        return None
    if not (storable(body.strip()) and storable(client_id)):
        return None
    return {"body": body.strip(), "client_id": client_id}


def close_reason(reason: str) -> str:
    """``reason`` as a close frame carries it (RFC 6455 §5.5), by the one rule in wsapp.codes."""
    from wsapp.codes import truncate_reason

    return truncate_reason(reason)


def decoded(text: str) -> tuple[str, Any]:
    """How the default codec answers ``text``: ``("ok", value)``, ``("invalid_text", message)``
    or ``("invalid_json", message)`` — the oracle the socket properties predict frames with."""
    from wsapp import jsoncodec
    from wsapp.exceptions import InvalidText

    try:
        return "ok", jsoncodec.loads(text)
    except InvalidText as exc:
        return "invalid_text", str(exc)
    except ValueError as exc:
        return "invalid_json", f"Invalid JSON: {exc}"


def frame_close(kind: str, payload: str | bytes) -> tuple[int, str] | None:
    """The close a JSON ``Consumer`` answers a frame with before decoding it, or ``None``.

    A binary frame is unsupported data (1003); a text frame that no UTF-8 encoder can write (a
    lone surrogate the test client lets through) is an invalid payload (1007).
    """
    from wsapp.codes import CloseCode

    if kind == "bytes":
        return (CloseCode.UNSUPPORTED_DATA, "This endpoint takes JSON text frames.")
    assert isinstance(payload, str)
    try:
        payload.encode("utf-8")
    except UnicodeEncodeError:
        return (CloseCode.INVALID_PAYLOAD, "A text frame that is not valid UTF-8.")
    return None


def unknown_type(event_type: str) -> str:
    """The message of the ``unknown_type`` error: the type quoted, cut at 100 characters."""
    shown = event_type if len(event_type) <= 100 else event_type[:100] + "…"
    return f"Unknown message type {shown!r}."
