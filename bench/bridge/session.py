"""Open MCP sessions over streamable HTTP for the load runs (initialize once per session).

A response may come as ``application/json`` or as an SSE stream (supergateway and mcp-proxy
answer with SSE); :func:`rpc` accepts both and returns the message with the request's id.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

PROTOCOL_VERSION = "2025-06-18"
#: The stateless era: no session, a ``_meta`` envelope and routing headers on every request.
MODERN_VERSION = "2026-07-28"
ACCEPT = "application/json, text/event-stream"


def _messages(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages in a response body, JSON or SSE."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        out = []
        for line in response.text.splitlines():
            if line.startswith("data:"):
                out.append(json.loads(line[5:]))
        return out
    return [json.loads(response.content)] if response.content else []


def rpc(
    client: httpx.Client, url: str, message: dict[str, Any], headers: dict[str, str]
) -> tuple[httpx.Response, dict[str, Any] | None]:
    """POST one message; return the response and the reply with the same id, if any."""
    hdrs = {"Accept": ACCEPT, "Content-Type": "application/json", **headers}
    response = client.post(url, content=json.dumps(message), headers=hdrs)
    for msg in _messages(response):
        if "id" in message and msg.get("id") == message["id"]:
            return response, msg
    return response, None


def open_session(
    client: httpx.Client, url: str, headers: dict[str, str] | None = None
) -> tuple[str, str]:
    """Initialize one session; return its ``Mcp-Session-Id`` and negotiated protocol version.

    ``headers`` go with every request (an Authorization a gateway wants). A stateless gateway
    issues no session id when ``headers`` are given: the id is then ``-``.
    """
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcpb-bench", "version": "1.0"},
        },
    }
    extra = headers or {}
    response, reply = rpc(client, url, init, extra)
    if reply is None or "result" not in reply:
        raise RuntimeError(f"initialize failed: {response.status_code} {response.text[:300]}")
    sid = response.headers.get("mcp-session-id")
    if not sid:
        if not extra:
            raise RuntimeError("initialize response carries no Mcp-Session-Id")
        sid = "-"
    version = str(reply["result"]["protocolVersion"])
    hdrs = {**extra, "MCP-Protocol-Version": version}
    if sid != "-":
        hdrs["Mcp-Session-Id"] = sid
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    response, _ = rpc(client, url, note, hdrs)
    if response.status_code not in ((200, 202) if extra else (202,)):
        raise RuntimeError(f"notifications/initialized got {response.status_code}")
    return sid, version


def wait_ready(url: str, timeout: float = 30.0, headers: dict[str, str] | None = None) -> None:
    """Wait until ``url`` answers an initialize (the gateway and its child are up);
    ``headers`` go with it (an Authorization)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            try:
                open_session(client, url, headers)
                return
            except (httpx.HTTPError, RuntimeError, ValueError) as exc:
                last = exc
                time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s: {last}")


def call_tool(
    client: httpx.Client, url: str, sid: str, version: str, name: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """One tools/call on a session (2026-07-28: without one); its JSON-RPC reply (raises when
    none came back)."""
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    msg = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    hdrs = {"MCP-Protocol-Version": version}
    if version == MODERN_VERSION:  # no session: the envelope and the routing headers instead
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        hdrs.update({"Mcp-Method": "tools/call", "Mcp-Name": name})
    else:
        hdrs["Mcp-Session-Id"] = sid
    response, reply = rpc(client, url, msg, hdrs)
    if reply is None:
        raise RuntimeError(f"tools/call {name} got {response.status_code} {response.text[:300]}")
    return reply
