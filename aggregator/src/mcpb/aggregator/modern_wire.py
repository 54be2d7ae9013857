"""How the aggregator speaks 2026-07-28 to an upstream that serves it.

The rest of the aggregator (relays, vMCPs, the catalog) speaks the handshake era; an HTTP
upstream that answers ``server/discover`` with 2026-07-28 is addressed in that revision
instead, and :class:`~mcpb.aggregator.http_upstream.HttpUpstream` translates at the edge with
these pieces: the probe, the ``initialize`` result made from the discover result, the
per-request envelope and routing headers (``Mcp-Param-*`` included, from the tool schemas
seen in ``tools/list``), and the shape of ``input_required`` results.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.modern.envelope import (
    CLIENT_CAPABILITIES,
    LOG_LEVEL,
    PROTOCOL_VERSION,
    SERVER_INFO,
)
from mcpb.mcphttp.modern.headers import NAMED, HeaderParam
from mcpb.mcphttp.versions import MODERN_PROTOCOL_VERSIONS, NEGOTIABLE_PROTOCOL_VERSIONS

MODERN = MODERN_PROTOCOL_VERSIONS[-1]
#: Methods the 2026-07-28 revision removed: answered by the aggregator (see http_upstream).
REMOVED = frozenset({"ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"})
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]*$")


def discover_message(capabilities: dict[str, Any]) -> Message:
    """The ``server/discover`` probe (the SDKs' own shape)."""
    meta = {PROTOCOL_VERSION: MODERN, CLIENT_CAPABILITIES: capabilities}
    return {
        "jsonrpc": "2.0",
        "id": "mcpb-discover",
        "method": "server/discover",
        "params": {"_meta": meta},
    }


def speaks_modern(answer: Any) -> bool:
    """Whether a discover answer lists the 2026-07-28 revision."""
    result = answer.get("result") if isinstance(answer, dict) else None
    versions = result.get("supportedVersions") if isinstance(result, dict) else None
    return isinstance(versions, list) and MODERN in versions


def initialize_result(discovered: Message, asked: Any) -> Message:
    """What a handshake-era client of this upstream is told: its discover result, reshaped."""
    meta = discovered.get("_meta")
    info = meta.get(SERVER_INFO) if isinstance(meta, dict) else None
    version = asked if asked in NEGOTIABLE_PROTOCOL_VERSIONS else "2025-11-25"
    result: Message = {
        "protocolVersion": version,
        "capabilities": discovered.get("capabilities") or {},
        "serverInfo": info if isinstance(info, dict) else {"name": "unknown", "version": "0"},
    }
    if isinstance(discovered.get("instructions"), str):
        result["instructions"] = discovered["instructions"]
    return result


def enveloped(message: Message, capabilities: Any, log_level: str | None) -> Message:
    """``message`` with the 2026-07-28 ``_meta`` envelope (a new params object)."""
    params = message.get("params")
    params = dict(params) if isinstance(params, dict) else {}
    meta = params.get("_meta")
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta[PROTOCOL_VERSION] = MODERN
    meta[CLIENT_CAPABILITIES] = capabilities if isinstance(capabilities, dict) else {}
    if log_level is not None:
        meta[LOG_LEVEL] = log_level
    params["_meta"] = meta
    return {**message, "params": params}


def header_value(value: str) -> str:
    """A header value as the spec sends it: plain when a safe token, else the base64 sentinel."""
    if _TOKEN.match(value) and not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    return "=?base64?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def routing_headers_for(
    message: Message, params_wanted: dict[bytes, HeaderParam]
) -> dict[str, str]:
    """``Mcp-Method``, ``Mcp-Name`` and the ``Mcp-Param-*`` headers a request needs."""
    method = message["method"]
    headers = {"mcp-protocol-version": MODERN, "mcp-method": method}
    params = message.get("params")
    params = params if isinstance(params, dict) else {}
    key = NAMED.get(method)
    if key is not None and isinstance(params.get(key), str):
        headers["mcp-name"] = header_value(params[key])
    arguments = params.get("arguments")
    for header, (path, kind) in params_wanted.items():
        value: Any = arguments
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if value is None:
            continue
        if kind == "boolean" and isinstance(value, bool):
            text = "true" if value else "false"
        elif kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        elif kind == "string" and isinstance(value, str):
            text = header_value(value)
        else:
            continue
        headers[header.decode("latin-1")] = text
    return headers


def input_requests(answer: Any) -> tuple[dict[str, Message], Any] | None:
    """The questions and state of an ``input_required`` answer (None for anything else)."""
    result = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(result, dict) or result.get("resultType") != "input_required":
        return None
    asked = result.get("inputRequests")
    questions = {
        str(key): value
        for key, value in (asked.items() if isinstance(asked, dict) else ())
        if isinstance(value, dict) and isinstance(value.get("method"), str)
    }
    return questions, result.get("requestState")
