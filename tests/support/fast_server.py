"""A minimal, fast stdio MCP server with no SDK: the floor of the bridge benchmarks.

Line-delimited JSON-RPC on stdin/stdout. It answers ``initialize``, ``ping``, ``tools/list``
and ``tools/call`` of one tool, ``echo``, whose result text is the call's arguments as
compact JSON with sorted keys, so a load client can check every response against its
request. Unknown methods get -32601 (so a 2026-era ``server/discover`` probe falls back);
notifications and responses are swallowed. Input is read in large chunks and all the
answers to one chunk leave in one write, so the server itself is never the bottleneck.

Run: ``python tests/support/fast_server.py`` (or ``-m tests.support.fast_server``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any

SUPPORTED_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")

ECHO_TOOL: dict[str, Any] = {
    "name": "echo",
    "description": "Return the call's arguments as compact JSON with sorted keys.",
    "inputSchema": {"type": "object", "additionalProperties": True},
}


#: ``FAST_SERVER_EXTRA_TOOLS=N`` lists N more (uncallable) tools, for listing benchmarks.
EXTRA_TOOLS: list[dict[str, Any]] = [
    {
        "name": f"t{n:03d}",
        "description": f"Generic tool number {n}, listed but not callable.",
        "inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}},
    }
    for n in range(int(os.environ.get("FAST_SERVER_EXTRA_TOOLS", "0") or 0))
]


def echo_text(arguments: object) -> str:
    """The text the ``echo`` tool returns for ``arguments``; clients recompute it to check."""
    return json.dumps(arguments, separators=(",", ":"), sort_keys=True)


def _result(msg: dict[str, Any]) -> dict[str, Any]:
    """The JSON-RPC result (or error) member for one request."""
    method = msg.get("method")
    params = msg.get("params") or {}
    if method == "tools/call":
        if params.get("name") != "echo":
            return {"error": {"code": -32602, "message": f"unknown tool {params.get('name')!r}"}}
        text = echo_text(params.get("arguments") or {})
        return {"result": {"content": [{"type": "text", "text": text}], "isError": False}}
    if method == "ping":
        return {"result": {}}
    if method == "tools/list":
        return {"result": {"tools": [ECHO_TOOL, *EXTRA_TOOLS]}}
    if method == "initialize":
        asked = params.get("protocolVersion")
        version = asked if asked in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[-1]
        return {
            "result": {
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "fast-server", "version": "1.0.0"},
            }
        }
    return {"error": {"code": -32601, "message": f"method not found: {method}"}}


def answer(line: bytes) -> bytes | None:
    """The reply line (with newline) to one input line, or None when none is due."""
    try:
        msg = json.loads(line)
    except ValueError:
        err = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
        return json.dumps(err).encode() + b"\n"
    if not isinstance(msg, dict) or "method" not in msg or "id" not in msg:
        return None  # a notification, or a response to a request we never send
    reply = {"jsonrpc": "2.0", "id": msg["id"], **_result(msg)}
    return json.dumps(reply, separators=(",", ":")).encode() + b"\n"


def serve(rfd: int = 0, wfd: int = 1) -> None:
    """Answer every complete line read from ``rfd`` on ``wfd`` until end of input."""
    pending = b""
    while chunk := os.read(rfd, 1 << 16):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        out = b"".join(r for line in lines if line.strip() and (r := answer(line)) is not None)
        view = memoryview(out)
        while view:
            view = view[os.write(wfd, view) :]


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(sys.stdin.fileno(), sys.stdout.fileno())
