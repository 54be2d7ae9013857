"""A streamable-HTTP MCP server of the official Python SDK (``mcp`` 2.3), serving both eras.

It speaks 2026-07-28 natively: its ``whoami`` tool asks the client's name through the SDK's
resolver (``Elicit``), which the SDK turns into an ``input_required`` result for 2026 clients
and into an ``elicitation/create`` request for 2025 ones; ``regional`` takes an argument that
also travels in the ``Mcp-Param-Region`` header (``x-mcp-header``), which the SDK checks.
Run: ``python modern_http_server.py PORT``.
"""

from __future__ import annotations

import sys
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import BaseModel, Field

server = MCPServer("modern-upstream", instructions="A server of the 2026 era.")


class Name(BaseModel):
    name: str


def ask_name() -> Elicit[Name]:
    return Elicit("What is your name?", Name)


@server.tool()
def greet(name: str) -> str:
    """Greet NAME."""
    return f"Hello, {name}!"


@server.tool()
def whoami(who: Annotated[Name, Resolve(ask_name)]) -> str:
    """Ask the client who it is, then greet it."""
    return f"You are {who.name}."


@server.tool()
def regional(
    region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
) -> str:
    """Echo the region (also sent as the Mcp-Param-Region header)."""
    return f"region={region}"


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
