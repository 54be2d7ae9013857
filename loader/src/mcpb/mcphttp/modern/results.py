"""A handshake-era answer made a 2026-07-28 one, and the HTTP status that goes with it.

Every modern result says ``resultType`` and carries the server's info in ``_meta``; the
cacheable ones (lists, ``resources/read``, ``server/discover``) carry ``ttlMs`` and
``cacheScope``. Errors keep their body; the 2025 resource-not-found code becomes -32602 and
the status follows the error code (404 for an unknown method, 400 for bad parameters and the
modern refusals, 200 otherwise, as the SDK does).
"""

from __future__ import annotations

from typing import Any

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.modern.envelope import SERVER_INFO

#: Results a client (or a shared cache) may keep for ``ttlMs``.
CACHEABLE = frozenset(
    {
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
    }
)
_STATUS = {
    jsonrpc.METHOD_NOT_FOUND: 404,
    jsonrpc.INVALID_PARAMS: 400,
    jsonrpc.INVALID_REQUEST: 400,
    jsonrpc.PARSE_ERROR: 400,
    jsonrpc.HEADER_MISMATCH: 400,
    jsonrpc.MISSING_CLIENT_CAPABILITY: 400,
    jsonrpc.UNSUPPORTED_PROTOCOL_VERSION: 400,
}


def status_for(message: Message) -> int:
    """The HTTP status of a final answer sent as plain JSON."""
    error = message.get("error")
    if isinstance(error, dict):
        return _STATUS.get(error.get("code"), 200)  # type: ignore[arg-type]
    return 200


def modernize(
    message: Message, method: str, server_info: Any, ttl_ms: int, cache_scope: str
) -> Message:
    """Rewrite a final answer in place for a modern client (see the module docstring)."""
    error = message.get("error")
    if isinstance(error, dict):
        if error.get("code") == jsonrpc.RESOURCE_NOT_FOUND_2025:
            error["code"] = jsonrpc.INVALID_PARAMS
        return message
    result = message.get("result")
    if not isinstance(result, dict):
        return message
    result.setdefault("resultType", "complete")
    if server_info is not None:
        meta = result.get("_meta")
        if not isinstance(meta, dict):
            meta = result["_meta"] = {}
        meta.setdefault(SERVER_INFO, server_info)
    if method in CACHEABLE:
        result.setdefault("ttlMs", ttl_ms)
        result.setdefault("cacheScope", cache_scope)
    return message
