"""A small streaming reverse proxy for bundles that are HTTP servers themselves.

The bundle's server listens on an internal loopback port; this ASGI app listens on ``PORT``
and forwards every request as it is, except two paths it answers itself: ``/health`` (the
loader is up and the server process is alive) and ``/ready`` (the server accepts connections).
Bodies stream both ways chunk by chunk, so SSE responses (the MCP GET stream, streaming POST
answers) reach the client as they are produced, and a client that disconnects closes the
upstream connection, which the server sees as the end of that stream.

The upstream side speaks HTTP/1.1 through :mod:`h11` (already a dependency of uvicorn) over one
connection per request: loopback connects are cheap, and it keeps the proxy free of pooling
state. ``Host`` is rewritten to the upstream address, because servers bound to loopback (the
MCP SDK's DNS-rebinding protection) accept only loopback hosts; the original goes in
``X-Forwarded-Host``. Origin checks stay with the server. ``/health`` and ``/ready`` are the
transport core's endpoints, so their bodies are the same as the bridge's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import h11
import orjson

from mcpb.mcphttp.asgi import JSON, Receive, Scope, Send, respond, wait_disconnect
from mcpb.mcphttp.health import HealthEndpoint, Readiness, ReadyEndpoint

log = logging.getLogger("mcpb.loader.proxy")

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)
READ_SIZE = 1 << 16


class ProxyApp:
    """ASGI app: the loader's health endpoints, everything else forwarded upstream."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        is_alive: Callable[[], bool],
        health_path: str = "/health",
        ready_path: str = "/ready",
        connect_wait: float = 10.0,
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.is_alive = is_alive
        self.health_path = health_path
        self.ready_path = ready_path
        self.connect_wait = connect_wait
        self._health = HealthEndpoint(is_alive)
        self._ready = ReadyEndpoint(self.readiness)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":  # websockets are not part of MCP
            await send({"type": "websocket.close", "code": 1003})
            return
        path = scope["path"]
        if path == self.health_path:
            await self._health(scope, receive, send)
        elif path == self.ready_path:
            await self._ready(scope, receive, send)
        else:
            await self._forward(scope, receive, send)

    async def readiness(self) -> Readiness:
        """Ready while the server process lives and accepts connections."""
        if not self.is_alive():
            return Readiness(False, None, "the server process is not running")
        if not await self._probe():
            return Readiness(False, None, "the server does not accept connections")
        return Readiness(True)

    async def _probe(self) -> bool:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port), 2.0
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect upstream, waiting up to ``connect_wait`` while the server is starting."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_wait
        while True:
            try:
                return await asyncio.open_connection(self.upstream_host, self.upstream_port)
            except OSError:
                if loop.time() >= deadline or not self.is_alive():
                    raise
                await asyncio.sleep(0.05)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            reader, writer = await self._connect()
        except OSError as err:
            await _json(send, 502, {"error": f"upstream server unreachable: {err.strerror}"})
            return
        started = False
        try:
            conn = h11.Connection(h11.CLIENT)
            await self._send_request(scope, receive, conn, writer)
            disconnect = asyncio.ensure_future(wait_disconnect(receive))
            relay = asyncio.ensure_future(self._relay_response(conn, reader, send))
            done, _ = await asyncio.wait({disconnect, relay}, return_when=asyncio.FIRST_COMPLETED)
            if relay in done:
                disconnect.cancel()
                started = relay.result()
            else:
                relay.cancel()
                started = True  # the client is gone: nothing more to send it
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await relay
        except (OSError, h11.ProtocolError) as err:
            log.warning("proxy: %s %s: upstream error: %s", scope["method"], scope["path"], err)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if not started:
            await _json(send, 502, {"error": "upstream server closed the connection"})

    async def _send_request(
        self, scope: Scope, receive: Receive, conn: h11.Connection, writer: asyncio.StreamWriter
    ) -> None:
        headers = _request_headers(
            scope, f"{self.upstream_host}:{self.upstream_port}".encode("ascii")
        )
        names = {name for name, _ in headers}
        original = {name.lower() for name, _ in scope["headers"]}
        if b"content-length" not in names and b"transfer-encoding" in original:
            headers.append((b"transfer-encoding", b"chunked"))
        target = scope.get("raw_path") or scope["path"].encode("utf-8")
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        request = h11.Request(method=scope["method"], target=target, headers=headers)
        writer.write(conn.send(request) or b"")
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionAbortedError("client disconnected during the request body")
            body = message.get("body", b"")
            if body:
                writer.write(conn.send(h11.Data(data=body)) or b"")
                await writer.drain()
            more = message.get("more_body", False)
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()

    async def _relay_response(
        self, conn: h11.Connection, reader: asyncio.StreamReader, send: Send
    ) -> bool:
        """Stream the upstream response to the client; True once the response has started."""
        started = False
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(READ_SIZE))
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                headers = [(k, v) for k, v in event.headers if k.lower() not in HOP_BY_HOP]
                await send(
                    {"type": "http.response.start", "status": event.status_code, "headers": headers}
                )
                started = True
            elif isinstance(event, h11.Data):
                await send(
                    {"type": "http.response.body", "body": bytes(event.data), "more_body": True}
                )
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                if started:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return started


def _request_headers(scope: Scope, upstream: bytes) -> list[tuple[bytes, bytes]]:
    """The headers sent upstream: hop-by-hop ones dropped, ``Host`` rewritten, forwarding
    headers added. The real peer address is *appended* to an ``X-Forwarded-For`` the client
    sent (as proxies do), never replaced by it, so the last entry is always true."""
    headers: list[tuple[bytes, bytes]] = [(b"host", upstream)]
    original_host = b""
    forwarded_for: list[bytes] = []
    for name, value in scope["headers"]:
        lname = name.lower()
        if lname == b"host":
            original_host = value
        elif lname == b"x-forwarded-for":
            forwarded_for.append(value)
            continue
        if lname in HOP_BY_HOP:
            continue
        headers.append((lname, value))
    if original_host:
        headers.append((b"x-forwarded-host", original_host))
    client = scope.get("client")
    if client:
        forwarded_for.append(str(client[0]).encode("ascii", "replace"))
    if forwarded_for:
        headers.append((b"x-forwarded-for", b", ".join(forwarded_for)))
    headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode("ascii")))
    headers.append((b"connection", b"close"))
    return headers


async def _json(send: Send, status: int, body: object) -> None:
    await respond(send, status, orjson.dumps(body), JSON)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
