"""Drive an ASGI app directly, in this event loop: no sockets, no subprocess.

:func:`call` sends one request and collects the response; with ``until`` it reads a streamed
body until that predicate holds on what arrived, then disconnects like a client that leaves;
``leave_after`` disconnects after that many seconds whatever arrived. ``read=False`` is a
client that never reads: the first body chunk blocks its sender until the client leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return orjson.loads(self.body)


async def call(
    app: Any,
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: Mapping[str, str | list[str]] | None = None,
    root_path: str = "",
    query: bytes = b"",
    until: Callable[[bytes], bool] | None = None,
    leave_after: float | None = None,
    read: bool = True,
    state: dict[str, Any] | None = None,
) -> Reply:
    raw = b"" if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
    sent: dict[str, str | list[str]] = {
        "host": "127.0.0.1:8000",
        "content-type": "application/json",
    }
    sent.update(headers or {})
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": root_path,
        "query_string": query,
        "state": dict(state or {}),
        "headers": [
            (k.lower().encode(), v.encode())
            for k, values in sent.items()
            for v in (values if isinstance(values, list) else [values])
        ],
    }
    reply = Reply()
    left = asyncio.Event()
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    if leave_after is not None:
        asyncio.get_running_loop().call_later(leave_after, left.set)

    async def send(message: dict[str, Any]) -> None:
        if not read and message["type"] == "http.response.body":
            await left.wait()
            raise OSError("the client is gone")
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            reply.body += message.get("body", b"")
            if until is not None and until(reply.body):
                left.set()

    await asyncio.wait_for(app(scope, receive, send), 10)
    return reply
