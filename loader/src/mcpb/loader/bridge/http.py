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
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson

from mcpb.loader.bridge import jsonrpc, sse
from mcpb.loader.bridge.config import SUPPORTED_PROTOCOL_VERSIONS, BridgeConfig
from mcpb.loader.bridge.jsonrpc import Message
from mcpb.loader.bridge.origin import OriginPolicy
from mcpb.loader.bridge.router import UpstreamUnavailableError
from mcpb.loader.bridge.session import Session, SessionLimitError, SessionTable
from mcpb.loader.bridge.sink import RequestSink

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

log = logging.getLogger("mcpb.bridge")

_JSON = b"application/json"
_SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]
_ALLOW = b"GET, POST, DELETE, OPTIONS"
_BATCH_VERSION = "2025-03-26"


class _BodyTooLargeError(Exception):
    pass


class _DisconnectedError(Exception):
    pass


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
        self._origins = OriginPolicy(config)
        self._endpoint_prefix = base_url.rstrip("/") + config.message_path
        self._started = False
        self._health = frozenset(config.health_paths)

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
            await _respond(send, 200, b"ok", b"text/plain", extra)
            return
        if path == self.config.ready_path and method in ("GET", "HEAD"):
            await self._ready(send, extra)
            return
        route = self._route(path)
        if route is None:
            await _respond(send, 404, b"not found", b"text/plain", extra)
            return
        if not self._origins.allows(origin):
            await _rpc_error(
                send, 403, None, jsonrpc.INVALID_REQUEST, f"Origin {origin} is not allowed", extra
            )
            return
        if method == "OPTIONS":
            await _respond(send, 204, b"", b"text/plain", [*extra, *_preflight_headers()])
            return
        try:
            await route(method, scope, headers, receive, send, extra)
        except _DisconnectedError:
            return

    def _route(self, path: str) -> Callable[..., Awaitable[None]] | None:
        if path == self.config.mcp_path:
            return self._mcp
        if path == self.config.sse_path:
            return self._legacy_stream
        if path == self.config.message_path:
            return self._legacy_message
        return None

    async def _ready(self, send: Send, extra: Headers) -> None:
        shared = self.sessions.shared
        if shared is not None:
            ok = await shared.probe()
            reason = "" if ok else "the stdio server is down or not answering"
        else:
            ok = len(self.sessions) < self.config.max_sessions
            reason = "" if ok else "the session limit is reached"
        body = orjson.dumps({"ready": ok, "sessions": len(self.sessions), "reason": reason or None})
        await _respond(send, 200 if ok else 503, body, _JSON, extra)

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
                await _respond(send, 200, b"", b"text/plain", extra)
        else:
            await _respond(
                send, 405, b"method not allowed", b"text/plain", [*extra, (b"allow", _ALLOW)]
            )

    async def _session_for(
        self, headers: dict[bytes, bytes], send: Send, extra: Headers
    ) -> Session | None:
        """The session named by the headers, after the version check; else answer and None."""
        raw = headers.get(b"mcp-session-id")
        if raw is None:
            await _rpc_error(
                send, 400, None, jsonrpc.INVALID_REQUEST, "Mcp-Session-Id header is required", extra
            )
            return None
        version = headers.get(b"mcp-protocol-version")
        if version is not None and version.decode("latin-1") not in SUPPORTED_PROTOCOL_VERSIONS:
            text = (
                f"MCP-Protocol-Version {version.decode('latin-1')!r} is not supported "
                f"(supported: {', '.join(SUPPORTED_PROTOCOL_VERSIONS)})"
            )
            await _rpc_error(send, 400, None, jsonrpc.INVALID_REQUEST, text, extra)
            return None
        session = self.sessions.get(raw.decode("latin-1"))
        if session is None or session.legacy:
            await _rpc_error(
                send,
                404,
                None,
                jsonrpc.INVALID_REQUEST,
                "session not found (unknown or ended)",
                extra,
            )
            return None
        return session

    async def _post(
        self, headers: dict[bytes, bytes], receive: Receive, send: Send, extra: Headers
    ) -> None:
        body = await self._read_json_body(headers, receive, send, extra)
        if body is None:
            return
        accept = headers.get(b"accept")
        wants_json, wants_sse = _accepts(accept)
        if not (wants_json or wants_sse):
            text = "Accept must allow application/json or text/event-stream"
            await _rpc_error(send, 406, None, jsonrpc.INVALID_REQUEST, text, extra)
            return
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            await _rpc_error(send, 400, None, jsonrpc.PARSE_ERROR, f"Parse error: {err}", extra)
            return
        if isinstance(message, list):
            await self._post_batch(message, headers, send, extra)
            return
        problem = jsonrpc.shape_problem(message)
        if problem is not None:
            await _rpc_error(send, 400, _id_of(message), jsonrpc.INVALID_REQUEST, problem, extra)
            return
        name = message.get("method")
        if name == "server/discover" and "id" in message:
            await _respond(send, 200, _discover_refusal(message["id"]), _JSON, extra)
            return
        if name == "initialize":
            await self._initialize(message, headers, send, extra, wants_json)
            return
        session = await self._session_for(headers, send, extra)
        if session is None:
            return
        upstream = session.upstream
        try:
            if "method" not in message:
                await upstream.forward_response(session, message)
            elif "id" not in message:
                await upstream.forward_notification(session, message)
            else:
                await self._request(session, message, receive, send, extra, wants_json, wants_sse)
                return
        except UpstreamUnavailableError:
            await _rpc_error(
                send, 503, None, jsonrpc.SERVER_UNAVAILABLE, "the MCP server is unavailable", extra
            )
            return
        await _respond(send, 202, b"", b"text/plain", extra)

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
            await _rpc_error(
                send,
                503,
                client_id,
                jsonrpc.SERVER_UNAVAILABLE,
                "the MCP server is unavailable",
                extra,
            )
            return
        first = await sink.queue.get()
        if sink.finished() and wants_json:
            await _respond(send, 200, first, _JSON, extra)
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [*_SSE_HEADERS, *extra]}
        )
        await send(
            {"type": "http.response.body", "body": sse.message_event(first), "more_body": True}
        )
        if not sink.finished():
            completed = await self._pump(receive, send, sink.queue, sink.finished)
            if not completed:
                sink.closed = True
                return
        await send({"type": "http.response.body", "body": b""})

    async def _initialize(
        self,
        message: Message,
        headers: dict[bytes, bytes],
        send: Send,
        extra: Headers,
        wants_json: bool,
    ) -> None:
        if "id" not in message:
            await _rpc_error(
                send, 400, None, jsonrpc.INVALID_REQUEST, "initialize must be a request", extra
            )
            return
        if b"mcp-session-id" in headers:
            text = "initialize must not carry an Mcp-Session-Id header"
            await _rpc_error(send, 400, message["id"], jsonrpc.INVALID_REQUEST, text, extra)
            return
        session = await self._new_session(message["id"], send, extra, legacy=False)
        if session is None:
            return
        sink = RequestSink(streaming=False)
        try:
            await session.upstream.initialize(session, message, sink)
        except UpstreamUnavailableError:
            self.sessions.end(session)
            await _rpc_error(
                send,
                503,
                message["id"],
                jsonrpc.SERVER_UNAVAILABLE,
                "the MCP server is unavailable",
                extra,
            )
            return
        payload = await sink.queue.get()
        answer = orjson.loads(payload)
        result = answer.get("result")
        session_headers = list(extra)
        if isinstance(result, dict):
            version = result.get("protocolVersion")
            session.protocol_version = version if isinstance(version, str) else None
            session_headers.append((b"mcp-session-id", session.id.encode("ascii")))
        else:
            self.sessions.end(session)
        if wants_json:
            await _respond(send, 200, payload, _JSON, session_headers)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_SSE_HEADERS, *session_headers],
            }
        )
        await send({"type": "http.response.body", "body": sse.message_event(payload)})

    async def _new_session(
        self, request_id: Any, send: Send, extra: Headers, *, legacy: bool
    ) -> Session | None:
        try:
            return await self.sessions.create(legacy=legacy)
        except SessionLimitError:
            text = f"too many sessions (the limit is {self.config.max_sessions}); retry later"
            await _rpc_error(
                send,
                503,
                request_id,
                jsonrpc.SERVER_UNAVAILABLE,
                text,
                [*extra, (b"retry-after", b"1")],
            )
        except Exception as err:  # the child could not be started
            log.error("cannot start a session: %s", err)
            await _rpc_error(
                send,
                502,
                request_id,
                jsonrpc.SERVER_UNAVAILABLE,
                f"cannot start the MCP server: {err}",
                extra,
            )
        return None

    async def _post_batch(
        self, batch: list[Any], headers: dict[bytes, bytes], send: Send, extra: Headers
    ) -> None:
        raw_version = headers.get(b"mcp-protocol-version")
        version = raw_version.decode("latin-1") if raw_version is not None else _BATCH_VERSION
        if version != _BATCH_VERSION:
            text = f"JSON-RPC batches are not allowed in protocol version {version}"
            await _rpc_error(send, 400, None, jsonrpc.INVALID_REQUEST, text, extra)
            return
        if not batch:
            await _rpc_error(
                send, 400, None, jsonrpc.INVALID_REQUEST, "an empty batch is invalid", extra
            )
            return
        for item in batch:
            problem = jsonrpc.shape_problem(item)
            if problem is None and item.get("method") == "initialize":
                problem = "initialize must not be part of a batch"
            if problem is not None:
                await _rpc_error(
                    send, 400, None, jsonrpc.INVALID_REQUEST, f"batch: {problem}", extra
                )
                return
        session = await self._session_for(headers, send, extra)
        if session is None:
            return
        upstream = session.upstream
        sinks: list[RequestSink] = []
        try:
            for item in batch:
                if "method" not in item:
                    await upstream.forward_response(session, item)
                elif "id" not in item:
                    await upstream.forward_notification(session, item)
                elif item["method"] == "server/discover":
                    sink = RequestSink(streaming=False)
                    sink.put(_discover_refusal(item["id"]), final=True)
                    sinks.append(sink)
                else:
                    sink = RequestSink(streaming=False)
                    await upstream.forward_request(session, item, sink)
                    sinks.append(sink)
        except UpstreamUnavailableError:
            await _rpc_error(
                send, 503, None, jsonrpc.SERVER_UNAVAILABLE, "the MCP server is unavailable", extra
            )
            return
        if not sinks:
            await _respond(send, 202, b"", b"text/plain", extra)
            return
        answers = [await sink.queue.get() for sink in sinks]
        await _respond(send, 200, b"[" + b",".join(answers) + b"]", _JSON, extra)

    async def _get(
        self, headers: dict[bytes, bytes], receive: Receive, send: Send, extra: Headers
    ) -> None:
        _, wants_sse = _accepts(headers.get(b"accept"))
        if not wants_sse:
            await _rpc_error(
                send,
                406,
                None,
                jsonrpc.INVALID_REQUEST,
                "Accept must allow text/event-stream",
                extra,
            )
            return
        session = await self._session_for(headers, send, extra)
        if session is None:
            return
        stream = session.open_stream()
        try:
            await send(
                {"type": "http.response.start", "status": 200, "headers": [*_SSE_HEADERS, *extra]}
            )
            await send(
                {"type": "http.response.body", "body": b": stream open\n\n", "more_body": True}
            )
            await self._pump(receive, send, stream, _never)
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b""})
        finally:
            session.close_stream(stream)

    # ----------------------------------------------------------------- legacy HTTP+SSE

    async def _legacy_stream(
        self,
        method: str,
        scope: Scope,
        headers: dict[bytes, bytes],
        receive: Receive,
        send: Send,
        extra: Headers,
    ) -> None:
        if method != "GET":
            await _respond(
                send, 405, b"method not allowed", b"text/plain", [*extra, (b"allow", b"GET")]
            )
            return
        session = await self._new_session(None, send, extra, legacy=True)
        if session is None:
            return
        stream = session.open_stream()
        try:
            await send(
                {"type": "http.response.start", "status": 200, "headers": [*_SSE_HEADERS, *extra]}
            )
            endpoint = f"{self._endpoint_prefix}?sessionId={session.id}"
            await send(
                {
                    "type": "http.response.body",
                    "body": sse.endpoint_event(endpoint),
                    "more_body": True,
                }
            )
            await self._pump(receive, send, stream, _never)
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b""})
        finally:
            self.sessions.end(session)

    async def _legacy_message(
        self,
        method: str,
        scope: Scope,
        headers: dict[bytes, bytes],
        receive: Receive,
        send: Send,
        extra: Headers,
    ) -> None:
        if method != "POST":
            await _respond(
                send, 405, b"method not allowed", b"text/plain", [*extra, (b"allow", b"POST")]
            )
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        ids = query.get("sessionId")
        if not ids:
            await _rpc_error(
                send,
                400,
                None,
                jsonrpc.INVALID_REQUEST,
                "the sessionId query parameter is required",
                extra,
            )
            return
        session = self.sessions.get(ids[0])
        if session is None or not session.legacy:
            await _rpc_error(
                send,
                404,
                None,
                jsonrpc.INVALID_REQUEST,
                "session not found (unknown or ended)",
                extra,
            )
            return
        body = await self._read_json_body(headers, receive, send, extra)
        if body is None:
            return
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            await _rpc_error(send, 400, None, jsonrpc.PARSE_ERROR, f"Parse error: {err}", extra)
            return
        problem = jsonrpc.shape_problem(message)
        if problem is not None:
            await _rpc_error(send, 400, _id_of(message), jsonrpc.INVALID_REQUEST, problem, extra)
            return
        upstream = session.upstream
        name = message.get("method")
        try:
            if name is None:
                await upstream.forward_response(session, message)
            elif "id" not in message:
                await upstream.forward_notification(session, message)
            elif name == "server/discover":
                session.push(_discover_refusal(message["id"]))
            elif name == "initialize":
                await upstream.initialize(session, message, None)
            else:
                await upstream.forward_request(session, message, None)
        except UpstreamUnavailableError:
            if "id" in message and name is not None:
                session.push(
                    jsonrpc.error_bytes(
                        message["id"], jsonrpc.SERVER_UNAVAILABLE, "the MCP server is unavailable"
                    )
                )
        await _respond(send, 202, b"Accepted", b"text/plain", extra)

    # ----------------------------------------------------------------- shared pieces

    async def _read_json_body(
        self, headers: dict[bytes, bytes], receive: Receive, send: Send, extra: Headers
    ) -> bytes | None:
        """The request body when it is JSON and within the limit; otherwise answer and None."""
        ctype = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if ctype != _JSON:
            await _rpc_error(
                send,
                415,
                None,
                jsonrpc.INVALID_REQUEST,
                "Content-Type must be application/json",
                extra,
            )
            return None
        try:
            return await _read_body(headers, receive, self.config.max_body)
        except _BodyTooLargeError:
            text = f"request body exceeds the limit of {self.config.max_body} bytes"
            await _rpc_error(
                send, 413, None, jsonrpc.INVALID_REQUEST, text, [*extra, (b"connection", b"close")]
            )
            return None
        except ValueError:
            await _rpc_error(
                send, 400, None, jsonrpc.INVALID_REQUEST, "invalid Content-Length header", extra
            )
            return None

    async def _pump(
        self,
        receive: Receive,
        send: Send,
        queue: asyncio.Queue[bytes] | asyncio.Queue[bytes | None],
        finished: Callable[[], bool],
    ) -> bool:
        """Relay queued messages as SSE events until ``finished()`` or a None in the queue.

        Sends a keep-alive comment whenever the stream is quiet. Returns False when the client
        disconnected first.
        """
        interval = self.config.keepalive_interval
        disconnect = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            while not finished():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    (getter, disconnect), timeout=interval, return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    item = getter.result()
                    if item is None:
                        return True
                    await send(
                        {
                            "type": "http.response.body",
                            "body": sse.message_event(item),
                            "more_body": True,
                        }
                    )
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


