"""Small ASGI building blocks: responses, bounded body reads, Accept parsing, SSE pumping.

Kept free of MCP routing so the endpoints read as protocol logic only. Problems with the
request raise :class:`~mcpb.mcphttp.errors.HTTPError`; nothing here writes an error response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mcpb.mcphttp import jsonrpc, sse
from mcpb.mcphttp.buffer import ByteQueue
from mcpb.mcphttp.errors import DisconnectedError, Headers, HTTPError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


JSON = b"application/json"
TEXT = b"text/plain"
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]
ALLOW = b"GET, POST, DELETE, OPTIONS"


async def respond(
    send: Send, status: int, body: bytes, content_type: bytes, extra: Headers | None = None
) -> None:
    """A complete response with a Content-Length."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def start_stream(send: Send, extra: Headers | None, first: bytes) -> None:
    """Open a ``text/event-stream`` response and send its first bytes."""
    headers = [*SSE_HEADERS, *extra] if extra else SSE_HEADERS
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": first, "more_body": True})


async def end_stream(send: Send) -> None:
    """Close a streamed response (harmless if the client already left)."""
    try:
        await send({"type": "http.response.body", "body": b""})
    except OSError:
        return


async def read_json_body(headers: dict[bytes, bytes], receive: Receive, limit: int) -> bytes:
    """The request body when it is JSON and within ``limit`` bytes.

    The limit is checked on Content-Length before reading and again while reading; a body over
    it is refused with 413 and ``Connection: close`` (the rest of it is never read).
    """
    ctype = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    if ctype != JSON:
        raise HTTPError(415, "Content-Type must be application/json")
    declared = headers.get(b"content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPError(400, "invalid Content-Length header") from None
        if size > limit:
            raise _too_large(limit)
    return await read_body(receive, limit)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, of any type; 413 with ``Connection: close`` past ``limit``
    bytes, :class:`DisconnectedError` when the client leaves first."""
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise DisconnectedError
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> HTTPError:
    return HTTPError(
        413,
        f"request body exceeds the limit of {limit} bytes",
        headers=[(b"connection", b"close")],
    )


def parse_message(body: bytes) -> Any:
    """The decoded body: one JSON-RPC message of the right shape, or a list (a batch).

    Raises 400 with a parse error for bad JSON and an invalid-request error for a wrong shape.
    """
    try:
        message = jsonrpc.loads(body)
    except ValueError as err:
        raise HTTPError(400, f"Parse error: {err}", code=jsonrpc.PARSE_ERROR) from None
    if isinstance(message, list):
        return message
    problem = jsonrpc.shape_problem(message)
    if problem is not None:
        raise HTTPError(400, problem, rpc_id=jsonrpc.id_of(message))
    return message


def accepts(accept: bytes | None) -> tuple[bool, bool]:
    """(allows JSON, allows SSE) for an Accept header; absent means anything."""
    if accept is None:
        return True, True
    wants_json = wants_sse = False
    for part in accept.lower().split(b","):
        media = part.split(b";", 1)[0].strip()
        if media in (b"*/*", b""):
            return True, True
        if media in (JSON, b"application/*"):
            wants_json = True
        elif media in (b"text/event-stream", b"text/*"):
            wants_sse = True
    return wants_json, wants_sse


async def wait_disconnect(receive: Receive) -> None:
    """Return once the client has gone (the request body must have been read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def never() -> bool:
    """A ``finished`` predicate for streams that end only by a None or a disconnect."""
    return False


async def pump(
    receive: Receive,
    send: Send,
    queue: ByteQueue,
    finished: Callable[[], bool],
    keepalive: float,
) -> bool:
    """Relay queued messages as SSE events until ``finished()`` or the queue's end.

    Sends a keep-alive comment whenever the stream is quiet for ``keepalive`` seconds.
    Returns False when the client disconnected first.
    """
    disconnect = asyncio.ensure_future(wait_disconnect(receive))
    try:
        while not finished():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                (getter, disconnect), timeout=keepalive, return_when=asyncio.FIRST_COMPLETED
            )
            if getter in done:
                item = getter.result()
                if item is None:
                    return True
                body = sse.message_event(item)
                await send({"type": "http.response.body", "body": body, "more_body": True})
                continue
            getter.cancel()
            if disconnect in done:
                return False
            await send({"type": "http.response.body", "body": sse.KEEPALIVE, "more_body": True})
        return True
    except OSError:
        return False
    finally:
        disconnect.cancel()
