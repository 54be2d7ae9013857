"""Serving an ASGI app: one socket binding, one uvicorn configuration, one event-loop choice.

Every entry point (``mcpb bridge``, ``mcpb run``, the images' loader, the HTTP-bundle proxy)
serves through :func:`serve_app` inside an event loop made by :func:`run`, so what is measured
is what is deployed:

* the event loop is uvloop's where it is installed (Linux; a dependency of ``mcpb-loader``),
  else asyncio's default;
* uvicorn parses HTTP with httptools when present, else h11; no access log, no ``Server`` or
  ``Date`` header, 30 s keep-alive; each response leaves in one ``send()``
  (:mod:`mcpb.mcphttp.coalesce`);
* the caller owns signals: uvicorn's handlers are disabled, and cancelling :func:`serve_app`
  stops the listener and runs ``shutdown`` before the cancellation propagates;
* the socket is bound before ``startup`` runs, so a port in use is a clear
  :class:`~mcpb.bundle.errors.UsageError` before any server process exists; uvicorn itself is
  imported only after ``startup`` (its import then overlaps the start of a spawned server).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import socket
from collections.abc import Awaitable, Callable, Coroutine, Generator
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from mcpb.bundle.errors import UsageError
from mcpb.mcphttp.asgi import ASGIApp
from mcpb.mcphttp.settings import DEFAULT_MAX_BODY

if TYPE_CHECKING:
    import uvicorn

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed, else None (asyncio's default)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion in the event loop every server of ours uses."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


@cache
def _quiet_server_class() -> type[uvicorn.Server]:
    import uvicorn

    class QuietServer(uvicorn.Server):
        """A uvicorn server that leaves signal handling to whoever runs the event loop."""

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    return QuietServer


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


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (for a server started next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def uvicorn_config(app: ASGIApp, *, max_body: int = DEFAULT_MAX_BODY) -> uvicorn.Config:
    """The uvicorn settings every server of ours runs with (module docstring)."""
    import uvicorn

    from mcpb.mcphttp.coalesce import protocol_class

    has_httptools = importlib.util.find_spec("httptools") is not None
    return uvicorn.Config(
        app,
        lifespan="off",
        http=protocol_class("httptools" if has_httptools else "h11"),
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
        h11_max_incomplete_event_size=max_body + 65536,
    )


async def serve_app(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    startup: Callable[[], Awaitable[None]] | None = None,
    shutdown: Callable[[], Awaitable[None]] | None = None,
    listening: Callable[[str, int], None] | None = None,
    ready: Callable[[], None] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    stop_grace: float = 2.0,
) -> None:
    """Serve ``app`` on ``host:port`` until cancelled (or until uvicorn stops by itself).

    ``startup`` runs after the socket is bound and before requests are accepted; ``shutdown``
    runs last, whatever happened. ``listening(host, port)`` gets the bound address (useful with
    port 0), then ``ready()`` is called once requests are being accepted.
    """
    sock = bind_socket(host, port)
    try:
        if startup is not None:
            await startup()
        server = _quiet_server_class()(uvicorn_config(app, max_body=max_body))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    await task
                    raise UsageError(f"the HTTP server on {host}:{port} did not start")
                await asyncio.sleep(0.005)
            bound_host, bound_port = sock.getsockname()[:2]
            if listening is not None:
                listening(bound_host, bound_port)
            if ready is not None:
                ready()
            await asyncio.shield(task)
        except asyncio.CancelledError:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), stop_grace + 1)
            raise
    finally:
        if shutdown is not None:
            await shutdown()
        sock.close()
