"""Small ASGI building blocks for the bridge: responses, bounded body reads, SSE pumping.

Kept free of MCP routing so the transports in :mod:`mcpb.loader.bridge.http` and
:mod:`mcpb.loader.bridge.legacy` read as protocol logic only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mcpb.loader.bridge import jsonrpc, sse

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON = b"application/json"
TEXT = b"text/plain"
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]
ALLOW = b"GET, POST, DELETE, OPTIONS"


class DisconnectedError(Exception):
    """The client went away before its request body was read."""


class _BodyTooLargeError(Exception):
    pass


async def respond(
    send: Send, status: int, body: bytes, content_type: bytes, extra: Headers
) -> None:
    """A complete response with a Content-Length."""
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def rpc_error(
    send: Send, status: int, request_id: Any, code: int, text: str, extra: Headers
) -> None:
    """An HTTP error whose body is a JSON-RPC error response (what MCP clients parse)."""
    await respond(send, status, jsonrpc.error_bytes(request_id, code, text), JSON, extra)


async def start_stream(send: Send, extra: Headers, first: bytes) -> None:
    """Open a ``text/event-stream`` response and send its first bytes."""
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *extra]})
    await send({"type": "http.response.body", "body": first, "more_body": True})


async def end_stream(send: Send) -> None:
    """Close a streamed response (harmless if the client already left)."""
    try:
        await send({"type": "http.response.body", "body": b""})
    except OSError:
        return


async def read_json_body(
    headers: dict[bytes, bytes], receive: Receive, send: Send, extra: Headers, limit: int
) -> bytes | None:
    """The request body when it is JSON and within ``limit``; otherwise answer and None.

    The limit is checked on Content-Length before reading and again while reading.
    """
    ctype = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    if ctype != JSON:
        text = "Content-Type must be application/json"
        await rpc_error(send, 415, None, jsonrpc.INVALID_REQUEST, text, extra)
        return None
    try:
        return await _read_body(headers, receive, limit)
    except _BodyTooLargeError:
        text = f"request body exceeds the limit of {limit} bytes"
        closing = [*extra, (b"connection", b"close")]
        await rpc_error(send, 413, None, jsonrpc.INVALID_REQUEST, text, closing)
        return None
    except ValueError:
        text = "invalid Content-Length header"
        await rpc_error(send, 400, None, jsonrpc.INVALID_REQUEST, text, extra)
        return None


async def _read_body(headers: dict[bytes, bytes], receive: Receive, limit: int) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and int(declared) > limit:
        raise _BodyTooLargeError
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise DisconnectedError
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise _BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _wait_disconnect(receive: Receive) -> None:
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
    queue: asyncio.Queue[bytes] | asyncio.Queue[bytes | None],
    finished: Callable[[], bool],
    keepalive: float,
) -> bool:
    """Relay queued messages as SSE events until ``finished()`` or a None in the queue.

    Sends a keep-alive comment whenever the stream is quiet for ``keepalive`` seconds.
    Returns False when the client disconnected first.
    """
    disconnect = asyncio.ensure_future(_wait_disconnect(receive))
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


def preflight_headers() -> Headers:
    """CORS preflight answer headers."""
    return [
        (b"access-control-allow-methods", ALLOW),
        (
            b"access-control-allow-headers",
            b"content-type, accept, authorization, mcp-session-id, mcp-protocol-version, "
            b"last-event-id",
        ),
        (b"access-control-max-age", b"600"),
    ]


#: Returned by :func:`parse_json` when the body was not JSON and the error was already sent.
REJECTED: Any = object()


async def parse_json(body: bytes, send: Send, extra: Headers) -> Any:
    """The decoded body, or :data:`REJECTED` after answering 400 with a JSON-RPC parse error."""
    try:
        return jsonrpc.loads(body)
    except ValueError as err:
        await rpc_error(send, 400, None, jsonrpc.PARSE_ERROR, f"Parse error: {err}", extra)
        return REJECTED


async def check_shape(message: Any, send: Send, extra: Headers) -> bool:
    """True for a JSON-RPC 2.0 message; otherwise answer 400 (invalid request) and False."""
    problem = jsonrpc.shape_problem(message)
    if problem is None:
        return True
    await rpc_error(send, 400, jsonrpc.id_of(message), jsonrpc.INVALID_REQUEST, problem, extra)
    return False
