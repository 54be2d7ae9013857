"""Real stdio MCP servers from npm and PyPI, as ``--stdio`` command lines for the bridge.

``@modelcontextprotocol/server-everything`` runs in stdio mode with the explicit ``stdio``
argument (the installed version also defaults to it); ``mcp-server-time`` runs from its own
cached virtual environment with a fixed local timezone so answers do not depend on the host.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from tests.support.npm import npm_package
from tests.support.pypi import MCP_SERVER_TIME, pypi_bin

SERVER_EVERYTHING = "@modelcontextprotocol/server-everything@2026.8.31"


def node_executable() -> str:
    """The ``node`` on PATH (CI installs Debian's nodejs)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed; .ci/run installs it (apt-get install nodejs)")
    return node


def everything_command() -> str:
    """``node .../server-everything/dist/index.js stdio`` for the pinned version."""
    package = npm_package(SERVER_EVERYTHING) / "node_modules" / "@modelcontextprotocol"
    entry = package / "server-everything" / "dist" / "index.js"
    if not entry.exists():
        raise RuntimeError(f"{SERVER_EVERYTHING} has no {entry}")
    return shlex.join([node_executable(), str(entry), "stdio"])


def time_command() -> str:
    """``mcp-server-time --local-timezone UTC`` from its cached environment."""
    exe: Path = pypi_bin("mcp-server-time", MCP_SERVER_TIME, "mcp-server-time")
    return shlex.join([str(exe), "--local-timezone", "UTC"])
