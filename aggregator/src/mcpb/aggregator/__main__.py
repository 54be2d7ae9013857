"""``python -m mcpb.aggregator``: the aggregator image's entrypoint, configured by the environment.

``MCPB_AGGREGATOR_CONFIG`` names the configuration file; ``HOST`` (default ``0.0.0.0``) and
``PORT`` (default 8000) as for the loader; ``MCPB_AGGREGATOR_ADMIN_TOKEN`` turns the admin API
on. Runs as an init (PID 1, or a child subreaper) like the loader, so the stdio servers it
spawns are reaped and none outlives it.
"""

from __future__ import annotations

import os
import sys

from mcpb.aggregator.serve import configure_logging, options_from_env, run_aggregator
from mcpb.bundle.errors import McpbError
from mcpb.loader.supervise import run_as_init


def main() -> int:
    """Parse the environment, then serve under the init."""
    env = dict(os.environ)
    configure_logging(env)
    try:
        options = options_from_env(env)
    except McpbError as err:
        print(f"mcpb-aggregator: error: {err.message}", file=sys.stderr)
        return err.service_exit_code
    return run_as_init(lambda: run_aggregator(options), grace=5.0)


if __name__ == "__main__":
    sys.exit(main())
