"""The loader's reverse proxy for HTTP bundles: streaming, headers, bodies, health, disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mcpb.loader.proxy import ProxyApp
from mcpb.mcphttp.serve import serve_app


class Upstream:
    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.disconnected = threading.Event()
        self.port = 0


@contextmanager
def upstream_server() -> Iterator[Upstream]:
    state = Upstream()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.seen.append(
                {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if self.path.startswith("/endless"):
                try:
                    for i in range(200):
                        self.wfile.write(f"data: {i}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(0.05)
                except (BrokenPipeError, ConnectionResetError):
                    state.disconnected.set()
                return
            self.wfile.write(b"data: 1\n\n")
            self.wfile.flush()
            time.sleep(0.8)
            self.wfile.write(b"data: 2\n\n")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.seen.append(
                {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
            )
            out = json.dumps({"len": len(body), "sha": hash(body)}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.send_header("X-Upstream", "yes")
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@asynccontextmanager
async def proxy(upstream_port: int, alive: bool = True) -> AsyncIterator[str]:
    app = ProxyApp("127.0.0.1", upstream_port, is_alive=lambda: alive, connect_wait=0.5)
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_app(app, "127.0.0.1", 0, listening=lambda _host, port: bound.set_result(port))
    )
    port = await asyncio.wait_for(bound, 10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


def test_sse_streams_chunk_by_chunk_with_rewritten_host() -> None:
    async def scenario() -> None:
        with upstream_server() as up:
            async with proxy(up.port) as base, httpx.AsyncClient(timeout=10) as client:
                started = time.monotonic()
                async with client.stream("GET", f"{base}/mcp?x=1") as resp:
                    assert resp.status_code == 200
                    assert resp.headers["content-type"] == "text/event-stream"
                    chunks = resp.aiter_raw()
                    first = await chunks.__anext__()
                    first_at = time.monotonic() - started
                    rest = b"".join([c async for c in chunks])
                assert first == b"data: 1\n\n"
                assert first_at < 0.7  # arrived before the upstream finished (0.8 s later)
                assert rest == b"data: 2\n\n"
                seen = up.seen[0]
                assert seen["path"] == "/mcp?x=1"
                assert seen["host"] == f"127.0.0.1:{up.port}"
                assert seen["x-forwarded-host"] == base.removeprefix("http://")

    asyncio.run(scenario())


def test_post_body_status_and_headers_pass_through() -> None:
    async def scenario() -> None:
        with upstream_server() as up:
            async with proxy(up.port) as base, httpx.AsyncClient(timeout=10) as client:
                body = bytes(range(256)) * 4096  # 1 MiB
                resp = await client.post(f"{base}/mcp", content=body, headers={"X-A": "b"})
                assert resp.status_code == 201
                assert resp.headers["x-upstream"] == "yes"
                assert resp.json() == {"len": len(body), "sha": hash(body)}
                assert up.seen[0]["x-a"] == "b"

    asyncio.run(scenario())


def test_client_disconnect_closes_the_upstream_stream() -> None:
    async def scenario() -> None:
        with upstream_server() as up:
            async with proxy(up.port) as base, httpx.AsyncClient(timeout=10) as client:
                async with client.stream("GET", f"{base}/endless") as resp:
                    chunks = resp.aiter_raw()
                    assert (await chunks.__anext__()).startswith(b"data: 0")
                # the client left: the upstream write fails soon after
                ok = await asyncio.to_thread(up.disconnected.wait, 5)
                assert ok

    asyncio.run(scenario())


@pytest.mark.parametrize("alive", [True, False])
def test_health_ready_and_dead_upstream(alive: bool) -> None:
    async def scenario() -> None:
        with upstream_server() as up:
            port = up.port
        # the upstream is gone now
        async with proxy(port, alive=alive) as base, httpx.AsyncClient(timeout=10) as client:
            health = await client.get(f"{base}/health")
            assert health.status_code == (200 if alive else 503)
            ready = await client.get(f"{base}/ready")
            assert ready.status_code == 503
            body = ready.json()
            assert body["ready"] is False and body["sessions"] is None
            expected = "does not accept connections" if alive else "not running"
            assert expected in body["reason"]
            resp = await client.post(f"{base}/mcp", content=b"{}")
            assert resp.status_code == 502
            assert "upstream" in resp.json()["error"]

    asyncio.run(scenario())
