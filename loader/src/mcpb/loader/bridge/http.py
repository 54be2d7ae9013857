"""The bridge's ASGI application: streamable HTTP, legacy HTTP+SSE, health and readiness.

A hand-written ASGI app (no framework) so the hot path is one header scan, one body read, one
orjson parse and a queue hand-off to the router. Status codes follow the MCP streamable HTTP
transport (2025-03-26, 2025-06-18, 2025-11-25): 202 for notifications and responses, 400 for a
missing session id, a bad protocol version, malformed JSON-RPC or a batch where batches are not
allowed, 403 for a disallowed Origin, 404 for an unknown session, 405 for an unsupported method,
406 for an unusable Accept, 413 for a body over the limit, 415 for a non-JSON content type.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from mcpb.loader.bridge import jsonrpc, sse
from mcpb.loader.bridge.asgi import (
    ALLOW,
    JSON,
    REJECTED,
    TEXT,
    DisconnectedError,
    Headers,
    Receive,
    Scope,
    Send,
    accepts,
    check_shape,
    end_stream,
    never,
    parse_json,
    preflight_headers,
    pump,
    read_json_body,
    respond,
    rpc_error,
    start_stream,
)
from mcpb.loader.bridge.config import (
    BATCH_PROTOCOL_VERSIONS,
    DEFAULT_PROTOCOL_VERSION,
    HEADER_PROTOCOL_VERSIONS,
    BridgeConfig,
)
from mcpb.loader.bridge.jsonrpc import Message
from mcpb.loader.bridge.legacy import legacy_message, legacy_stream
from mcpb.loader.bridge.origin import OriginPolicy
from mcpb.loader.bridge.router import UpstreamUnavailableError
from mcpb.loader.bridge.session import Session, SessionLimitError, SessionTable
from mcpb.loader.bridge.sink import RequestSink

log = logging.getLogger("mcpb.bridge")

_UNAVAILABLE = "the MCP server is unavailable"

Handler = Callable[[str, Scope, dict[bytes, bytes], Receive, Send, Headers], Awaitable[None]]


class BridgeApp:
    """ASGI callable serving one stdio server to many HTTP clients."""

    def __init__(
        self,
        config: BridgeConfig,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        *,
        base_url: str = "",
    ) -> None:
        self.config = config
        self.sessions = SessionTable(config, command, env, cwd)
        self.endpoint_prefix = base_url.rstrip("/") + config.message_path
        self._origins = OriginPolicy(config)
        self._started = False
        self._health = frozenset(config.health_paths)
        self._routes: dict[str, Handler] = {
            config.mcp_path: self._mcp,
            config.sse_path: self._legacy_stream,
            config.message_path: self._legacy_message,
        }

    # ----------------------------------------------------------------- lifecycle

    async def startup(self) -> None:
        """Start the shared child (shared mode) and the session sweeper; idempotent."""
        if not self._started:
            self._started = True
            await self.sessions.start()

    async def shutdown(self) -> None:
        """End every session and reap every child."""
        await self.sessions.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as err:
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ----------------------------------------------------------------- dispatch

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        headers: dict[bytes, bytes] = dict(scope["headers"])
        raw_origin = headers.get(b"origin")
        origin = raw_origin.decode("latin-1") if raw_origin is not None else None
        extra = self._origins.cors_headers(origin) if self._origins.cors_enabled else []
        if path in self._health and method in ("GET", "HEAD"):
            await respond(send, 200, b"ok", TEXT, extra)
            return
        if path == self.config.ready_path and method in ("GET", "HEAD"):
            await self._ready(send, extra)
            return
        handler = self._routes.get(path)
        if handler is None:
            await respond(send, 404, b"not found", TEXT, extra)
            return
        if not self._origins.allows(origin):
            text = f"Origin {origin} is not allowed"
            await rpc_error(send, 403, None, jsonrpc.INVALID_REQUEST, text, extra)
            return
        if method == "OPTIONS":
            await respond(send, 204, b"", TEXT, [*extra, *preflight_headers()])
            return
        try:
            await handler(method, scope, headers, receive, send, extra)
        except DisconnectedError:
            return

    async def _ready(self, send: Send, extra: Headers) -> None:
        shared = self.sessions.shared
        if shared is not None:
            ok = await shared.probe()
            reason = None if ok else "the stdio server is down or not answering"
        else:
            ok = len(self.sessions) < self.config.max_sessions
            reason = None if ok else "the session limit is reached"
        body = orjson.dumps({"ready": ok, "sessions": len(self.sessions), "reason": reason})
        await respond(send, 200 if ok else 503, body, JSON, extra)

    async def _legacy_stream(
        self, method: str, scope: Scope, headers: Any, receive: Receive, send: Send, extra: Headers
    ) -> None:
        await legacy_stream(self, method, scope, headers, receive, send, extra)

    async def _legacy_message(
        self, method: str, scope: Scope, headers: Any, receive: Receive, send: Send, extra: Headers
    ) -> None:
        await legacy_message(self, method, scope, headers, receive, send, extra)

    # ----------------------------------------------------------------- streamable HTTP

    async def _mcp(
        self,
        method: str,
        scope: Scope,
        headers: dict[bytes, bytes],
        receive: Receive,
        send: Send,
        extra: Headers,
    ) -> None:
        if method == "POST":
            await self._post(headers, receive, send, extra)
        elif method == "GET":
            await self._get(headers, receive, send, extra)
        elif method == "DELETE":
            session = await self._session_for(headers, send, extra)
            if session is not None:
                self.sessions.end(session)
                await respond(send, 200, b"", TEXT, extra)
        else:
            await respond(send, 405, b"method not allowed", TEXT, [*extra, (b"allow", ALLOW)])

    async def _session_for(
        self, headers: dict[bytes, bytes], send: Send, extra: Headers
    ) -> Session | None:
        """The session named by the headers, after the version check; else answer and None."""
        raw = headers.get(b"mcp-session-id")
        if raw is None:
            text = "Mcp-Session-Id header is required"
            await rpc_error(send, 400, None, jsonrpc.INVALID_REQUEST, text, extra)
            return None
        version = headers.get(b"mcp-protocol-version")
        if version is not None and version.decode("latin-1") not in HEADER_PROTOCOL_VERSIONS:
            text = (
                f"MCP-Protocol-Version {version.decode('latin-1')!r} is not supported "
                f"(supported: {', '.join(sorted(HEADER_PROTOCOL_VERSIONS))})"
            )
            await rpc_error(send, 400, None, jsonrpc.INVALID_REQUEST, text, extra)
            return None
        session = self.sessions.get(raw.decode("latin-1"))
        if session is None or session.legacy:
            text = "session not found (unknown or ended)"
            await rpc_error(send, 404, None, jsonrpc.INVALID_REQUEST, text, extra)
            return None
        return session

    async def _post(
        self, headers: dict[bytes, bytes], receive: Receive, send: Send, extra: Headers
    ) -> None:
        body = await read_json_body(headers, receive, send, extra, self.config.max_body)
        if body is None:
            return
        wants_json, wants_sse = accepts(headers.get(b"accept"))
        if not (wants_json or wants_sse):
            text = "Accept must allow application/json or text/event-stream"
            await rpc_error(send, 406, None, jsonrpc.INVALID_REQUEST, text, extra)
            return
        message = await parse_json(body, send, extra)
        if message is REJECTED:
            return
        if isinstance(message, list):
            await self._post_batch(message, headers, send, extra)
            return
        if not await check_shape(message, send, extra):
            return
        name = message.get("method")
        if name == "server/discover" and "id" in message:
            await respond(send, 200, jsonrpc.discover_refusal(message["id"]), JSON, extra)
            return
        if name == "initialize":
            await self._initialize(message, headers, send, extra, wants_json)
            return
        session = await self._session_for(headers, send, extra)
        if session is None:
            return
        upstream = session.upstream
        try:
            if name is None:
                await upstream.forward_response(session, message)
            elif "id" not in message:
                await upstream.forward_notification(session, message)
            else:
                await self._request(session, message, receive, send, extra, wants_json, wants_sse)
                return
        except UpstreamUnavailableError:
            await rpc_error(send, 503, None, jsonrpc.SERVER_UNAVAILABLE, _UNAVAILABLE, extra)
            return
        await respond(send, 202, b"", TEXT, extra)

    async def _request(
        self,
        session: Session,
        message: Message,
        receive: Receive,
        send: Send,
        extra: Headers,
        wants_json: bool,
        wants_sse: bool,
    ) -> None:
        client_id = message["id"]
        sink = RequestSink(streaming=wants_sse)
        try:
            await session.upstream.forward_request(session, message, sink)
        except UpstreamUnavailableError:
            await rpc_error(send, 503, client_id, jsonrpc.SERVER_UNAVAILABLE, _UNAVAILABLE, extra)
            return
        first = await sink.queue.get()
        if sink.finished() and wants_json:
            await respond(send, 200, first, JSON, extra)
            return
        await start_stream(send, extra, sse.message_event(first))
        if not sink.finished():
            keepalive = self.config.keepalive_interval
            if not await pump(receive, send, sink.queue, sink.finished, keepalive):
                sink.closed = True
                return
        await end_stream(send)

    async def _initialize(
        self,
        message: Message,
        headers: dict[bytes, bytes],
        send: Send,
        extra: Headers,
        wants_json: bool,
    ) -> None:
        request_id = message.get("id")
        if request_id is None:
            text = "initialize must be a request"
            await rpc_error(send, 400, None, jsonrpc.INVALID_REQUEST, text, extra)
            return
        if b"mcp-session-id" in headers:
            text = "initialize must not carry an Mcp-Session-Id header"
            await rpc_error(send, 400, request_id, jsonrpc.INVALID_REQUEST, text, extra)
            return
        session = await self.new_session(request_id, send, extra, legacy=False)
        if session is None:
            return
        sink = RequestSink(streaming=False)
        try:
            await session.upstream.initialize(session, message, sink)
        except UpstreamUnavailableError:
            self.sessions.end(session)
            await rpc_error(send, 503, request_id, jsonrpc.SERVER_UNAVAILABLE, _UNAVAILABLE, extra)
            return
        try:
            payload = await asyncio.wait_for(sink.queue.get(), self.config.init_timeout)
        except TimeoutError:
            # A server that never answers initialize must not keep a session (and, stateful,
            # a child) alive: nobody knows its id, so nobody could end it.
            self.sessions.end(session)
            text = f"the MCP server did not answer initialize within {self.config.init_timeout}s"
            await rpc_error(send, 504, request_id, jsonrpc.SERVER_UNAVAILABLE, text, extra)
            return
        result = orjson.loads(payload).get("result")
        session_headers = list(extra)
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

    async def new_session(
        self, request_id: Any, send: Send, extra: Headers, *, legacy: bool
    ) -> Session | None:
        """A new session; at the limit or when the child cannot start, answer and None."""
        try:
            return await self.sessions.create(legacy=legacy)
        except SessionLimitError:
            text = f"too many sessions (the limit is {self.config.max_sessions}); retry later"
            retry = [*extra, (b"retry-after", b"1")]
            await rpc_error(send, 503, request_id, jsonrpc.SERVER_UNAVAILABLE, text, retry)
        except Exception as err:  # the child could not be started
            log.error("cannot start a session: %s", err)
            text = f"cannot start the MCP server: {err}"
            await rpc_error(send, 502, request_id, jsonrpc.SERVER_UNAVAILABLE, text, extra)
        return None

    async def _post_batch(
        self, batch: list[Any], headers: dict[bytes, bytes], send: Send, extra: Headers
    ) -> None:
        """JSON-RPC batches: only in protocol versions 2024-11-05 and 2025-03-26.

        The version is the header's; without one, the version the session negotiated; without
        that, 2025-03-26 (what the spec says to assume).
        """
        session = await self._session_for(headers, send, extra)
        if session is None:
            return
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
            await rpc_error(send, 400, None, jsonrpc.INVALID_REQUEST, problem, extra)
            return
        upstream = session.upstream
        sinks: list[RequestSink] = []
        try:
            for item in batch:
                if "method" not in item:
                    await upstream.forward_response(session, item)
                elif "id" not in item:
                    await upstream.forward_notification(session, item)
                else:
                    sink = RequestSink(streaming=False)
                    if item["method"] == "server/discover":
                        sink.put(jsonrpc.discover_refusal(item["id"]), final=True)
                    else:
                        await upstream.forward_request(session, item, sink)
                    sinks.append(sink)
        except UpstreamUnavailableError:
            await rpc_error(send, 503, None, jsonrpc.SERVER_UNAVAILABLE, _UNAVAILABLE, extra)
            return
        if not sinks:
            await respond(send, 202, b"", TEXT, extra)
            return
        answers = [await sink.queue.get() for sink in sinks]
        await respond(send, 200, b"[" + b",".join(answers) + b"]", JSON, extra)

    async def _get(
        self, headers: dict[bytes, bytes], receive: Receive, send: Send, extra: Headers
    ) -> None:
        """The server→client stream of a session; a newer GET replaces an older one."""
        if not accepts(headers.get(b"accept"))[1]:
            text = "Accept must allow text/event-stream"
            await rpc_error(send, 406, None, jsonrpc.INVALID_REQUEST, text, extra)
            return
        session = await self._session_for(headers, send, extra)
        if session is None:
            return
        stream = session.open_stream()
        try:
            await start_stream(send, extra, b": stream open\n\n")
            await pump(receive, send, stream, never, self.config.keepalive_interval)
            await end_stream(send)
        finally:
            session.close_stream(stream)


def create_app(
    config: BridgeConfig,
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    base_url: str = "",
) -> BridgeApp:
    """The ASGI app for ``command``; its lifespan (or ``startup()``) starts the shared child."""
    return BridgeApp(config, command, env, cwd, base_url=base_url)