def _never() -> bool:
    return False


def _discover_refusal(request_id: Any) -> bytes:
    text = "Method not found: server/discover (this server speaks the initialize handshake)"
    return jsonrpc.error_bytes(request_id, jsonrpc.METHOD_NOT_FOUND, text)


def _id_of(message: Any) -> Any:
    if isinstance(message, dict):
        value = message.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return value
    return None


def _accepts(accept: bytes | None) -> tuple[bool, bool]:
    """(allows JSON, allows SSE) for an Accept header; absent means anything."""
    if accept is None:
        return True, True
    wants_json = wants_sse = False
    for part in accept.lower().split(b","):
        media = part.split(b";", 1)[0].strip()
        if media in (b"*/*", b""):
            return True, True
        if media in (_JSON, b"application/*"):
            wants_json = True
        elif media in (b"text/event-stream", b"text/*"):
            wants_sse = True
    return wants_json, wants_sse


def _preflight_headers() -> Headers:
    return [
        (b"access-control-allow-methods", _ALLOW),
        (
            b"access-control-allow-headers",
            b"content-type, accept, authorization, mcp-session-id, mcp-protocol-version, "
            b"last-event-id",
        ),
        (b"access-control-max-age", b"600"),
    ]


async def _read_body(headers: dict[bytes, bytes], receive: Receive, limit: int) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and int(declared) > limit:
        raise _BodyTooLargeError
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
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


async def _respond(
    send: Send, status: int, body: bytes, content_type: bytes, extra: Headers
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _rpc_error(
    send: Send, status: int, request_id: Any, code: int, text: str, extra: Headers
) -> None:
    await _respond(send, status, jsonrpc.error_bytes(request_id, code, text), _JSON, extra)
