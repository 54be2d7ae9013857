"""A real loopback HTTP file server with scripted faults, for download tests.

Each request takes the next action from a plan: serve normally (honouring ``Range`` when
enabled), answer 500/404, cut the connection mid-body (TCP reset), stall before answering,
trickle the body a byte at a time, or redirect (also to a URL whose port is not a number).
Requests are recorded so tests can assert what the client actually sent.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class FaultyServer:
    """State shared with the handler thread."""

    body: bytes
    plan: list[str] = field(default_factory=list)
    supports_range: bool = True
    etag: str | None = '"v1"'
    send_length: bool = True
    stall: float = 2.0
    trickle: float = 0.05  # seconds between bytes of a "trickle" response
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def next_action(self) -> str:
        return self.plan.pop(0) if self.plan else "ok"


def _handler(state: FaultyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append({"path": self.path, **dict(self.headers.items())})
            action = state.next_action()
            if action == "500":
                self.send_error(500, "Boom")
            elif action == "404":
                self.send_error(404, "Not Found")
            elif action == "redirect":
                self.send_response(302)
                self.send_header("Location", "/moved/bundle.mcpb")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif action == "redirect-badport":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:99999/bundle.mcpb")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif action == "trickle":
                self.send_response(200)
                self.send_header("Content-Length", str(len(state.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for i in range(len(state.body)):
                        self.wfile.write(state.body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(state.trickle)
            elif action == "stall":
                time.sleep(state.stall)
                self._serve(cut=False)
            elif action == "cut":
                self._serve(cut=True)
            elif action == "short":  # half the body, then a clean close (no reset)
                self._serve(cut=True, reset=False)
            elif action == "cut-old":  # the file changes after this response
                self._serve(cut=True, etag='"old"', reset=False)
            else:
                self._serve(cut=False)

        def _serve(self, *, cut: bool, etag: str | None = None, reset: bool = True) -> None:
            etag = etag or state.etag
            body, start = state.body, 0
            wanted = self.headers.get("Range")
            match = re.fullmatch(r"bytes=(\d+)-", wanted or "")
            if_range = self.headers.get("If-Range")
            partial = bool(state.supports_range and match)
            if partial and if_range is not None and if_range != state.etag:
                partial = False
            if partial and match is not None:
                start = int(match.group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            if state.supports_range:
                self.send_header("Accept-Ranges", "bytes")
            if etag:
                self.send_header("ETag", etag)
            payload = body[start:]
            if state.send_length:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if cut:
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                if reset:  # SO_LINGER 0: close with a TCP reset, the harshest mid-body failure
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                else:
                    self.connection.shutdown(socket.SHUT_WR)
                self.connection.close()
                return
            # the client may have given up (timeout tests): expected
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)

    return Handler


@contextmanager
def faulty_server(state: FaultyServer) -> Iterator[FaultyServer]:
    """Serve ``state.body`` at ``state.url`` (``http://127.0.0.1:PORT/bundle.mcpb``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/bundle.mcpb"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
