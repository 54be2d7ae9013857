"""``mcpb run BUNDLE|URL``: serve a bundle locally over HTTP, exactly as the base images do.

Same loader, same cache, same checks, same settings: every ``MCPB_*`` variable the images'
loader reads applies here too, and each flag overrides its variable
(:func:`mcpb.loader.config.load_config`: defaults < environment < flags). The differences are
local defaults: listen on 127.0.0.1, and a local file you name explicitly is trusted — its
SHA-256 is computed (and still checked when ``--sha256`` is given). A remote URL needs
``--sha256`` unless ``--allow-unverified``. No init process here: the shell is the parent,
Ctrl-C stops the server. Flags are parsed by the loader's parsers, so a bad value is reported
under the flag's name with exit status 64.
"""

from __future__ import annotations

import os
import sys

import click

from mcpb.loader.config import load_config
from mcpb.loader.run import configure_logging, run_loader


@click.command("run")
@click.argument("bundle")
@click.option("--sha256", "sha256", help="Expected SHA-256 (required for URLs). [$BUNDLE_SHA256]")
@click.option("--port", help="Listen port (0: any free).  [$PORT; default: 8000]")
@click.option("--host", help="Listen address.  [$HOST; default: 127.0.0.1]")
@click.option("--mcp-path", help="Streamable HTTP path.  [$MCP_PATH; default: /mcp]")
@click.option(
    "--user-config",
    "user_config",
    multiple=True,
    metavar="KEY=VALUE",
    help="A user_config value (repeatable); typed by the manifest's user_config. "
    "[$MCPB_USER_CONFIG_<KEY>]",
)
@click.option(
    "--allow-unverified",
    is_flag=True,
    default=None,
    help="Run a remote bundle without checking its SHA-256.  [$MCPB_ALLOW_UNVERIFIED]",
)
@click.option(
    "--cache-dir",
    help="Bundle cache.  [$MCPB_CACHE_DIR; default: $XDG_CACHE_HOME/mcpb, ~/.cache/mcpb]",
)
@click.option(
    "--stop-grace",
    help="Seconds between SIGTERM and SIGKILL when stopping the server. "
    "[$MCPB_STOP_GRACE; default: 10]",
)
@click.option(
    "--max-bundle-size",
    help="Largest bundle download, in bytes.  [$MCPB_MAX_BUNDLE_SIZE; default: 2 GiB]",
)
@click.option(
    "--bridge-mode",
    help="stdio servers: shared (one process for all sessions) or stateful (one per session, "
    "exact for servers that ask the client questions).  [$MCPB_BRIDGE_MODE; default: shared]",
)
@click.option(
    "--max-sessions",
    help="Most sessions at once.  [$MCPB_MAX_SESSIONS; default: 1000 shared, 64 stateful]",
)
@click.option(
    "--session-timeout",
    help="Idle seconds before a session expires, 0 = never. [$MCPB_SESSION_TIMEOUT; default: 600]",
)
@click.option(
    "--request-timeout",
    help="Seconds a request may wait for the server's answer, 0 = no limit. "
    "[$MCPB_REQUEST_TIMEOUT; default: 600]",
)
@click.option(
    "--task-after",
    help="2026-07-28 clients declaring the tasks extension: seconds a tool call runs before it "
    "becomes a task, 0 = no tasks.  [$MCPB_TASK_AFTER; default: 1]",
)
@click.option(
    "--crash-limit",
    help="Exits within 10 s of starting, in a row, before the loader stops restarting the "
    "server and exits 75; 0 = restart forever.  [$MCPB_CRASH_LIMIT; default: 5]",
)
@click.option(
    "--download-timeout",
    help="Seconds the whole download may take, retries included; 0 = no limit. "
    "[$MCPB_DOWNLOAD_TIMEOUT; default: 600]",
)
def run(
    bundle: str, user_config: tuple[str, ...], allow_unverified: bool | None, **flags: str | None
) -> None:
    """Serve BUNDLE (a .mcpb path, file://, http:// or https:// URL) on http://HOST:PORT/mcp."""
    env = dict(os.environ)
    configure_logging(env)
    flags["bundle_url"] = bundle
    flags["allow_unverified"] = "1" if allow_unverified else None
    config = load_config(env, flags, user_config_flags=user_config, local=True)
    sys.exit(run_loader(config))
