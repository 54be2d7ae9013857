"""A minimal streamable-HTTP MCP server that records every request's headers: what an
aggregator sends upstream (and what it must not)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorder:
    """A minimal streamable-HTTP MCP server that records every request's headers."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.methods: list[str | None] = []  # the JSON-RPC method of each, in order
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                recorder.seen.append({k.lower(): v for k, v in self.headers.items()})
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                recorder.methods.append(body.get("method"))
                if "id" not in body:
                    self.send_response(202)
                    self.end_headers()
                    return
                result: dict[str, Any] = {}
                if body["method"] == "initialize":
                    result = {
                        "protocolVersion": body["params"]["protocolVersion"],
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "recorder", "version": "1"},
                    }
                elif body["method"] == "tools/list":
                    hello = {
                        "name": "hello",
                        "inputSchema": {"type": "object"},
                        "annotations": {"readOnlyHint": True},
                    }
                    result = {"tools": [hello]}
                elif body["method"] == "tools/call":
                    result = {"content": [{"type": "text", "text": "hi"}]}
                data = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mcp"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
