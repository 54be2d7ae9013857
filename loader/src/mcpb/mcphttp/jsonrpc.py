"""The few JSON-RPC facts the hot path needs: encoding, error bodies, message kinds.

Messages stay plain ``dict`` objects parsed by orjson; nothing here validates a message
against a schema. Backends route on ``id``, ``method`` and ``params._meta.progressToken``.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
#: 2026-07-28: a routing header disagrees with the body, or a required one is missing.
HEADER_MISMATCH: Final = -32020
#: 2026-07-28: the request needs a client capability it did not declare.
MISSING_CLIENT_CAPABILITY: Final = -32021
#: 2026-07-28: the request names a protocol version this server does not serve.
UNSUPPORTED_PROTOCOL_VERSION: Final = -32022
#: 2025 revisions: the resource does not exist (2026-07-28 uses -32602 instead).
RESOURCE_NOT_FOUND_2025: Final = -32002
#: The request was cancelled (the code LSP uses; MCP defines none).
REQUEST_CANCELLED: Final = -32800
#: Implementation-defined server error: the stdio server is down or exited mid-request.
SERVER_UNAVAILABLE: Final = -32000

Message = dict[str, Any]

loads = orjson.loads


def dumps(message: Any) -> bytes:
    """Compact JSON without newlines (a stdio frame and an SSE ``data:`` line at once)."""
    return orjson.dumps(message)


def error(message_id: Any, code: int, text: str, data: Any = None) -> Message:
    """A JSON-RPC error response object."""
    err: dict[str, Any] = {"code": code, "message": text}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": message_id, "error": err}


def error_bytes(message_id: Any, code: int, text: str) -> bytes:
    """:func:`error`, encoded."""
    return dumps(error(message_id, code, text))


def is_request(message: Message) -> bool:
    """Has a method and an id: expects a response."""
    return "method" in message and "id" in message


def is_notification(message: Message) -> bool:
    """Has a method and no id."""
    return "method" in message and "id" not in message


def is_response(message: Message) -> bool:
    """Answers a request: an id and a result or an error, no method."""
    return (
        "method" not in message and "id" in message and ("result" in message or "error" in message)
    )


def shape_problem(message: Any) -> str | None:
    """Why ``message`` is not a JSON-RPC 2.0 message, or None when it has the right shape."""
    if not isinstance(message, dict):
        return "a JSON-RPC message must be a JSON object"
    if message.get("jsonrpc") != "2.0":
        return 'the "jsonrpc" member must be "2.0"'
    if "method" in message:
        if not isinstance(message["method"], str):
            return 'the "method" member must be a string'
        if "id" in message and not _valid_id(message["id"]):
            return 'the "id" member must be a string or an integer'
        return None
    if "id" in message and ("result" in message or "error" in message):
        return None
    return "not a request, notification or response"


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def progress_token(message: Message) -> Any:
    """``params._meta.progressToken`` of a request, or None."""
    params = message.get("params")
    if isinstance(params, dict):
        meta = params.get("_meta")
        if isinstance(meta, dict):
            return meta.get("progressToken")
    return None


def id_of(message: Any) -> Any:
    """A usable id of a possibly malformed message (for error replies), else None."""
    if isinstance(message, dict):
        value = message.get("id")
        if _valid_id(value):
            return value
    return None


def discover_refusal(request_id: Any) -> bytes:
    """The answer a handshake-era server gives to a 2026-era ``server/discover`` probe."""
    text = "Method not found: server/discover (this server speaks the initialize handshake)"
    return error_bytes(request_id, METHOD_NOT_FOUND, text)
