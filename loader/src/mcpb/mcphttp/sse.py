"""Server-Sent Events framing: one JSON-RPC message per event, comments as keep-alives.

Payloads come from :func:`mcpb.mcphttp.jsonrpc.dumps` and so never contain a newline,
which is what lets a message travel in a single ``data:`` line.
"""

from __future__ import annotations

KEEPALIVE = b": keepalive\n\n"


def message_event(payload: bytes) -> bytes:
    """A ``message`` event carrying one encoded JSON-RPC message."""
    return b"event: message\ndata: " + payload + b"\n\n"


def endpoint_event(url: str) -> bytes:
    """The legacy HTTP+SSE transport's first event: where to POST messages."""
    return b"event: endpoint\ndata: " + url.encode("ascii") + b"\n\n"
