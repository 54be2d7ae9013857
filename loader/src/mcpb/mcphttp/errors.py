"""HTTP errors raised anywhere below the app and rendered once, by the app itself.

Endpoints raise :class:`HTTPError` instead of writing error responses themselves, so every
refusal has the same shape: a JSON-RPC error body (what MCP clients parse) with the status,
unless the error carries a plain-text body (404 for unknown paths, 405 with ``Allow``).
"""

from __future__ import annotations

from typing import Any

from mcpb.mcphttp import jsonrpc

Headers = list[tuple[bytes, bytes]]


class HTTPError(Exception):
    """Answer the request with ``status`` and stop handling it.

    ``rpc_id`` and ``code`` fill the JSON-RPC error body; ``plain=True`` sends ``text`` as
    ``text/plain`` instead. ``headers`` are added to the response (``Retry-After``, ``Allow``).
    """

    def __init__(
        self,
        status: int,
        text: str,
        *,
        rpc_id: Any = None,
        code: int = jsonrpc.INVALID_REQUEST,
        headers: Headers | None = None,
        plain: bool = False,
    ) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.rpc_id = rpc_id
        self.code = code
        self.headers = headers or []
        self.plain = plain

    def body(self) -> tuple[bytes, bytes]:
        """(content type, body) of the response."""
        if self.plain:
            return b"text/plain", self.text.encode("utf-8")
        return b"application/json", jsonrpc.error_bytes(self.rpc_id, self.code, self.text)


class DisconnectedError(Exception):
    """The client went away before its request was read: nothing is left to answer."""
