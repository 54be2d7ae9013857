"""Raw streamable-HTTP calls for tests that check status codes and bodies byte by byte."""

from __future__ import annotations

import json
from typing import Any

import httpx

ACCEPT_BOTH = "application/json, text/event-stream"
LATEST = "2025-11-25"


def headers(
    session_id: str | None = None, version: str | None = LATEST, **extra: str
) -> dict[str, Any]:
    out = {"content-type": "application/json", "accept": ACCEPT_BOTH}
    if session_id is not None:
        out["mcp-session-id"] = session_id
    if version is not None:
        out["mcp-protocol-version"] = version
    out.update({k.replace("_", "-"): v for k, v in extra.items()})
    return out


def initialize_body(request_id: Any = 0, version: str = LATEST) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {"sampling": {}},
            "clientInfo": {"name": "raw-test", "version": "0"},
        },
    }


def initialize(client: httpx.Client, url: str, version: str = LATEST) -> str:
    """Open a session (initialize + notifications/initialized); returns its id."""
    response = client.post(url, json=initialize_body(0, version), headers=headers(version=None))
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert client.post(url, json=note, headers=headers(session_id)).status_code == 202
    return session_id


async def ainitialize(client: httpx.AsyncClient, url: str, version: str = LATEST) -> str:
    """:func:`initialize` for an async client."""
    response = await client.post(
        url, json=initialize_body(0, version), headers=headers(version=None)
    )
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await client.post(url, json=note, headers=headers(session_id))).status_code == 202
    return session_id


def call(request_id: Any, name: str, arguments: dict[str, Any], **meta: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def sse_messages(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of every ``data:`` line in an SSE body."""
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


def tool_text(message: dict[str, Any]) -> str:
    text: str = message["result"]["content"][0]["text"]
    return text


MODERN = "2026-07-28"
TASKS = "io.modelcontextprotocol/tasks"


def modern_post(
    url: str,
    method: str,
    params: dict[str, Any],
    *,
    name: str | None = None,
    capabilities: dict[str, Any] | None = None,
    authorization: str | None = None,
) -> tuple[int, Any]:
    """One 2026-07-28 request, envelope and routing headers filled in (``name``: ``Mcp-Name``;
    ``capabilities`` default to declaring the tasks extension); its status and JSON body."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": (
            {"extensions": {TASKS: {}}} if capabilities is None else capabilities
        ),
    }
    sent = headers(version=MODERN, mcp_method=method)
    if name is not None:
        sent["mcp-name"] = name
    if authorization is not None:
        sent["authorization"] = authorization
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    reply = httpx.post(url, json=body, headers=sent, timeout=30)
    return reply.status_code, reply.json()
