"""``mcpb bridge``: serve a stdio MCP server over streamable HTTP and legacy SSE.

Accepts supergateway's stdio-mode flags with the same meanings, so its command lines work
unchanged; both transports are always served, ``--outputTransport`` only names the one the
startup message points at. Prints ``mcpb bridge: listening on http://HOST:PORT`` on stderr
once requests are accepted (tests and scripts wait for that line; ``--port 0`` picks a port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import click

from mcpb.bundle.errors import UsageError
from mcpb.loader.bridge import MAX_SESSIONS, BridgeConfig, StdioSettings, serve_bridge
from mcpb.mcphttp import HttpSettings
from mcpb.mcphttp import run as run_loop

_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\*?\[\]#~=%{}!\n]")
_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "none": logging.CRITICAL + 1}


def split_command(command: str) -> list[str]:
    """argv for ``command``: split like a shell would, or run through ``sh -c`` when it uses
    shell syntax (pipes, variables, redirections). The process group is killed as a whole, so
    a shell wrapper never orphans the server."""
    if _SHELL_SYNTAX.search(command):
        return ["/bin/sh", "-c", command]
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise UsageError(f"--stdio: cannot parse the command: {err}") from err
    if not argv:
        raise UsageError("--stdio: the command is empty")
    return argv


def _origins(values: tuple[str, ...]) -> tuple[str, ...]:
    """``--cors`` given bare means every origin; values may be comma-separated."""
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return tuple(out) or ("*",)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--stdio", "stdio", required=True, help="Command that runs the stdio MCP server.")
@click.option(
    "--outputTransport",
    "output_transport",
    type=click.Choice(["streamableHttp", "sse"]),
    default="streamableHttp",
    show_default=True,
    help="Transport named in the startup message; both are always served.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port (0: any free).")
@click.option("--baseUrl", "base_url", default="", help="Prefix of the legacy endpoint URL.")
@click.option("--streamableHttpPath", "mcp_path", default="/mcp", show_default=True)
@click.option("--ssePath", "sse_path", default="/sse", show_default=True)
@click.option("--messagePath", "message_path", default="/message", show_default=True)
@click.option(
    "--healthEndpoint",
    "health",
    multiple=True,
    help="Path answering 200 'ok' (repeatable; default /health).",
)
@click.option("--stateful", is_flag=True, help="One child process per session.")
@click.option(
    "--sessionTimeout",
    "session_timeout_ms",
    type=click.IntRange(min=1),
    default=None,
    help="Idle session expiry in milliseconds (default: never).",
)
@click.option(
    "--cors",
    "cors",
    multiple=True,
    is_flag=False,
    flag_value="*",
    help="Enable CORS; bare flag allows all origins, or give origins (repeatable).",
)
@click.option(
    "--allow-origin",
    "allow_origin",
    multiple=True,
    help="Browser Origin allowed to connect (repeatable); default: loopback origins only.",
)
@click.option(
    "--max-body",
    "max_body",
    type=click.IntRange(min=1024),
    default=4 * 1024 * 1024,
    show_default=True,
)
@click.option(
    "--max-sessions",
    "max_sessions",
    type=click.IntRange(min=1),
    default=None,
    help="Most sessions at once (default: 1000, or 64 with --stateful).",
)
@click.option(
    "--allowed-host",
    "allowed_host",
    multiple=True,
    help="Host header value accepted (repeatable, '*' for any); default: loopback names "
    "when bound to loopback, any otherwise.",
)
@click.option(
    "--init-timeout",
    "init_timeout",
    type=click.FloatRange(min=0.1),
    default=120.0,
    show_default=True,
    help="Seconds the server may take to answer initialize before the session is dropped.",
)
@click.option(
    "--request-timeout",
    "request_timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds a request may wait for the server's answer before the client gets an error "
    "and the server a cancellation; 0 = no limit.",
)
@click.option(
    "--task-after",
    "task_after",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="2026-07-28 clients declaring the tasks extension: seconds a tool call runs before it "
    "becomes a task (sooner for tools declaring task support); 0 = no tasks.",
)
@click.option(
    "--crash-limit",
    "crash_limit",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Exits within 10 s of starting, in a row, before restarting stops and the bridge "
    "exits; 0 = restart forever.",
)
@click.option(
    "--max-buffer",
    "max_buffer",
    type=click.IntRange(min=64 * 1024),
    default=8 * 1024 * 1024,
    show_default=True,
    help="Bytes one client may make the bridge hold for it (each stream); past it the client "
    "loses that stream.",
)
@click.option(
    "--keepalive",
    "keepalive",
    type=click.FloatRange(min=0.01),
    default=15.0,
    show_default=True,
    help="Seconds of silence before an SSE keep-alive comment.",
)
@click.option(
    "--logLevel",
    "log_level",
    type=click.Choice(["debug", "info", "none"]),
    default="info",
    show_default=True,
)
def bridge(
    stdio: str,
    output_transport: str,
    host: str,
    port: int,
    base_url: str,
    mcp_path: str,
    sse_path: str,
    message_path: str,
    health: tuple[str, ...],
    stateful: bool,
    session_timeout_ms: int | None,
    cors: tuple[str, ...],
    allow_origin: tuple[str, ...],
    max_body: int,
    max_sessions: int | None,
    allowed_host: tuple[str, ...],
    init_timeout: float,
    request_timeout: float,
    task_after: float,
    crash_limit: int,
    max_buffer: int,
    keepalive: float,
    log_level: str,
) -> None:
    """Serve a stdio MCP server over streamable HTTP (POST/GET/DELETE) and legacy SSE."""
    logging.basicConfig(
        level=_LOG_LEVELS[log_level],
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    http = HttpSettings(
        host=host,
        port=port,
        mcp_path=mcp_path,
        sse_path=sse_path,
        message_path=message_path,
        health_paths=health or ("/health",),
        session_timeout=session_timeout_ms / 1000 if session_timeout_ms else None,
        max_sessions=max_sessions or MAX_SESSIONS["stateful" if stateful else "shared"],
        max_body=max_body,
        allow_origins=tuple(allow_origin),
        allowed_hosts=tuple(allowed_host),
        cors_origins=_origins(cors) if cors else (),
        keepalive_interval=keepalive,
        init_timeout=init_timeout,
        base_url=base_url,
        max_buffer=max_buffer,
        task_after=task_after or None,
    )
    stdio_settings = StdioSettings(request_timeout=request_timeout or None, crash_limit=crash_limit)
    config = BridgeConfig(http=http, stdio=stdio_settings, stateful=stateful)
    command = split_command(stdio)
    path = mcp_path if output_transport == "streamableHttp" else sse_path

    def listening(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        click.echo(f"mcpb bridge: listening on http://{shown}:{bound_port}{path}", err=True)

    run_loop(_run(config, command, listening))


async def _run(
    config: BridgeConfig, command: list[str], listening: Callable[[str, int], None]
) -> None:
    task = asyncio.ensure_future(
        serve_bridge(config, command, os.environ, Path.cwd(), listening=listening)
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
