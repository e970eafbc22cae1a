"""autobahn's per-frame costs that are not the protocol's: eager debug formatting and the masker.

autobahn formats the arguments of its debug lines eagerly, logging enabled or not:
``hltype``/``hlval`` (``click.style``) run on every frame written (``autobahn.websocket.protocol``)
and on every read (``autobahn.twisted.websocket``), ~4 µs a call. And it unmasks every client
frame with a new NVX masker object through CFFI (6-8 µs for a 100 B frame) where
``websockets.speedups.apply_mask`` takes 0.2 µs. :func:`install` removes both, once per process,
before the reactor runs.
"""

from __future__ import annotations

import pprint
from typing import Any

try:
    from websockets.speedups import apply_mask
except ImportError:  # a pure-Python build of websockets: autobahn's own masker stays
    apply_mask = None  # type: ignore[assignment]

_FORMATTING_MODULES = ("autobahn.websocket.protocol", "autobahn.twisted.websocket")


def install() -> None:
    """Make autobahn's debug helpers lazy and its unmasking C-fast. Idempotent."""
    quiet_autobahn_debug_formatting()
    use_c_masker()


def quiet_autobahn_debug_formatting() -> None:
    """Make autobahn's debug-log argument helpers lazy, in every module that calls them.

    Wrapped, ``hltype``/``hlval``/``hl`` and ``pformat`` (of the whole configuration, on every
    connection) format only if a debug line is ever rendered. Only those helpers, which autobahn
    passes as log-call keyword arguments, are wrapped.
    """
    import importlib

    for module_name in _FORMATTING_MODULES:
        module = importlib.import_module(module_name)
        for name in ("hltype", "hlval", "hl", "pformat"):
            helper = getattr(module, name, None)
            if helper is not None and not isinstance(helper, _LazyFormat):
                setattr(module, name, _LazyFormat(helper))
    # The one place autobahn returns pformat's value instead of logging it: a str it must stay.
    timings = getattr(importlib.import_module(_FORMATTING_MODULES[0]), "Timings", None)
    if timings is not None:
        timings.__str__ = _timings_text


def _timings_text(timings: Any) -> str:
    return pprint.pformat(timings._timings)


def use_c_masker() -> None:
    """Unmask client frames with ``websockets.speedups`` (when built) instead of autobahn's."""
    import autobahn.websocket.protocol as autobahn_protocol

    if apply_mask is not None:
        autobahn_protocol.create_xor_masker = create_xor_masker


def create_xor_masker(mask: bytes, length: int | None = None) -> XorMasker:
    """autobahn's ``create_xor_masker`` signature, on the C ``apply_mask``."""
    return XorMasker(mask)


class XorMasker:
    """One frame's unmasking, fed in pieces: autobahn's masker interface (``process``,
    ``pointer``, ``reset``). A piece that starts mid-mask takes the mask rotated to where it is."""

    __slots__ = ("_mask", "_ptr")

    def __init__(self, mask: bytes) -> None:
        self._mask = bytes(mask)
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        shift = self._ptr & 3
        mask = self._mask if not shift else self._mask[shift:] + self._mask[:shift]
        self._ptr += len(data)
        return apply_mask(data, mask)  # type: ignore[misc]  # installed only when it is built


class _LazyFormat:
    """``helper(...)`` returns a value that calls the real helper only when formatted."""

    __slots__ = ("helper",)

    def __init__(self, helper: Any) -> None:
        self.helper = helper

    def __call__(self, *args: Any, **kwargs: Any) -> _Deferred:
        return _Deferred(self.helper, args, kwargs)


class _Deferred:
    __slots__ = ("args", "helper", "kwargs")

    def __init__(self, helper: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.helper, self.args, self.kwargs = helper, args, kwargs

    def __str__(self) -> str:
        return str(self.helper(*self.args, **self.kwargs))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    __repr__ = __str__
