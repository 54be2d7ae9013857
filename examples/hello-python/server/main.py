"""hello-python: the smallest useful MCP server, over stdio, built on the official ``mcp`` SDK.

It exists to be packed, built and served by the mcpb toolchain in demos and tests, so it has
one tool with an argument, one that reads the bundle's environment, and a resource.
"""

from __future__ import annotations

import os
import platform

try:  # mcp 2.x renamed FastMCP to MCPServer; keep working with 1.x too
    from mcp.server.mcpserver import MCPServer as FastMCP
except ImportError:  # pragma: no cover - mcp 1.x
    from mcp.server.fastmcp import FastMCP  # type: ignore[no-redef,attr-defined,unused-ignore]

server = FastMCP("hello-python")


@server.tool()
def greet(name: str = "world") -> str:
    """Say hello to NAME."""
    return f"Hello, {name}!"


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def runtime_info() -> dict[str, str]:
    """Where this server runs: Python version, machine, and the GREETING setting."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "greeting": os.environ.get("GREETING", ""),
    }


@server.resource("hello://readme")
def readme() -> str:
    """A static resource, to show resources travel through bundles too."""
    return "hello-python: an example MCP server packed with mcpb."


def main() -> None:
    server.run()  # stdio


if __name__ == "__main__":
    main()
