"""Hostile JSON over real sockets: a ``manage.py serve`` process on the cluster's database.

The database is PostgreSQL when ``TEST_DATABASE_URL`` names one (CI), which is where a NUL
character used to fail at the write; a lone surrogate failed on every database. Each hostile
frame must get its ``error`` frame, store nothing and leave no traceback in the server's output.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.cluster import django_run
from tests.e2e.test_cluster import (  # noqa: F401 - fixtures: cookies, _close_dialed
    _close_dialed,
    _start_cluster,
    cookies,
    dial,
    join,
    recv,
)

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


@pytest.fixture
def server(start_server, cluster_database_url):
    """One serve process (in-memory layer) on the shared database, taking 1 MiB messages."""
    [process] = _start_cluster(start_server, cluster_database_url, None)(1, MAX_MESSAGE_SIZE=MiB)
    return process


def chat(body: str, client_id: str) -> str:
    """A ``chat.message`` with ``body``/``client_id`` spliced in raw, as JSON escapes."""
    return f'{{"type": "chat.message", "body": "{body}", "client_id": "{client_id}"}}'


def assert_no_traceback(server) -> None:
    output = server.output()
    assert "Traceback" not in output and " ERROR " not in output, output[-4000:]


async def test_nul_surrogates_and_deep_nesting_are_refused_before_the_database(
    server,
    cookies,  # noqa: F811 - the fixture imported from test_cluster
    cluster_database_url,
) -> None:
    run = uuid.uuid4().hex[:8]  # the database outlives the test: client_ids are new each run
    alice, _, _ = await join(server, cookies["alice"])
    hostile = [
        (chat("a\\u0000b", f"{run}-nul-body"), '"body" must not contain NUL characters.'),
        (chat("hi", f"{run}-nul\\u0000"), '"client_id" must not contain NUL characters.'),
        (
            chat("\\ud800", f"{run}-surrogate"),
            "The JSON holds a lone surrogate, which is not Unicode text.",
        ),
        (
            chat("hi", f"{run}\\udc00"),
            "The JSON holds a lone surrogate, which is not Unicode text.",
        ),
    ]
    for frame, message in hostile:
        await alice.send(frame)
        error = await recv(alice)
        assert (error["type"], error["code"], error["message"]) == (
            "error",
            "invalid_message",
            message,
        )
    depth = 50_000
    await alice.send('{"type": "chat.message", "body": ' + "[" * depth + "]" * depth + "}")
    assert await recv(alice) == {
        "type": "error",
        "code": "invalid_json",
        "message": "Invalid JSON: The JSON is nested deeper than 128 levels.",
    }
    await alice.send(json.dumps({"type": "chat.message", "body": "fine", "client_id": run}))
    ack = await recv(alice)
    assert (ack["type"], ack["client_id"]) == ("chat.ack", run)
    stored = django_run(
        cluster_database_url,
        "from wsapp.models import Message\n"
        f"print([m.body for m in Message.objects.filter(client_id__startswith={run!r})])",
    )
    assert stored == "['fine']"
    assert_no_traceback(server)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_the_json_echo_refuses_nan_instead_of_echoing_invalid_json(server, constant) -> None:
    ws = await dial(server.url("/ws/json-echo/"))
    await ws.send(f'{{"type": "echo", "x": {constant}}}')
    assert json.loads(await ws.recv()) == {
        "type": "error",
        "code": "invalid_json",
        "message": f"Invalid JSON: {constant} is not valid JSON (RFC 8259 §6).",
    }
    await ws.send('{"type": "echo", "x": 1.5}')
    assert json.loads(await ws.recv()) == {"type": "echo", "x": 1.5}
    assert_no_traceback(server)
