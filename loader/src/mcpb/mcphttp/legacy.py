"""The legacy HTTP+SSE transport (protocol 2024-11-05): ``GET /sse`` + ``POST /message``.

The SSE stream opens a session and first announces, in an ``endpoint`` event, where to POST
(``/message?sessionId=...``); every POST is answered 202 and every response, notification and
server→client request of that session travels on the stream. Closing the stream ends the
session (and a backend of its own). Both endpoints share the session table with the
streamable endpoint; the ``endpoint`` URL honours the app's mount prefix (``root_path``).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from mcpb.mcphttp import jsonrpc, sse
from mcpb.mcphttp.asgi import (
    TEXT,
    Receive,
    Scope,
    Send,
    end_stream,
    never,
    parse_message,
    pump,
    read_json_body,
    respond,
    start_stream,
)
from mcpb.mcphttp.backend import BackendUnavailableError
from mcpb.mcphttp.errors import UNAVAILABLE, HTTPError
from mcpb.mcphttp.sessions import SessionTable
from mcpb.mcphttp.settings import HttpSettings
from mcpb.mcphttp.streamable import open_session


class LegacyStreamEndpoint:
    """``GET /sse``: a new session whose messages all flow on this stream."""

    def __init__(self, sessions: SessionTable, settings: HttpSettings) -> None:
        self.sessions = sessions
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "GET":
            raise HTTPError(405, "method not allowed", plain=True, headers=[(b"allow", b"GET")])
        session = await open_session(self.sessions, self.settings, legacy=True, rpc_id=None)
        stream = session.open_stream()
        try:
            prefix = self.settings.base_url.rstrip("/") + scope.get("root_path", "")
            endpoint = f"{prefix}{self.settings.message_path}?sessionId={session.id}"
            await start_stream(send, None, sse.endpoint_event(endpoint))
            await pump(receive, send, stream, never, self.settings.keepalive_interval)
            await end_stream(send)
        finally:
            self.sessions.end(session)


class LegacyMessageEndpoint:
    """``POST /message?sessionId=...``: forward one message, answer 202."""

    def __init__(self, sessions: SessionTable, settings: HttpSettings) -> None:
        self.sessions = sessions
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            raise HTTPError(405, "method not allowed", plain=True, headers=[(b"allow", b"POST")])
        ids = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("sessionId")
        if not ids:
            raise HTTPError(400, "the sessionId query parameter is required")
        session = self.sessions.get(ids[0])
        if session is None or not session.legacy:
            raise HTTPError(404, "session not found (unknown or ended)")
        headers: dict[bytes, bytes] = dict(scope["headers"])
        message = parse_message(await read_json_body(headers, receive, self.settings.max_body))
        if isinstance(message, list):
            raise HTTPError(400, "JSON-RPC batches are not allowed on the legacy transport")
        backend = self.sessions.backend_of(session)
        name = message.get("method")
        try:
            if name is None:
                await backend.forward_response(session, message)
            elif "id" not in message:
                await backend.forward_notification(session, message)
            elif name == "server/discover":
                session.push(jsonrpc.discover_refusal(message["id"]))
            elif name == "initialize":
                await backend.initialize(session, message, None)
            else:
                await backend.forward_request(session, message, None)
        except BackendUnavailableError as err:
            if "id" in message and name is not None:
                text = str(err) or UNAVAILABLE
                session.push(jsonrpc.error_bytes(message["id"], jsonrpc.SERVER_UNAVAILABLE, text))
        await respond(send, 202, b"Accepted", TEXT)
