"""The coalescing transport: a response's head leaves with what follows it, in one send.

The write-level rules are checked against a transport that records what reaches it; the
server-level ones against uvicorn serving on loopback through :func:`serve_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcpb.mcphttp.asgi import Receive, Scope, Send, read_body
from mcpb.mcphttp.coalesce import CoalescingTransport, protocol_class
from mcpb.mcphttp.serve import serve_app, uvicorn_config


class Recording(asyncio.Transport):
    """What the socket would have been asked to send, one entry per write."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.sent.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 7


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_head_and_body_leave_in_one_write() -> None:
    async def scenario() -> None:
        inner = Recording()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())
        transport.write(HEAD)
        assert inner.sent == []
        assert transport.get_write_buffer_size() == 7 + len(HEAD)
        transport.write(memoryview(b"{}"))
        assert inner.sent == [HEAD + b"{}"]
        transport.write(b"more")  # not a head: straight through
        assert inner.sent == [HEAD + b"{}", b"more"]
        await asyncio.sleep(0)  # the flush scheduled for the head finds nothing held
        assert inner.sent == [HEAD + b"{}", b"more"]

    asyncio.run(scenario())


def test_a_head_alone_leaves_on_the_next_loop_turn() -> None:
    async def scenario() -> None:
        inner = Recording()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())
        transport.write(HEAD)
        await asyncio.sleep(0)
        assert inner.sent == [HEAD]
        transport.write(b"event")
        assert inner.sent == [HEAD, b"event"]

    asyncio.run(scenario())


def test_close_sends_a_held_head_first_and_abort_drops_it() -> None:
    async def scenario() -> None:
        inner = Recording()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())
        transport.write(HEAD)
        transport.close()
        assert inner.sent == [HEAD]
        assert inner.closed
        other = Recording()
        transport = CoalescingTransport(other, asyncio.get_running_loop())
        transport.write(HEAD)
        transport.abort()
        await asyncio.sleep(0)
        assert other.sent == []
        assert other.aborted

    asyncio.run(scenario())


def test_both_parsers_get_the_coalescing_protocol() -> None:
    for http in ("httptools", "h11"):
        cls = protocol_class(http)
        assert cls is protocol_class(http)  # made once
        assert "connection_made" in vars(cls)
    assert uvicorn_config(_app).http is protocol_class("httptools")


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    """JSON for POST /json; for GET /stream a stream head, then one event a moment later."""
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream")]})  # fmt: skip
        await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"data: late\n\n"})
        return
    body = await read_body(receive, 1024)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def _served() -> AsyncIterator[int]:
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_app(_app, "127.0.0.1", 0, listening=lambda _h, port: bound.set_result(port))
    )
    try:
        yield await asyncio.wait_for(bound, 10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def _exchange(port: int, request: bytes, until: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        got = b""
        while until not in got:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            got += chunk
        return got
    finally:
        writer.close()


def test_keep_alive_responses_are_whole_and_in_order() -> None:
    async def scenario() -> None:
        async with _served() as port:
            one = b'{"n":1}'
            two = b'{"n":22}'
            request = b"POST /json HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s"
            pipelined = request % (len(one), one) + request % (len(two), two)
            got = await _exchange(port, pipelined, b'{"n":22}')
            first, second = got.split(b"HTTP/1.1 200 OK\r\n")[1:]
            assert first.endswith(b"\r\n\r\n" + one)
            assert second.endswith(b"\r\n\r\n" + two)

    asyncio.run(scenario())


def test_a_stream_head_is_not_held_until_its_first_event() -> None:
    async def scenario() -> None:
        async with _served() as port:
            loop = asyncio.get_running_loop()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
                started = loop.time()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                head_after = loop.time() - started
                event = await asyncio.wait_for(reader.readuntil(b"late\n\n"), 5)
            finally:
                writer.close()
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"text/event-stream" in head
            assert head_after < 0.25  # the event comes 0.3 s after the head
            assert event.endswith(b"data: late\n\n")

    asyncio.run(scenario())


def test_expect_continue_still_answered() -> None:
    async def scenario() -> None:
        async with _served() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(
                    b"POST /json HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n"
                    b"expect: 100-continue\r\n\r\n"
                )
                interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                writer.write(b"{}")
                final = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n{}"), 5)
            finally:
                writer.close()
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            assert final.startswith(b"HTTP/1.1 200 OK\r\n")

    asyncio.run(scenario())
