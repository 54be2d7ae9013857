"""CORS as middleware: response headers added by wrapping ``send``, nothing threaded through.

With CORS enabled (a list of origins, ``*`` for all), every response to a request that carries
an Origin gets ``Access-Control-Allow-Origin`` (the origin itself, or ``*``), the MCP headers a
browser script may read, and ``Vary: Origin``. Whether the Origin may talk to the server at all
is :mod:`mcpb.mcphttp.guard`'s decision; preflight answers come from the endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from mcpb.mcphttp.asgi import ASGIApp, Receive, Scope, Send

EXPOSED = b"mcp-session-id, mcp-protocol-version"
PREFLIGHT_HEADERS = [
    (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
    (
        b"access-control-allow-headers",
        b"content-type, accept, authorization, mcp-session-id, mcp-protocol-version, last-event-id",
    ),
    (b"access-control-max-age", b"600"),
]


class CorsMiddleware:
    """Adds CORS response headers for the listed origins (``*``: all)."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        listed = {o.rstrip("/").lower() for o in origins}
        self._all = "*" in listed
        self._listed = frozenset(listed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allow = b"*" if self._all else origin
        if not self._all and origin.decode("latin-1").rstrip("/").lower() not in self._listed:
            # Not a listed origin: no CORS headers (a browser will then block the response).
            await self.app(scope, receive, send)
            return
        added = [
            (b"access-control-allow-origin", allow),
            (b"access-control-expose-headers", EXPOSED),
            (b"vary", b"origin"),
        ]

        async def send_with_cors(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None
