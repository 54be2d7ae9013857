"""Two tools backed by orjson (a Rust extension module): canonical JSON and a key count.

With no manifest.json, ``mcpb build`` derives one from this project's metadata and starts
``main`` below through a generated launcher; orjson's ``.so`` for each platform is what makes the
per-architecture bundles necessary.
"""

from __future__ import annotations

import orjson
from mcp.server.mcpserver import MCPServer

server = MCPServer("orjson-echo")


@server.tool(description="Re-serialise a JSON document with sorted keys, compactly.")
def canonical_json(document: str) -> str:
    return orjson.dumps(orjson.loads(document), option=orjson.OPT_SORT_KEYS).decode()


@server.tool(description="Count the top-level keys of a JSON object.")
def count_keys(document: str) -> int:
    value = orjson.loads(document)
    return len(value) if isinstance(value, dict) else 0


def main() -> None:
    """Console script entry point: serve over stdio."""
    server.run()
