"""autobahn's debug-log helpers, made lazy (they format on every frame, logging on or off)."""

from __future__ import annotations

from typing import Any


def quiet_autobahn_debug_formatting() -> None:
    """Make autobahn's debug-log argument helpers lazy.

    autobahn formats the arguments of its debug lines eagerly, logging enabled or not:
    ``hltype``/``hlval`` (``click.style``) run on every frame written. Wrapped, they format only
    if a debug line is ever rendered. Only those helpers, which autobahn passes as log-call
    keyword arguments, are wrapped. Idempotent.
    """
    import autobahn.websocket.protocol as autobahn_protocol

    for name in ("hltype", "hlval", "hl"):
        helper = getattr(autobahn_protocol, name, None)
        if helper is not None and not isinstance(helper, _LazyFormat):
            setattr(autobahn_protocol, name, _LazyFormat(helper))


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
