"""The runtime: obtain a bundle (fetch, verify, extract), plan its launch, and serve it.

Three phases, one module each: :mod:`.obtain` → :class:`Obtained`, :mod:`.launch` →
:class:`LaunchSpec`, :mod:`.run` (serve, signals, exit codes). :func:`load_config` is the one
place the loader's settings are read (environment and ``mcpb run`` flags). The stdio bridge is
:mod:`mcpb.loader.bridge`. See ``docs/architecture.md``.
"""

from mcpb.loader.config import LoaderConfig, load_config
from mcpb.loader.launch import LaunchSpec, plan_launch
from mcpb.loader.obtain import Obtained, obtain
from mcpb.loader.run import run_loader

__all__ = [
    "LaunchSpec",
    "LoaderConfig",
    "Obtained",
    "load_config",
    "obtain",
    "plan_launch",
    "run_loader",
]
