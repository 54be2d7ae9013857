"""``mcpb run BUNDLE|URL``: serve a bundle locally over HTTP, exactly as the base images do.

Same loader, same cache, same checks; the differences are local defaults: listen on
127.0.0.1, and a local file you name explicitly is trusted — its SHA-256 is computed (and
still checked when ``--sha256`` is given). A remote URL needs ``--sha256`` unless
``--allow-unverified``. No init process here: the shell is the parent, Ctrl-C stops the server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mcpb.bundle.digest import normalize_sha256
from mcpb.bundle.errors import UsageError
from mcpb.bundle.placeholders import ENV_PREFIX, env_var_name
from mcpb.loader.app import configure_logging, run_loader
from mcpb.loader.config import (
    DEFAULT_MCP_PATH,
    DEFAULT_PORT,
    DEFAULT_STOP_GRACE,
    LoaderConfig,
    default_cache_dir,
    parse_bridge_mode,
    parse_max_sessions,
    parse_mcp_path,
    parse_session_timeout,
    parse_user_config_json,
)


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    """``KEY=VALUE`` flags keyed like ``MCPB_USER_CONFIG_<KEY>`` variables (same matching)."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--user-config: expected KEY=VALUE, got {item!r}")
        out[env_var_name(key.strip()).removeprefix(f"{ENV_PREFIX}_")] = value
    return out


@click.command("run")
@click.argument("bundle")
@click.option("--sha256", "sha256", help="Expected SHA-256 (required for URLs).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address.")
@click.option("--mcp-path", default=DEFAULT_MCP_PATH, show_default=True)
@click.option(
    "--user-config",
    "user_config",
    multiple=True,
    metavar="KEY=VALUE",
    help="A user_config value (repeatable); typed by the manifest's user_config.",
)
@click.option(
    "--allow-unverified", is_flag=True, help="Run a remote bundle without checking its SHA-256."
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Bundle cache (default: $MCPB_CACHE_DIR, $XDG_CACHE_HOME/mcpb, ~/.cache/mcpb).",
)
@click.option(
    "--stop-grace",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_STOP_GRACE,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL when stopping the server.",
)
@click.option(
    "--bridge-mode",
    type=click.Choice(["shared", "stateful"]),
    help="stdio servers: one process for all sessions (shared) or one per session "
    "(stateful, exact for servers that ask the client questions). "
    "Default: $MCPB_BRIDGE_MODE, else shared.",
)
@click.option(
    "--max-sessions",
    type=click.IntRange(min=1),
    help="Most sessions at once (default: $MCPB_MAX_SESSIONS, else 1000 shared, 64 stateful).",
)
@click.option(
    "--session-timeout",
    type=click.FloatRange(min=0),
    help="Idle seconds before a session expires, 0 = never "
    "(default: $MCPB_SESSION_TIMEOUT, else 600).",
)
def run(
    bundle: str,
    sha256: str | None,
    port: int,
    host: str,
    mcp_path: str,
    user_config: tuple[str, ...],
    allow_unverified: bool,
    cache_dir: Path | None,
    stop_grace: float,
    bridge_mode: str | None,
    max_sessions: int | None,
    session_timeout: float | None,
) -> None:
    """Serve BUNDLE (a .mcpb path, file://, http:// or https:// URL) on http://HOST:PORT/mcp."""
    env = dict(os.environ)
    configure_logging(env)
    config = LoaderConfig(
        bundle_url=bundle,
        sha256=normalize_sha256(sha256, what="--sha256") if sha256 else None,
        allow_unverified=allow_unverified,
        host=host,
        port=port,
        mcp_path=parse_mcp_path("--mcp-path", mcp_path),
        cache_dir=cache_dir or default_cache_dir(env),
        user_config=parse_user_config_json("MCPB_USER_CONFIG", env.get("MCPB_USER_CONFIG", "")),
        user_config_strings=_pairs(user_config),
        stop_grace=stop_grace,
        trust_local=True,
        bridge_mode=bridge_mode
        or parse_bridge_mode("MCPB_BRIDGE_MODE", env.get("MCPB_BRIDGE_MODE", "")),
        max_sessions=max_sessions
        or parse_max_sessions("MCPB_MAX_SESSIONS", env.get("MCPB_MAX_SESSIONS", "")),
        session_timeout=parse_session_timeout(
            "MCPB_SESSION_TIMEOUT", env.get("MCPB_SESSION_TIMEOUT", "")
        )
        if session_timeout is None
        else session_timeout or None,
    )
    sys.exit(run_loader(config))
