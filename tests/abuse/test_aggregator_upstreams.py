"""Hostile HTTP upstreams behind the aggregator: oversized answers, oversized SSE events,
broken HTTP. Each call gets a JSON-RPC error naming the upstream, the aggregator's memory stays
bounded, and everything else keeps serving."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.aggregator import Aggregator, aggregating, write_config
from tests.support.mcp_http import headers, initialize
from tests.support.servers import echo_command

pytestmark = pytest.mark.abuse

HUGE = 20 * 1024 * 1024  # over the aggregator's 16 MiB message limit


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, body: bytes, status: int = 200, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._json(b"", 405)

    def do_DELETE(self) -> None:
        self._json(b"", 200)

    def do_POST(self) -> None:
        message = json.loads(self.rfile.read(int(self.headers["content-length"])))
        method, rid = message.get("method"), message.get("id")
        if rid is None:
            self._json(b"", 202)
            return
        if method == "initialize":
            result = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile", "version": "1"},
            }
            body = json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}).encode()
            self._json(body, extra={"mcp-session-id": "hostile-session"})
            return
        if method == "tools/list":
            tools = [{"name": n, "inputSchema": {"type": "object"}} for n in
                     ("big", "sse_big", "garbage", "small")]  # fmt: skip
            self._json(
                json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"tools": tools}}).encode()
            )
            return
        name = (message.get("params") or {}).get("name")
        if name == "big":
            text = "x" * HUGE
            content = {"content": [{"type": "text", "text": text}]}
            self._json(json.dumps({"jsonrpc": "2.0", "id": rid, "result": content}).encode())
        elif name == "sse_big":
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            chunk = b"data: " + b"y" * (1 << 20)
            try:
                for _ in range(HUGE >> 20):
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                return  # the aggregator hung up, as it should
        elif name == "garbage":
            self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
            self.close_connection = True
        else:
            content = {"content": [{"type": "text", "text": "small"}]}
            self._json(json.dumps({"jsonrpc": "2.0", "id": rid, "result": content}).encode())


@pytest.fixture(scope="module")
def hostile_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    server.shutdown()


@pytest.fixture(scope="module")
def aggregator(hostile_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aggregator]:
    config = {
        "upstreams": {"bad": {"url": hostile_url}, "good": {"stdio": echo_command()}},
        "vmcps": {"v": {}},
    }
    with aggregating(write_config(tmp_path_factory.mktemp("hostile"), config)) as running:
        running.wait_for({"bad": "up", "good": "up"})
        yield running


def call(client: httpx.Client, url: str, session: str, name: str) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name}}
    response = client.post(url, json=body, headers=headers(session))
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.parametrize(
    ("tool", "says"),
    [
        ("big", "upstream bad sent an answer larger than 16777216 bytes"),
        ("sse_big", "upstream bad sent an SSE line longer than 16777216 bytes"),
        ("garbage", "upstream bad is unavailable: HttpClientError: invalid HTTP response"),
    ],
)
def test_a_hostile_answer_is_an_error_naming_the_upstream(
    aggregator: Aggregator, tool: str, says: str
) -> None:
    url = aggregator.url("v")
    with httpx.Client(timeout=60) as client:
        session = initialize(client, url)
        answer = call(client, url, session, f"bad__{tool}")
        assert answer["error"]["code"] == -32000
        assert answer["error"]["message"].startswith(says), answer["error"]["message"]
        assert call(client, url, session, "bad__small")["result"]["content"][0]["text"] == "small"
        assert "result" in call(client, url, session, "good__echo")
    assert rss_mib(aggregator.process.pid) < 150  # no 20 MiB answer was kept, nor two
