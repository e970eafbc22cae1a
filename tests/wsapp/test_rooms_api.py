"""The rooms API's names: listed once in the package, with the old sync name kept as an alias."""

from __future__ import annotations

import importlib

import pytest

from wsapp import rooms
from wsapp.rooms import api


def test_every_listed_name_resolves_to_the_api() -> None:
    for name in rooms.__all__:
        home = importlib.import_module(rooms._ELSEWHERE[name]) if name in rooms._ELSEWHERE else api
        assert getattr(rooms, name) is getattr(home, name)
    assert set(rooms.__all__) <= set(dir(rooms))
    assert set(rooms._ELSEWHERE) <= set(rooms.__all__)


def test_online_connections_is_the_sync_twin_of_aonline_connections() -> None:
    assert rooms.online_connections("lobby") == []


def test_online_connections_sync_still_works_and_warns() -> None:
    with pytest.warns(DeprecationWarning, match=r"online_connections_sync\(\) is deprecated"):
        assert rooms.online_connections_sync("lobby") == []
    assert "online_connections_sync" not in rooms.__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        rooms.nope  # noqa: B018
