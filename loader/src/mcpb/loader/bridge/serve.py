"""Run the bridge app under uvicorn inside the caller's event loop.

The caller owns signals: uvicorn's own handlers are disabled, and cancelling
:func:`serve_bridge` stops the listener, ends every session and reaps every child before the
cancellation propagates. The listening socket is bound here, so a port in use is a clear
UsageError rather than an exit from inside uvicorn.

uvicorn is imported only once the stdio server has been spawned (shared mode): its import then
overlaps with the server's own start instead of delaying it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import socket
from collections.abc import Callable, Generator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from mcpb.bundle.errors import UsageError
from mcpb.loader.bridge.config import BridgeConfig
from mcpb.loader.bridge.http import create_app

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("mcpb.bridge")


@cache
def _quiet_server_class() -> type[uvicorn.Server]:
    import uvicorn

    class QuietServer(uvicorn.Server):
        """A uvicorn server that leaves signal handling to whoever runs the event loop."""

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    return QuietServer


def __getattr__(name: str) -> type[uvicorn.Server]:
    """``QuietServer`` (and its former private name ``_QuietServer``), built on first use."""
    if name in ("QuietServer", "_QuietServer"):
        return _quiet_server_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 picks a free one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
    except OSError as err:
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    sock.setblocking(False)
    return sock


async def serve_bridge(
    config: BridgeConfig,
    command: list[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    ready: Callable[[], None] | None = None,
    listening: Callable[[str, int], None] | None = None,
    base_url: str = "",
) -> None:
    """Serve ``command`` (a stdio MCP server) over streamable HTTP and legacy SSE.

    Runs until cancelled. ``listening(host, port)`` is called with the bound address (useful
    with ``port=0``), then ``ready()`` once requests are being accepted. ``env`` is the child's
    complete environment. Raises UsageError when the port cannot be bound or the command
    cannot be started.
    """
    if not command:
        raise UsageError("the stdio server command is empty")
    app = create_app(config, command, env, cwd, base_url=base_url)
    sock = bind_socket(config.host, config.port)
    try:
        await app.startup()
        server = _quiet_server_class()(_uvicorn_config(app, config))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    await task
                    raise UsageError(
                        f"the HTTP server on {config.host}:{config.port} did not start"
                    )
                await asyncio.sleep(0.005)
            host, port = sock.getsockname()[:2]
            if listening is not None:
                listening(host, port)
            if ready is not None:
                ready()
            await asyncio.shield(task)
        except asyncio.CancelledError:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), config.kill_grace + 1)
            raise
    finally:
        await app.shutdown()
        sock.close()


def _uvicorn_config(app: object, config: BridgeConfig) -> uvicorn.Config:
    import uvicorn

    has_httptools = importlib.util.find_spec("httptools") is not None
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        lifespan="off",
        http="httptools" if has_httptools else "h11",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
        h11_max_incomplete_event_size=config.max_body + 65536,
    )
