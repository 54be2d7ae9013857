"""The gateways and stdio servers under test, and how to start each on a loopback port.

Peers are installed on first use into ``.cache/`` with the machine's configured package
sources: npm packages through ``tests.support.npm``, PyPI packages into their own virtual
environments through ``tests.support.pypi`` (mcp-proxy needs ``mcp<2``).

``mcpb-shared-base`` and ``mcpb-stateful-base`` are this project at another commit, for a
before/after comparison in one run: ``MCPB_BENCH_BASE`` names a checkout of that commit (``git
worktree add /tmp/base REV``); its sources are put first on ``PYTHONPATH`` and run with this
environment's interpreter and dependencies, so only our code differs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.npm import npm_bin
from tests.support.pypi import MCP_PROXY, MCP_SERVER_TIME, pypi_bin

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "bench"

SUPERGATEWAY = "supergateway@4.0.0"

FAST_SERVER = REPO / "tests" / "support" / "fast_server.py"


@dataclass(frozen=True)
class Server:
    """A stdio MCP server: its command line and the wrk tool mode that exercises it."""

    name: str
    argv: tuple[str, ...]
    tool: str  # "echo" or "time" (see mcp.lua)


def servers() -> dict[str, Server]:
    """The stdio servers benchmarked behind every gateway."""
    time_bin = pypi_bin("mcp-server-time", MCP_SERVER_TIME, "mcp-server-time")
    return {
        "fast": Server("fast", (sys.executable, str(FAST_SERVER)), "echo"),
        "time": Server("time", (str(time_bin), "--local-timezone", "UTC"), "time"),
    }


@dataclass(frozen=True)
class Gateway:
    """A stdio→streamable-HTTP gateway: how to start it for a server on a port."""

    name: str
    description: str
    #: "2026": the load is 2026-07-28 requests (no session) instead of a 2025-06-18 session's.
    era: str = "2025"

    def argv(self, server: Server, port: int) -> list[str]:
        """The command line serving ``server`` at ``http://127.0.0.1:{port}/mcp``."""
        cmd = " ".join(server.argv)
        if self.name.startswith("mcpb-"):
            if self.name.endswith("-base"):
                mcpb = [sys.executable, "-c", "from mcpb.bundler.cli import main; main()"]
            else:
                mcpb = [str(Path(sys.executable).parent / "mcpb")]
            argv = [*mcpb, "bridge", "--stdio", cmd, "--port", str(port)]
            argv += ["--outputTransport", "streamableHttp", "--logLevel", "none"]
            return [*argv, "--stateful"] if "-stateful" in self.name else argv
        if self.name.startswith("relay-"):
            mode = self.name.removeprefix("relay-")
            relay = [sys.executable, "-m", "bench.bridge.relay", mode, str(port), "--"]
            return [*relay, *server.argv]
        if self.name == "supergateway":
            sg = npm_bin(SUPERGATEWAY, "supergateway")
            return [
                str(sg), "--stdio", cmd, "--outputTransport", "streamableHttp", "--stateful",
                "--port", str(port), "--logLevel", "none",
            ]  # fmt: skip
        if self.name == "mcp-proxy":
            proxy = pypi_bin("mcp-proxy", MCP_PROXY, "mcp-proxy")
            return [
                str(proxy), "--host", "127.0.0.1", "--port", str(port), "--log-level", "WARNING",
                "--pass-environment", "--", *server.argv,
            ]  # fmt: skip
        raise ValueError(f"unknown gateway {self.name}")

    def env(self) -> dict[str, str]:
        """The environment for the gateway process."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.name.endswith("-base"):
            base = os.environ.get("MCPB_BENCH_BASE")
            if not base:
                raise ValueError(f"{self.name}: set MCPB_BENCH_BASE to a checkout of the base")
            src = [str(Path(base) / "loader" / "src"), str(Path(base) / "bundler" / "src")]
            env["PYTHONPATH"] = os.pathsep.join(src)
        return env


GATEWAYS = {
    g.name: g
    for g in (
        Gateway("mcpb-shared", "mcpb bridge, one shared child, ids remapped"),
        Gateway("mcpb-stateful", "mcpb bridge --stateful, one child per session"),
        Gateway(
            "mcpb-shared-2026",
            "mcpb bridge (as mcpb-shared), loaded with 2026-07-28 requests: no session",
            era="2026",
        ),
        Gateway(
            "mcpb-stateful-2026",
            "mcpb bridge --stateful, loaded with 2026-07-28 requests (its one stateless child)",
            era="2026",
        ),
        Gateway("supergateway", "supergateway --stateful (npm), one child per session"),
        Gateway(
            "relay-asgi",
            "no MCP logic: a bare ASGI relay on the bridge's own parts (bench/bridge/relay.py)",
        ),
        Gateway(
            "relay-protocol",
            "no MCP logic, no ASGI, no task per request: asyncio protocols only (relay.py)",
        ),
        Gateway("mcp-proxy", "mcp-proxy (PyPI, mcp<2), one shared child"),
        Gateway("mcpb-shared-base", "mcpb bridge at MCPB_BENCH_BASE, one shared child"),
        Gateway("mcpb-stateful-base", "mcpb bridge --stateful at MCPB_BENCH_BASE"),
    )
}


def versions() -> dict[str, str]:
    """Versions of the peers as installed (for the results file)."""
    return {
        "supergateway": SUPERGATEWAY.rsplit("@", 1)[1],
        "mcp-proxy": MCP_PROXY[0].split("==")[1],
        "mcp-server-time": MCP_SERVER_TIME[0].split("==")[1],
    }
