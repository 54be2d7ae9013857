"""Start a built bundle's server the way a host would, and talk to it with the real MCP client.

Extraction goes through the library's ``safe_extract`` (record verified), the command line is
resolved from the manifest's ``mcp_config`` with ``resolve_launch``, and ``tools/list`` is asked
through the official Python SDK's stdio client, bounded by a timeout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcpb.bundle.extract import safe_extract
from mcpb.bundle.manifest import parse_manifest
from mcpb.bundle.placeholders import resolve_launch


@dataclass(frozen=True)
class Launch:
    """A resolved command line for an extracted bundle."""

    command: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    manifest: dict[str, Any]


def extract_launch(bundle: Path, dest: Path, values: dict[str, object] | None = None) -> Launch:
    """Safely extract ``bundle`` into ``dest`` and resolve how to start its server."""
    result = safe_extract(bundle, dest)
    assert result.verified, f"{bundle.name}: per-file record was not verified"
    manifest = parse_manifest(result.manifest_data)
    spec = resolve_launch(
        manifest.server.mcp_config,
        manifest.user_config or {},
        values or {},
        bundle_dir=dest,
    )
    return Launch(spec.command, list(spec.args), dict(spec.env), dest, result.manifest_data)


async def _list_tools(params: StdioServerParameters, timeout: float) -> list[str]:
    with anyio.fail_after(timeout):
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            result = await session.list_tools()
            return sorted(tool.name for tool in result.tools)


def list_tools(
    command: str,
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> list[str]:
    """Names of the tools a stdio server offers, asked over a real MCP session."""
    params = StdioServerParameters(
        command=command,
        args=args,
        env={**os.environ, **(env or {})},
        cwd=str(cwd) if cwd else None,
    )
    return anyio.run(_list_tools, params, timeout)
