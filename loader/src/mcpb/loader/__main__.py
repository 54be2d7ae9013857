"""``python -m mcpb.loader``: the base images' entrypoint, configured by the environment.

Runs as an init (PID 1, or a child subreaper elsewhere): the loader itself runs in a forked
worker while this process forwards signals and reaps every child. See
:mod:`mcpb.loader.supervise`; the exit codes are the error classes' ``service_exit_code``
(``docs/exit-codes.md``).
"""

from __future__ import annotations

import os
import sys

from mcpb.bundle.errors import McpbError
from mcpb.loader.config import load_config
from mcpb.loader.run import configure_logging, run_loader
from mcpb.loader.supervise import run_as_init


def main() -> int:
    """Parse the environment, then serve the bundle under the init."""
    env = dict(os.environ)
    configure_logging(env)
    try:
        config = load_config(env)
    except McpbError as err:
        print(f"mcpb-loader: error: {err.message}", file=sys.stderr)
        return err.service_exit_code
    return run_as_init(lambda: run_loader(config), grace=config.stop_grace)


if __name__ == "__main__":
    sys.exit(main())
