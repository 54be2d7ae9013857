"""``mcpb aggregate``: serve virtual MCP servers composed from upstream MCP servers.

The library does the work (:func:`mcpb.aggregator.run_aggregator`); this maps flags onto its
options. Prints ``mcpb aggregate: listening on http://HOST:PORT`` on stderr once requests are
accepted (``--port 0`` picks a port). Exit codes are the server ones (``docs/exit-codes.md``):
78 for an invalid configuration, 69 for an upstream that cannot be prepared.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mcpb.aggregator import AggregatorOptions, run_aggregator
from mcpb.aggregator.serve import configure_logging
from mcpb.loader.config import default_cache_dir


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The configuration file (.yaml, .yml or .json).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
def aggregate(config_path: Path, host: str, port: int) -> None:
    """Serve the vMCPs of a configuration at /vmcp/NAME/mcp.

    The admin API is on when MCPB_AGGREGATOR_ADMIN_TOKEN is set (or admin.token_file is
    configured).
    """
    configure_logging(os.environ)
    options = AggregatorOptions(
        config_path=config_path,
        host=host,
        port=port,
        cache_dir=default_cache_dir(os.environ),
    )

    def listening(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        click.echo(f"mcpb aggregate: listening on http://{shown}:{bound_port}", err=True)

    sys.exit(run_aggregator(options, listening=listening))
