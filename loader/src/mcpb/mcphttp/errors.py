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

    ``rpc_id``, ``code`` and ``data`` fill the JSON-RPC error body; ``plain=True`` sends ``text`` as
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
        data: Any = None,
    ) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.rpc_id = rpc_id
        self.code = code
        self.headers = headers or []
        self.plain = plain
        self.data = data

    def body(self) -> tuple[bytes, bytes]:
        """(content type, body) of the response."""
        if self.plain:
            return b"text/plain", self.text.encode("utf-8")
        body = jsonrpc.error(self.rpc_id, self.code, self.text, self.data)
        return b"application/json", jsonrpc.dumps(body)


class DisconnectedError(Exception):
    """The client went away before its request was read: nothing is left to answer."""


UNAVAILABLE = "the MCP server is unavailable"


def unavailable(rpc_id: Any = None, why: BaseException | str | None = None) -> HTTPError:
    """503 with ``Retry-After``: the message cannot be taken now (why, when there is a reason:
    the backend's error, or a limit reached)."""
    text = str(why) if why is not None and str(why) else UNAVAILABLE
    return HTTPError(
        503, text, rpc_id=rpc_id, code=jsonrpc.SERVER_UNAVAILABLE, headers=[(b"retry-after", b"1")]
    )


def start_failed(rpc_id: Any, err: BaseException) -> HTTPError:
    """502: the MCP server a request needs could not be started."""
    text = f"cannot start the MCP server: {err}"
    return HTTPError(502, text, rpc_id=rpc_id, code=jsonrpc.SERVER_UNAVAILABLE)
