"""The ceiling of a Python stdio→HTTP gateway: two relays with no MCP logic at all.

usage: python -m bench.bridge.relay {asgi,protocol} PORT -- CMD [ARG...]

Each relay spawns ``CMD`` and forwards every POSTed JSON-RPC request to it with its id swapped
for a relay-wide one, then answers with the server's reply under the client's id; an
``initialize`` reply carries an ``Mcp-Session-Id``, a notification gets 202. No sessions, no
checks, no SSE, no attribution: what is left is the cost of the parts themselves.

* ``asgi``: a bare ASGI app served by :func:`mcpb.mcphttp.serve.serve_app` (uvicorn with
  uvloop and httptools, responses coalesced) in front of :class:`ChildProcess` — exactly the
  parts the bridge is built on, so its figure is the most any bridge built on them can do.
* ``protocol``: asyncio protocols only — httptools on the socket, the reply written from the
  child's read callback: no ASGI, no task per request, no await. What Python on uvloop can do
  at all.

The benchmark runs them as the gateways ``relay-asgi`` and ``relay-protocol``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httptools
import orjson

from mcpb.loader.bridge.child import ChildProcess, LineFeed
from mcpb.mcphttp.asgi import Receive, Scope, Send, read_body
from mcpb.mcphttp.serve import bind_socket, run, serve_app

Reply = Callable[[dict[str, Any]], None]


class Relay:
    """Ids swapped on the way in and back; ``send`` writes one encoded line to the child."""

    def __init__(self) -> None:
        self.waiting: dict[int, Reply] = {}
        self.next_id = 0
        self.send: Callable[[bytes], None] = lambda _line: None

    def forward(self, message: dict[str, Any], reply: Reply) -> None:
        client_id = message["id"]
        self.next_id += 1
        message["id"] = self.next_id

        def back(answer: dict[str, Any]) -> None:
            answer["id"] = client_id
            reply(answer)

        self.waiting[self.next_id] = back
        self.send(orjson.dumps(message))

    def answered(self, answer: Any) -> None:
        if isinstance(answer, dict):
            reply = self.waiting.pop(answer.get("id"), None)  # type: ignore[arg-type]
            if reply is not None:
                reply(answer)


def _head(status: int, length: int, session: bool) -> bytes:
    extra = b"mcp-session-id: relay\r\n" if session else b""
    return b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n" % (
        status,
        length,
        extra,
    )


# ---------------------------------------------------------------------------- asgi


async def serve_asgi(port: int, command: list[str]) -> None:
    relay = Relay()
    child = ChildProcess(
        command, dict(os.environ), Path.cwd(), "relay", relay.answered, lambda _c: None, 1 << 24
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = orjson.loads(await read_body(receive, 1 << 24))
        headers = [(b"content-type", b"application/json")]
        if "id" not in message:
            await send({"type": "http.response.start", "status": 202, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        relay.forward(message, answered.set_result)
        out = orjson.dumps(await answered)
        if message.get("method") == "initialize":
            headers.append((b"mcp-session-id", b"relay"))
        headers.append((b"content-length", b"%d" % len(out)))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    async def startup() -> None:
        await child.start()
        relay.send = child.write

    async def shutdown() -> None:
        await child.stop(1.0)

    await serve_app(app, "127.0.0.1", port, startup=startup, shutdown=shutdown)


# ---------------------------------------------------------------------------- protocol


class _Connection(asyncio.Protocol):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        message = orjson.loads(b"".join(self.body))
        self.body.clear()
        if "id" not in message:
            self._write(202, b"", False)
            return
        init = message.get("method") == "initialize"
        self.relay.forward(message, lambda answer: self._write(200, orjson.dumps(answer), init))

    def _write(self, status: int, body: bytes, session: bool) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_head(status, len(body), session) + body)


class _ChildPipes(asyncio.SubprocessProtocol):
    def __init__(self, relay: Relay) -> None:
        self.lines = LineFeed(
            lambda line: relay.answered(orjson.loads(line)), lambda: None, 1 << 24
        )

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self.lines.feed(data)


async def serve_protocol(port: int, command: list[str]) -> None:
    loop = asyncio.get_running_loop()
    relay = Relay()
    transport, _ = await loop.subprocess_exec(
        lambda: _ChildPipes(relay), *command, stdin=-1, stdout=-1, stderr=None
    )
    stdin = transport.get_pipe_transport(0)
    relay.send = lambda line: stdin.write(line + b"\n")  # type: ignore[union-attr]
    server = await loop.create_server(
        lambda: _Connection(relay), sock=bind_socket("127.0.0.1", port)
    )
    try:
        await server.serve_forever()
    finally:
        transport.close()


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 4 or args[0] not in ("asgi", "protocol") or args[2] != "--":
        raise SystemExit(__doc__.splitlines()[2])
    port, command = int(args[1]), args[3:]
    run(serve_asgi(port, command) if args[0] == "asgi" else serve_protocol(port, command))


if __name__ == "__main__":
    main()
