"""Properties of the default JSON codec over hostile text, bytes and application values.

``loads`` answers anything with a value or a ``ValueError`` (never ``RecursionError``, never
another type); what it returns is clean (within the depth limit, finite, Unicode) and survives a
round trip; ``dumps`` gives standard JSON or a ``ValueError`` the app sees. These are the cheap
properties, so they carry most of the suite's 100,000 inputs (batched: one example, many inputs).
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import (
    app_values,
    deep_nesting,
    examples,
    generated,
    hostile_json_text,
    json_values,
    soups,
)
from wsapp import jsoncodec
from wsapp.conf import DEFAULTS
from wsapp.exceptions import InvalidText

MAX_DEPTH = DEFAULTS["JSON_MAX_DEPTH"]


def depth(value: Any) -> int:
    """Nesting of arrays and objects in a decoded value, without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, list | dict):
            level += 1
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level) for child in children)
    return deepest


def assert_clean(value: Any) -> None:
    """What the strict decoder promises about every value it returns."""
    assert depth(value) <= MAX_DEPTH
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            assert math.isfinite(item)
        elif isinstance(item, str):
            item.encode("utf-8")  # raises on a lone surrogate
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            assert item is None or isinstance(item, bool | int)


def decode(raw: str | bytes) -> tuple[bool, Any]:
    """``(True, value)`` from ``loads(raw)``, or ``(False, None)`` for the one failure it may
    have, a ``ValueError``. Anything else (``RecursionError``, ``TypeError``) fails the test."""
    try:
        value = jsoncodec.loads(raw)
    except InvalidText as exc:
        assert str(exc) == "The JSON holds a lone surrogate, which is not Unicode text."
        return False, None
    except ValueError:
        return False, None
    assert_clean(value)
    text = jsoncodec.dumps(value)
    text.encode("utf-8")
    assert jsoncodec.loads(text) == value
    return True, value


def agrees_with_the_stdlib(text: str) -> None:
    ok, value = decode(text)
    if ok:  # what the strict decoder accepts, the stdlib reads the same way
        assert json.loads(text) == value


@examples(3_000)
@given(soups(25))
def test_loads_answers_hostile_text_with_a_clean_value_or_a_value_error(texts: list[str]) -> None:
    generated("codec: hostile text", len(texts))
    for text in texts:
        agrees_with_the_stdlib(text)


@examples(1_500)
@given(hostile_json_text)
def test_loads_answers_almost_json_with_a_clean_value_or_a_value_error(text: str) -> None:
    generated("codec: almost JSON")
    agrees_with_the_stdlib(text)


@examples(600)
@given(deep_nesting())
def test_deep_nesting_is_refused_before_it_can_recurse(text: str) -> None:
    generated("codec: deep nesting")
    ok, _ = decode(text)
    if jsoncodec.nesting_depth(text) > MAX_DEPTH:
        assert not ok


@examples(1_000)
@given(st.lists(st.binary(max_size=64), min_size=20, max_size=20))
def test_loads_answers_any_bytes_with_a_clean_value_or_a_value_error(raws: list[bytes]) -> None:
    generated("codec: bytes", len(raws))
    for raw in raws:
        decode(raw)


@examples(500)
@given(st.lists(json_values, min_size=5, max_size=5))
def test_every_value_a_peer_may_send_round_trips(values: list[Any]) -> None:
    generated("codec: round trip", len(values))
    for value in values:
        text = json.dumps(value, ensure_ascii=False)
        assert jsoncodec.loads(text) == value
        assert jsoncodec.loads(text.encode()) == value
        assert jsoncodec.loads(jsoncodec.dumps(value)) == value


def _no_constant(name: str) -> Any:
    raise AssertionError(f"dumps wrote {name}")


@examples(500)
@given(st.lists(app_values, min_size=5, max_size=5))
def test_dumps_gives_standard_json_or_a_value_error(values: list[Any]) -> None:
    generated("codec: dumps", len(values))
    for value in values:
        try:
            text = jsoncodec.dumps(value)
        except ValueError as exc:
            assert str(exc).startswith("Out of range float values are not JSON compliant")
            continue
        decoded = json.loads(text, parse_constant=_no_constant)
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            continue  # a lone surrogate the app put in: send_text refuses it before the wire
        assert decoded == value
        assert decode(text) == (True, value)


@examples(600)
@given(json_values, st.integers(0, 200))
def test_nesting_depth_measures_valid_json_exactly(value: Any, extra: int) -> None:
    generated("codec: nesting depth")
    wrapped: Any = value
    for level in range(extra):
        wrapped = [wrapped] if level % 2 else {"k": wrapped}
    text = json.dumps(wrapped)
    assert jsoncodec.nesting_depth(text) == depth(wrapped)
    assert decode(text) == ((True, wrapped) if depth(wrapped) <= MAX_DEPTH else (False, None))
