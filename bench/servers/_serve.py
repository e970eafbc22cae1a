"""The command line and loop of the servers that run on uvloop: ``--port``, then serve until SIGTERM.

``picows_server`` and ``uvloop_floor`` differ only in the server they create; the runner starts
each as ``python -m bench.servers.<name> --port <port>`` (``bench/targets.py``) and stops it with
SIGTERM, which closes the listening socket before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable

import uvloop

#: Creates the listening server on ``127.0.0.1`` and the port it is given.
StartServer = Callable[[int], Awaitable[asyncio.AbstractServer]]


async def serve_until_sigterm(start: StartServer, port: int) -> None:
    """Serve on ``port`` until the process gets SIGTERM, then close the server."""
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    server = await start(port)
    async with server:
        await stop


def main(start: StartServer, description: str | None) -> None:
    """Parse ``--port`` and run :func:`serve_until_sigterm` on uvloop."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve_until_sigterm(start, parser.parse_args().port))
