"""The ceiling of an HTTP→HTTP MCP gateway on the aggregator's parts: a relay with no MCP logic.

Every POST goes to one upstream unchanged through the aggregator's own client
(:class:`mcpb.aggregator.http_client.HttpPool`): the same body, with ``Accept``,
``Content-Type``, ``Mcp-Session-Id`` and ``MCP-Protocol-Version`` copied across. The
upstream's status, ``Content-Type``, ``Mcp-Session-Id`` and body come back the same way. The
relay does not route, namespace or check anything, so its req/s is the most any vMCP on these
parts can reach in front of that upstream: one server hop (uvicorn, ASGI, a task per request,
served by :func:`mcpb.mcphttp.serve.serve_app`) and one client hop.

Run: ``python -m bench.aggregator.relay PORT UPSTREAM_URL``.
"""

from __future__ import annotations

import sys
from typing import Any

from mcpb.aggregator.http_client import HttpPool
from mcpb.mcphttp.asgi import read_body
from mcpb.mcphttp.serve import run, serve_app

#: Request headers copied to the upstream, and response headers copied back.
FORWARD = (b"accept", b"content-type", b"mcp-session-id", b"mcp-protocol-version")
BACK = (b"content-type", b"mcp-session-id")


def relay_app(pool: HttpPool) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive, 1 << 24)
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in FORWARD
        }
        response = await pool.request(scope["method"], headers, body)
        content = await response.read(1 << 24) or b""
        back = [(name, response.headers[name]) for name in BACK if name in response.headers]
        back.append((b"content-length", b"%d" % len(content)))
        await send({"type": "http.response.start", "status": response.status, "headers": back})
        await send({"type": "http.response.body", "body": content})

    return app


async def main(port: int, upstream: str) -> None:
    pool = HttpPool(upstream)
    try:
        await serve_app(relay_app(pool), "127.0.0.1", port)
    finally:
        await pool.aclose()


if __name__ == "__main__":
    run(main(int(sys.argv[1]), sys.argv[2]))
