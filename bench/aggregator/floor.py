"""The floor: a trivial ASGI MCP endpoint on the same server stack (uvicorn, httptools, uvloop).

It answers ``initialize`` (with a session id) and ``tools/call`` of an echo tool, parsing each
body with orjson and encoding the answer, and accepts notifications: the least any MCP server
over HTTP does. Run: ``python -m bench.aggregator.floor PORT``.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from mcpb.mcphttp.asgi import read_body
from mcpb.mcphttp.serve import run, serve_app

JSON = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await read_body(receive, 1 << 24)
    request = orjson.loads(body) if body else {}
    headers = list(JSON)
    if request.get("method") == "initialize":
        result: Any = {
            "protocolVersion": request["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "floor", "version": "1"},
        }
        headers.append((b"mcp-session-id", b"floor-session"))
    elif request.get("method") == "tools/call":
        arguments = request["params"].get("arguments") or {}
        text = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS).decode()
        result = {"content": [{"type": "text", "text": text}], "isError": False}
    elif "id" not in request:
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    else:
        result = {}
    payload = orjson.dumps({"jsonrpc": "2.0", "id": request.get("id"), "result": result})
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    run(serve_app(app, "127.0.0.1", int(sys.argv[1])))
