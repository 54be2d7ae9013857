"""Install pinned npm packages once per machine for the tests that run real peers.

Packages go into ``.cache/npm/<spec>`` under the repository, guarded by a file lock so
parallel test processes install once. The machine's configured npm registry is used.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "npm"

REFERENCE_MCPB = "@anthropic-ai/mcpb@2.1.2"


def npm_package(spec: str) -> Path:
    """Return the ``node_modules`` parent directory where ``spec`` is installed."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed; .ci/run installs it (apt-get install npm)")
    prefix = CACHE / re.sub(r"[^A-Za-z0-9.@-]+", "_", spec)
    done = prefix / ".installed"
    if done.exists():
        return prefix
    prefix.mkdir(parents=True, exist_ok=True)
    with (prefix / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(prefix),
                    "--no-package-lock",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    spec,
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            done.touch()
    return prefix


def npm_bin(spec: str, name: str) -> Path:
    """Path of an installed package's executable (``node_modules/.bin/NAME``)."""
    path = npm_package(spec) / "node_modules" / ".bin" / name
    if not path.exists():
        raise RuntimeError(f"{spec} did not install an executable named {name}")
    return path
