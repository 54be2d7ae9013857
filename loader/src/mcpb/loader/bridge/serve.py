"""The bridge assembled: a stdio backend per session or one shared, behind the transport core."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mcpb.bundle.errors import ServerFailedError, UsageError
from mcpb.loader.bridge.backend import StdioBackend
from mcpb.loader.bridge.settings import BridgeConfig
from mcpb.mcphttp.app import McpHttpApp
from mcpb.mcphttp.serve import serve_app
from mcpb.mcphttp.sessions import SessionTable


def create_app(
    config: BridgeConfig,
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    on_gave_up: Callable[[str], None] | None = None,
) -> McpHttpApp:
    """The ASGI app serving ``command``; its lifespan (or ``startup()``) starts a shared child.

    ``on_gave_up(reason)`` is called when the shared child keeps failing at start and its
    restarting stopped (a child of its own per session only fails its session).
    """
    argv, child_env = list(command), dict(env)

    def backend(label: str) -> StdioBackend:
        shared = label == "shared"
        gave_up = on_gave_up if shared else None
        return StdioBackend(argv, child_env, cwd, label, config.stdio, on_gave_up=gave_up)

    sessions = SessionTable(config.http, backend, shared=not config.stateful)
    return McpHttpApp(config.http, sessions)


async def serve_bridge(
    config: BridgeConfig,
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    ready: Callable[[], None] | None = None,
    listening: Callable[[str, int], None] | None = None,
) -> None:
    """Serve ``command`` (a stdio MCP server) over streamable HTTP and legacy SSE.

    Runs until cancelled. ``env`` is the child's complete environment. Raises UsageError when
    the port cannot be bound or the command cannot be started, and ServerFailedError (after
    stopping) when the shared child keeps exiting at start. See
    :func:`mcpb.mcphttp.serve.serve_app` for ``listening`` and ``ready``.
    """
    if not command:
        raise UsageError("the stdio server command is empty")
    failed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def gave_up(reason: str) -> None:
        if not failed.done():
            failed.set_result(reason)

    app = create_app(config, command, env, cwd, on_gave_up=gave_up)
    serving = asyncio.ensure_future(
        serve_app(
            app,
            config.http.host,
            config.http.port,
            startup=app.startup,
            shutdown=app.shutdown,
            listening=listening,
            ready=ready,
            max_body=config.http.max_body,
            stop_grace=config.stdio.kill_grace,
        )
    )
    try:
        either: list[asyncio.Future[Any]] = [serving, failed]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not serving.done():
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
    if failed.done():
        raise ServerFailedError(failed.result())
    failed.cancel()
    serving.result()
