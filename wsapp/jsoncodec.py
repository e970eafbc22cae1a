"""The JSON codec ``send_json``/``receive_json`` use unless a call passes its own.

The default encoder is Django's, so datetimes, UUIDs, Decimals and lazy strings just work, with
compact separators and no ASCII escaping (smaller frames). ``WSAPP["JSON_DUMPS"]`` and
``WSAPP["JSON_LOADS"]`` name replacements, e.g. an orjson wrapper.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.module_loading import import_string

from wsapp.conf import get_settings, on_reset

Dumps = Callable[[Any], str]
Loads = Callable[[str | bytes], Any]

_encoder = DjangoJSONEncoder(separators=(",", ":"), ensure_ascii=False)
dumps: Dumps = _encoder.encode
loads: Loads = json.loads


@functools.cache
def default_codec() -> tuple[Dumps, Loads]:
    """``(dumps, loads)`` from settings, imported once."""
    conf = get_settings()
    custom_dumps = conf["JSON_DUMPS"]
    custom_loads = conf["JSON_LOADS"]
    return (
        import_string(custom_dumps) if custom_dumps else dumps,
        import_string(custom_loads) if custom_loads else loads,
    )


on_reset(default_codec.cache_clear)
