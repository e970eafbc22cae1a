"""The JSON codec ``send_json``/``receive_json`` use unless a call passes its own.

The default encoder is Django's, so datetimes, UUIDs, Decimals and lazy strings just work, with
compact separators and no ASCII escaping (smaller frames). ``WSAPP["JSON_DUMPS"]`` and
``WSAPP["JSON_LOADS"]`` name replacements, e.g. an orjson wrapper.

Both directions are strict, because a peer's JSON is hostile input and whatever it decodes to is
walked, validated, stored and echoed afterwards:

- decoding refuses nesting deeper than ``WSAPP["JSON_MAX_DEPTH"]`` *before* parsing (deep input
  would otherwise overflow the stack of the parser, or of any code that recurses over the result),
  ``NaN``/``Infinity`` and numbers that overflow a float (RFC 8259 §6 has no such values), and
  binary frames that are not UTF-8 (RFC 8259 §8.1): all as ``ValueError``;
- text holding a lone surrogate (``"\\ud800"``, legal JSON syntax but no Unicode string) raises
  :class:`~wsapp.exceptions.InvalidText`, a ``ValueError``: no UTF-8 encoder, database or socket
  can write it, so it is refused before anything tries;
- encoding refuses ``NaN``/``Infinity`` and structures too deep to encode with a ``ValueError``
  the application sees, instead of putting invalid JSON on the wire.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from wsapp.conf import DEFAULTS, WATCHED_SETTINGS, get_settings
from wsapp.exceptions import InvalidText

Dumps = Callable[[Any], str]
Loads = Callable[[str | bytes], Any]

_encoder = DjangoJSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

# A JSON string literal (the unrolled form: no backtracking), and everything but brackets.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# A \uD800-\uDFFF escape, where a lone surrogate may hide; and a raw surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def dumps(data: Any) -> str:
    """Encode ``data`` as compact JSON.

    Raises:
        ValueError: ``data`` holds ``NaN`` or an infinity, or is nested too deeply to encode.
        TypeError: ``data`` holds something JSON has no form for.
    """
    try:
        return _encoder.encode(data)
    except RecursionError as exc:  # the C encoder recurses once per level
        raise ValueError("The data is nested too deeply to encode as JSON.") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (RFC 8259 §6).")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("A number is out of the range of a double (RFC 8259 §6).")
    return value


_decoder = json.JSONDecoder(parse_float=_finite_float, parse_constant=_refuse_constant)


def _depths(text: str) -> Iterator[int]:
    """The nesting depth after each bracket of the JSON ``text`` (strings skipped), lazily."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return accumulate(map(_STEP.__getitem__, brackets))


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text``, without parsing it."""
    return max(_depths(text), default=0)


def deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON ``text`` nests deeper than ``limit``; stops at the first level too deep.

    Costs one C-speed pass per bracket (about what parsing costs): so it only runs on text with
    more than ``limit`` brackets, where parsing alone could recurse too deeply.
    """
    return any(map(limit.__lt__, _depths(text)))


def unicode_text(text: str) -> str:
    """``text``, once it is known to hold no lone surrogate: what a text frame may carry
    (RFC 6455 §5.6), which :func:`dumps` (``ensure_ascii=False``) does not check.

    Raises:
        InvalidText: it holds one.
    """
    if not text.isascii() and not _is_unicode(text):
        raise InvalidText("Text must be UTF-8, and this holds a lone surrogate.")
    return text


def _is_unicode(text: str) -> bool:
    """Whether ``text`` has no raw surrogate (encoding is faster than a regex scan)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _holds_surrogate(value: Any) -> bool:
    """Whether any string (key or value) in the decoded ``value`` has a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def make_loads(max_depth: int) -> Loads:
    """A strict decoder (see the module docstring) that refuses nesting deeper than ``max_depth``."""

    def loads(raw: str | bytes) -> Any:
        if isinstance(raw, bytes | bytearray | memoryview):
            text = bytes(raw).decode("utf-8")  # UnicodeDecodeError is a ValueError
        elif isinstance(raw, str):
            text = raw
            if not text.isascii() and not _is_unicode(text):
                raise InvalidText("The JSON holds a lone surrogate, which is not Unicode text.")
        else:
            raise TypeError(f"The JSON must be str or bytes, not {type(raw).__name__}.")
        # Counting brackets is a cheap bound on the depth (and the length a cheaper one); only
        # text that could be too deep pays for the exact measure.
        if (
            len(text) > max_depth
            and text.count("[") + text.count("{") > max_depth
            and deeper_than(text, max_depth)
        ):
            raise ValueError(f"The JSON is nested deeper than {max_depth} levels.")
        try:
            value = _decoder.decode(text)
        except RecursionError as exc:  # only if the caller's own stack is already deep
            raise ValueError("The JSON is nested too deeply to decode.") from exc
        # Plain substring tests first: they cost a fraction of a regex scan of a big frame.
        maybe = "\\u" in text and _SURROGATE_ESCAPE.search(text)
        if maybe and _holds_surrogate(value):
            raise InvalidText("The JSON holds a lone surrogate, which is not Unicode text.")
        return value

    return loads


loads: Loads = make_loads(DEFAULTS["JSON_MAX_DEPTH"])


@functools.cache
def default_codec() -> tuple[Dumps, Loads]:
    """``(dumps, loads)`` from settings, imported once."""
    conf = get_settings()
    custom_dumps = conf["JSON_DUMPS"]
    custom_loads = conf["JSON_LOADS"]
    return (
        import_string(custom_dumps) if custom_dumps else dumps,
        import_string(custom_loads) if custom_loads else make_loads(conf["JSON_MAX_DEPTH"]),
    )


@receiver(setting_changed, dispatch_uid="wsapp.jsoncodec.reset")
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        default_codec.cache_clear()
