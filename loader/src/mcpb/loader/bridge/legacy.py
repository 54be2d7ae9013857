"""The legacy HTTP+SSE transport (protocol 2024-11-05): ``GET /sse`` + ``POST /message``.

The SSE stream opens a session and first announces, in an ``endpoint`` event, where to POST
(``/message?sessionId=...``); every POST is answered 202 and every response, notification and
server→client request of that session travels on the stream. Closing the stream ends the
session (and, in stateful mode, stops its child).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from mcpb.loader.bridge import jsonrpc, sse
from mcpb.loader.bridge.asgi import (
    REJECTED,
    TEXT,
    Headers,
    Receive,
    Scope,
    Send,
    check_shape,
    end_stream,
    never,
    parse_json,
    pump,
    read_json_body,
    respond,
    rpc_error,
    start_stream,
)
from mcpb.loader.bridge.router import UpstreamUnavailableError

if TYPE_CHECKING:
    from mcpb.loader.bridge.http import BridgeApp


async def legacy_stream(
    app: BridgeApp,
    method: str,
    scope: Scope,
    headers: Any,
    receive: Receive,
    send: Send,
    extra: Headers,
) -> None:
    """``GET /sse``: a new session whose messages all flow on this stream."""
    if method != "GET":
        await respond(send, 405, b"method not allowed", TEXT, [*extra, (b"allow", b"GET")])
        return
    session = await app.new_session(None, send, extra, legacy=True)
    if session is None:
        return
    stream = session.open_stream()
    try:
        endpoint = f"{app.endpoint_prefix}?sessionId={session.id}"
        await start_stream(send, extra, sse.endpoint_event(endpoint))
        await pump(receive, send, stream, never, app.config.keepalive_interval)
        await end_stream(send)
    finally:
        app.sessions.end(session)


async def legacy_message(
    app: BridgeApp,
    method: str,
    scope: Scope,
    headers: Any,
    receive: Receive,
    send: Send,
    extra: Headers,
) -> None:
    """``POST /message?sessionId=...``: forward one message, answer 202."""
    if method != "POST":
        await respond(send, 405, b"method not allowed", TEXT, [*extra, (b"allow", b"POST")])
        return
    ids = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("sessionId")
    if not ids:
        text = "the sessionId query parameter is required"
        await rpc_error(send, 400, None, jsonrpc.INVALID_REQUEST, text, extra)
        return
    session = app.sessions.get(ids[0])
    if session is None or not session.legacy:
        text = "session not found (unknown or ended)"
        await rpc_error(send, 404, None, jsonrpc.INVALID_REQUEST, text, extra)
        return
    body = await read_json_body(headers, receive, send, extra, app.config.max_body)
    if body is None:
        return
    message = await parse_json(body, send, extra)
    if message is REJECTED or not await check_shape(message, send, extra):
        return
    upstream = session.upstream
    name = message.get("method")
    try:
        if name is None:
            await upstream.forward_response(session, message)
        elif "id" not in message:
            await upstream.forward_notification(session, message)
        elif name == "server/discover":
            session.push(jsonrpc.discover_refusal(message["id"]))
        elif name == "initialize":
            await upstream.initialize(session, message, None)
        else:
            await upstream.forward_request(session, message, None)
    except UpstreamUnavailableError:
        if "id" in message and name is not None:
            text = "the MCP server is unavailable"
            session.push(jsonrpc.error_bytes(message["id"], jsonrpc.SERVER_UNAVAILABLE, text))
    await respond(send, 202, b"Accepted", TEXT, extra)
