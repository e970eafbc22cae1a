"""``wsapp.jsoncodec``: the default codec is strict both ways, because a peer's JSON is hostile."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings

from wsapp import jsoncodec
from wsapp.exceptions import InvalidText

LIMIT = 128  # DEFAULTS["JSON_MAX_DEPTH"]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- depth -------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [LIMIT + 1, 2_000, 50_000], ids=["limit+1", "2000", "50000"])
def test_nesting_deeper_than_the_limit_is_a_value_error(depth: int) -> None:
    with pytest.raises(ValueError) as info:
        jsoncodec.loads(nested(depth))
    assert str(info.value) == "The JSON is nested deeper than 128 levels."
    assert type(info.value) is ValueError


def test_nesting_at_the_limit_decodes_and_encodes_again() -> None:
    value = jsoncodec.loads('{"a":' * (LIMIT - 1) + "[]" + "}" * (LIMIT - 1))
    assert jsoncodec.loads(jsoncodec.dumps(value)) == value


def test_brackets_inside_strings_do_not_count_toward_the_depth() -> None:
    text = json.dumps({"type": "x", "body": "[{" * 10_000, "quoted": '\\"[[[' * 100})
    assert jsoncodec.loads(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "depth"),
    [("", 0), ("1", 0), ("[]", 1), ('[{"a": [1]}, []]', 3), ('["]]]", {"[": "{{"}]', 2)],
)
def test_nesting_depth(text: str, depth: int) -> None:
    assert jsoncodec.nesting_depth(text) == depth


@pytest.mark.parametrize(
    ("text", "limit", "deeper"),
    [("[[1]]", 2, False), ("[[1]]", 1, True), ("[" * 1_000_000, 128, True), ('["[[["]', 1, False)],
    ids=["at-the-limit", "over", "a-million-open", "in-a-string"],
)
def test_deeper_than(text: str, limit: int, deeper: bool) -> None:
    assert jsoncodec.deeper_than(text, limit) is deeper


@override_settings(WSAPP={"JSON_MAX_DEPTH": 3})
def test_the_default_codec_reads_json_max_depth() -> None:
    _, loads = jsoncodec.default_codec()
    assert loads("[[[1]]]") == [[[1]]]
    with pytest.raises(ValueError, match=r"^The JSON is nested deeper than 3 levels\.$"):
        loads("[[[[1]]]]")


def test_encoding_a_structure_too_deep_for_the_encoder_is_a_value_error() -> None:
    value: list[Any] = []
    for _ in range(50_000):
        value = [value]
    with pytest.raises(ValueError, match=r"^The data is nested too deeply to encode as JSON\.$"):
        jsoncodec.dumps(value)


# -- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_on_decode(constant: str) -> None:
    with pytest.raises(ValueError) as info:
        jsoncodec.loads(f'{{"type": "echo", "x": [{constant}]}}')
    assert str(info.value) == f"{constant} is not valid JSON (RFC 8259 §6)."


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1" * 400 + ".0"])
def test_a_number_that_overflows_a_float_is_refused(number: str) -> None:
    with pytest.raises(ValueError) as info:
        jsoncodec.loads(f"[{number}]")
    assert str(info.value) == "A number is out of the range of a double (RFC 8259 §6)."


def test_large_but_finite_numbers_survive_a_round_trip() -> None:
    value = jsoncodec.loads("[1e308, -2.5e-320, 123456789012345678901234567890]")
    assert value == [1e308, -2.5e-320, 123456789012345678901234567890]
    assert jsoncodec.loads(jsoncodec.dumps(value)) == value


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=str)
def test_encoding_nan_or_infinity_is_a_value_error_not_invalid_json(value: float) -> None:
    with pytest.raises(ValueError) as info:
        jsoncodec.dumps({"x": value})
    assert str(info.value).startswith("Out of range float values are not JSON compliant")


# -- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ['"\\ud800"', '"\\uDFFF"', '{"k\\udc00": 1}', '["ok", {"a": "x\\ud83d"}]', '"\ud800"'],
    ids=["high", "low", "in-a-key", "nested-half-pair", "raw-surrogate-in-str"],
)
def test_a_lone_surrogate_is_invalid_text(text: str) -> None:
    with pytest.raises(InvalidText) as info:
        jsoncodec.loads(text)
    assert str(info.value) == "The JSON holds a lone surrogate, which is not Unicode text."
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "value"),
    [('"\\ud83d\\ude00"', "😀"), ('"\\\\ud800"', "\\ud800"), ('"\\u0000"', "\x00")],
    ids=["surrogate-pair", "escaped-backslash", "nul"],
)
def test_text_that_is_unicode_decodes(text: str, value: str) -> None:
    assert jsoncodec.loads(text) == value


def test_binary_json_must_be_utf8() -> None:
    assert jsoncodec.loads('{"name": "é"}'.encode()) == {"name": "é"}
    with pytest.raises(UnicodeDecodeError):
        jsoncodec.loads(b'"\xed\xa0\x80"')  # a surrogate in CESU-8, which json.loads let through
