"""The bridge assembled: a stdio backend per session or one shared, behind the transport core."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mcpb.bundle.errors import UsageError
from mcpb.loader.bridge.backend import StdioBackend
from mcpb.loader.bridge.settings import BridgeConfig
from mcpb.mcphttp.app import McpHttpApp
from mcpb.mcphttp.serve import serve_app
from mcpb.mcphttp.sessions import SessionTable


def create_app(
    config: BridgeConfig, command: Sequence[str], env: Mapping[str, str], cwd: Path
) -> McpHttpApp:
    """The ASGI app serving ``command``; its lifespan (or ``startup()``) starts a shared child."""
    argv, child_env = list(command), dict(env)

    def backend(label: str) -> StdioBackend:
        return StdioBackend(argv, child_env, cwd, label, config.stdio)

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
    the port cannot be bound or the command cannot be started. See
    :func:`mcpb.mcphttp.serve.serve_app` for ``listening`` and ``ready``.
    """
    if not command:
        raise UsageError("the stdio server command is empty")
    app = create_app(config, command, env, cwd)
    await serve_app(
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
