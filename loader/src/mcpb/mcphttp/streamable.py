"""The streamable HTTP transport (2025-03-26, 2025-06-18, 2025-11-25) as one ASGI endpoint.

The hot path is one header scan, one body read, one orjson parse and a hand-off to the
session's backend. Status codes follow the transport spec: 202 for notifications and
responses, 400 for a missing session id, a bad protocol version, malformed JSON-RPC or a batch
where batches are not allowed, 404 for an unknown session, 405 for an unsupported method, 406
for an unusable Accept, 413 for a body over the limit, 415 for a non-JSON content type.
Refusals are raised as :class:`~mcpb.mcphttp.errors.HTTPError` and rendered by the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from mcpb.mcphttp import jsonrpc, sse
from mcpb.mcphttp.asgi import (
    ALLOW,
    JSON,
    TEXT,
    Receive,
    Scope,
    Send,
    accepts,
    end_stream,
    never,
    parse_message,
    pump,
    read_json_body,
    respond,
    start_stream,
)
from mcpb.mcphttp.backend import BackendUnavailableError
from mcpb.mcphttp.errors import HTTPError, start_failed, unavailable
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.modern.endpoint import ModernEndpoint
from mcpb.mcphttp.modern.envelope import is_modern_request
from mcpb.mcphttp.session import Session
from mcpb.mcphttp.sessions import SessionLimitError, SessionTable
from mcpb.mcphttp.settings import HttpSettings
from mcpb.mcphttp.sink import RequestSink, reply
from mcpb.mcphttp.versions import (
    BATCH_PROTOCOL_VERSIONS,
    DEFAULT_PROTOCOL_VERSION,
    HEADER_PROTOCOL_VERSIONS,
)

log = logging.getLogger("mcpb.http")


async def open_session(
    sessions: SessionTable, settings: HttpSettings, *, legacy: bool, rpc_id: Any
) -> Session:
    """A new session; at the limit 503 with ``Retry-After``, 502 when its backend cannot start."""
    try:
        return await sessions.create(legacy=legacy)
    except SessionLimitError:
        text = f"too many sessions (the limit is {settings.max_sessions}); retry later"
        raise unavailable(rpc_id, text) from None
    except Exception as err:  # the backend could not be started
        log.error("cannot start a session: %s", err)
        raise start_failed(rpc_id, err) from None


class StreamableEndpoint:
    """``POST|GET|DELETE|OPTIONS`` on the MCP path, for every session of one table."""

    def __init__(self, sessions: SessionTable, settings: HttpSettings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.modern = ModernEndpoint(sessions, settings) if settings.modern else None

    def close(self) -> None:
        """End what the 2026-07-28 era keeps open (listen streams, calls waiting for input)."""
        if self.modern is not None:
            self.modern.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        headers: dict[bytes, bytes] = dict(scope["headers"])
        if method == "POST":
            await self._post(scope, headers, receive, send)
        elif self.modern is not None and is_modern_request(
            headers.get(b"mcp-protocol-version"), None
        ):
            # 2026-07-28 is POST only: no GET stream, no session to DELETE.
            raise HTTPError(405, "method not allowed", plain=True, headers=[(b"allow", b"POST")])
        elif method == "GET":
            await self._get(headers, receive, send)
        elif method == "DELETE":
            session = self._session_for(headers)
            self.sessions.end(session)
            await respond(send, 200, b"", TEXT)
        else:
            raise HTTPError(405, "method not allowed", plain=True, headers=[(b"allow", ALLOW)])

    def _session_for(self, headers: dict[bytes, bytes]) -> Session:
        """The session named by the headers, after the version check."""
        raw = headers.get(b"mcp-session-id")
        if raw is None:
            raise HTTPError(400, "Mcp-Session-Id header is required")
        version = headers.get(b"mcp-protocol-version")
        if version is not None and version.decode("latin-1") not in HEADER_PROTOCOL_VERSIONS:
            raise HTTPError(
                400,
                f"MCP-Protocol-Version {version.decode('latin-1')!r} is not supported "
                f"(supported: {', '.join(sorted(HEADER_PROTOCOL_VERSIONS))})",
            )
        session = self.sessions.get(raw.decode("latin-1"))
        if session is None or session.legacy:
            raise HTTPError(404, "session not found (unknown or ended)")
        return session

    async def _post(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Receive, send: Send
    ) -> None:
        body = await read_json_body(headers, receive, self.settings.max_body)
        message = parse_message(body)
        if self.modern is not None and is_modern_request(
            headers.get(b"mcp-protocol-version"), message
        ):
            await self.modern.post(scope, headers, message, receive, send)
            return
        wants_json, wants_sse = accepts(headers.get(b"accept"))
        if not (wants_json or wants_sse):
            raise HTTPError(406, "Accept must allow application/json or text/event-stream")
        if isinstance(message, list):
            await self._post_batch(message, headers, send)
            return
        name = message.get("method")
        if name == "server/discover" and "id" in message:
            await respond(send, 200, jsonrpc.discover_refusal(message["id"]), JSON)
            return
        if name == "initialize":
            await self._initialize(message, headers, send, wants_json)
            return
        session = self._session_for(headers)
        backend = self.sessions.backend_of(session)
        try:
            if name is None:
                await backend.forward_response(session, message)
            elif "id" not in message:
                await backend.forward_notification(session, message)
            else:
                await self._request(session, message, receive, send, wants_json, wants_sse)
                return
        except BackendUnavailableError as err:
            raise unavailable(None, err) from None
        await respond(send, 202, b"", TEXT)

    async def _request(
        self,
        session: Session,
        message: Message,
        receive: Receive,
        send: Send,
        wants_json: bool,
        wants_sse: bool,
    ) -> None:
        """Forward a request and answer it; a client that leaves first has it abandoned.

        While the answer is awaited the session counts as busy (a client is waiting). A client
        that disconnects, or lets interim messages pile up past its buffer, has the request
        abandoned in the backend (which cancels it in the server) instead of forgotten.
        """
        client_id = message["id"]
        sink = RequestSink(streaming=wants_sse, limit=self.settings.max_buffer)
        backend = self.sessions.backend_of(session)
        session.exchanges += 1
        try:
            try:
                await backend.forward_request(session, message, sink)
            except BackendUnavailableError as err:
                raise unavailable(client_id, err) from None
            await reply(
                sink,
                receive,
                send,
                json_ok=wants_json,
                keepalive=self.settings.keepalive_interval,
                status=_ok,
                abandon=lambda why: backend.abandon(session, client_id, why),
            )
        finally:
            session.exchanges -= 1
            session.last_seen = time.monotonic()

    async def _initialize(
        self, message: Message, headers: dict[bytes, bytes], send: Send, wants_json: bool
    ) -> None:
        request_id = message.get("id")
        if request_id is None:
            raise HTTPError(400, "initialize must be a request")
        if b"mcp-session-id" in headers:
            raise HTTPError(
                400, "initialize must not carry an Mcp-Session-Id header", rpc_id=request_id
            )
        session = await open_session(self.sessions, self.settings, legacy=False, rpc_id=request_id)
        sink = RequestSink(streaming=False, limit=self.settings.max_buffer)
        try:
            await self.sessions.backend_of(session).initialize(session, message, sink)
        except BackendUnavailableError as err:
            self.sessions.end(session)
            raise unavailable(request_id, err) from None
        timeout = self.settings.init_timeout
        try:
            payload = await asyncio.wait_for(sink.queue.get(), timeout)
        except TimeoutError:
            # A server that never answers initialize must not keep a session (and maybe a
            # backend of its own) alive: nobody knows its id, so nobody could end it.
            self.sessions.end(session)
            text = f"the MCP server did not answer initialize within {timeout}s"
            raise HTTPError(504, text, rpc_id=request_id, code=jsonrpc.SERVER_UNAVAILABLE) from None
        if payload is None:
            self.sessions.end(session)
            raise unavailable(request_id)
        result = orjson.loads(payload).get("result")
        session_headers = []
        if isinstance(result, dict):
            version = result.get("protocolVersion")
            session.protocol_version = version if isinstance(version, str) else None
            session_headers.append((b"mcp-session-id", session.id.encode("ascii")))
        else:
            self.sessions.end(session)
        if wants_json:
            await respond(send, 200, payload, JSON, session_headers)
            return
        await start_stream(send, session_headers, sse.message_event(payload))
        await end_stream(send)

    async def _post_batch(self, batch: list[Any], headers: dict[bytes, bytes], send: Send) -> None:
        """JSON-RPC batches: only in protocol versions 2024-11-05 and 2025-03-26.

        The version is the header's; without one, the version the session negotiated; without
        that, 2025-03-26 (what the spec says to assume).
        """
        session = self._session_for(headers)
        raw_version = headers.get(b"mcp-protocol-version")
        if raw_version is not None:
            version = raw_version.decode("latin-1")
        else:
            version = session.protocol_version or DEFAULT_PROTOCOL_VERSION
        problem = None
        if version not in BATCH_PROTOCOL_VERSIONS:
            problem = f"JSON-RPC batches are not allowed in protocol version {version}"
        elif not batch:
            problem = "an empty batch is invalid"
        for item in batch:
            if problem is not None:
                break
            problem = jsonrpc.shape_problem(item)
            if problem is None and item.get("method") == "initialize":
                problem = "initialize must not be part of a batch"
        if problem is not None:
            raise HTTPError(400, problem)
        backend = self.sessions.backend_of(session)
        sinks: list[RequestSink] = []
        try:
            for item in batch:
                if "method" not in item:
                    await backend.forward_response(session, item)
                elif "id" not in item:
                    await backend.forward_notification(session, item)
                else:
                    sink = RequestSink(streaming=False, limit=self.settings.max_buffer)
                    if item["method"] == "server/discover":
                        sink.put(jsonrpc.discover_refusal(item["id"]), final=True)
                    else:
                        await backend.forward_request(session, item, sink)
                    sinks.append(sink)
        except BackendUnavailableError as err:
            raise unavailable(None, err) from None
        if not sinks:
            await respond(send, 202, b"", TEXT)
            return
        answers = [await _final(sink) for sink in sinks]
        await respond(send, 200, b"[" + b",".join(answers) + b"]", JSON)

    async def _get(self, headers: dict[bytes, bytes], receive: Receive, send: Send) -> None:
        """The server→client stream of a session; a newer GET replaces an older one."""
        if not accepts(headers.get(b"accept"))[1]:
            raise HTTPError(406, "Accept must allow text/event-stream")
        session = self._session_for(headers)
        stream = session.open_stream()
        try:
            await start_stream(send, None, b": stream open\n\n")
            await pump(receive, send, stream, never, self.settings.keepalive_interval)
            await end_stream(send)
        finally:
            session.close_stream(stream)


async def _final(sink: RequestSink) -> bytes:
    """A batched request's answer (its sink does not stream: the answer is all it gets)."""
    return await sink.queue.get() or b"null"


def _ok() -> int:
    return 200
