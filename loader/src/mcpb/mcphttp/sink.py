"""Where the messages about one client request go: the body of the POST that sent it.

The backend puts interim messages (progress, logging, server→client requests) and finally the
response; the endpoint drains the queue and answers with plain JSON when the response is the
first thing it sees, or switches to an SSE stream when something came before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from mcpb.mcphttp import sse
from mcpb.mcphttp.asgi import (
    JSON,
    Receive,
    Send,
    end_stream,
    pump,
    respond,
    start_stream,
    wait_disconnect,
)
from mcpb.mcphttp.buffer import DEFAULT_MAX_BUFFER, ByteQueue


class Sink(Protocol):
    """What a backend needs of the place a request's messages go.

    The transport's own is :class:`RequestSink`; an intermediary (the aggregator) hands its
    upstreams a sink of its own that rewrites what passes on the way to the client's.
    """

    @property
    def streaming(self) -> bool:
        """Whether interim messages may go here (else they go to the session's stream)."""

    @property
    def waiting(self) -> bool:
        """The request waits for its client to come back with input (2026-07-28
        ``input_required``): it is blocked, so nothing the server says now is about it."""

    def put(self, payload: bytes, *, final: bool) -> bool:
        """Queue a message (``final``: the answer); False when it cannot be delivered here."""


class RequestSink:
    """Messages about one request, ending with its response, bounded in bytes.

    ``streaming`` is False when the client accepts only ``application/json``: interim
    messages then go to the session's GET stream instead. ``closed`` is set when the client
    went away; later messages are routed elsewhere or dropped. A client that lets interim
    messages pile up past the byte limit ``overflows``: its stream ends and the endpoint
    abandons the request (the final answer is always taken).
    """

    __slots__ = ("closed", "done", "overflowed", "queue", "streaming")

    def __init__(self, streaming: bool, limit: int = DEFAULT_MAX_BUFFER) -> None:
        self.queue = ByteQueue(limit)
        self.streaming = streaming
        self.closed = False
        self.done = False
        self.overflowed = False

    @property
    def waiting(self) -> bool:
        """Never: an HTTP request waits here for its answer."""
        return False

    def put(self, payload: bytes, *, final: bool) -> bool:
        """Queue a message; False when the client is gone, overflowed or the request finished."""
        if self.closed or self.done:
            return False
        if final:
            self.done = True
            return self.queue.put(payload, always=True)
        if self.queue.put(payload):
            return True
        self.overflowed = self.closed = True
        self.queue.end()
        return False

    def finished(self) -> bool:
        """True once the response was queued and everything before it was taken."""
        return self.done and self.queue.empty()


#: How long an answer may take before the client's connection is watched for a disconnect.
#: Most answers come sooner, and then no watcher is ever started: watching costs a task and a
#: receive() per request, which the hot path (thousands of requests a second) cannot afford.
WATCH_AFTER = 0.05


async def first_or_departure(sink: RequestSink, receive: Receive) -> bytes | None:
    """The first message for the request, or None when its client left (or overflowed)."""
    watcher: asyncio.Future[None] | None = None

    def watch() -> None:
        nonlocal watcher
        watcher = asyncio.ensure_future(wait_disconnect(receive))
        watcher.add_done_callback(lambda done: _end_unless_cancelled(done, sink))

    timer = asyncio.get_running_loop().call_later(WATCH_AFTER, watch)
    try:
        return await sink.queue.get()
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()


def _end_unless_cancelled(watcher: asyncio.Future[None], sink: RequestSink) -> None:
    """The client left while its answer was awaited: wake the waiter with the end marker."""
    if not watcher.cancelled():
        sink.queue.end()


async def reply(
    sink: RequestSink,
    receive: Receive,
    send: Send,
    *,
    json_ok: bool,
    keepalive: float,
    status: Callable[[], int],
    abandon: Callable[[str], None],
) -> None:
    """Answer one HTTP request from its sink: plain JSON (with ``status()``) when the answer
    is the first thing there and the client takes JSON, else an SSE stream of everything.

    A client that leaves first, or lets interim messages pile up past its buffer, gets the
    request ``abandon``-ed (with the reason) instead of forgotten.
    """
    first = await first_or_departure(sink, receive)
    if first is None:
        sink.closed = True
        abandon("its stream overflowed" if sink.overflowed else "the client disconnected")
        return
    if sink.finished() and json_ok:
        await respond(send, status(), first, JSON)
        return
    await start_stream(send, None, sse.message_event(first))
    if not sink.finished():
        stayed = await pump(receive, send, sink.queue, sink.finished, keepalive)
        if not stayed or sink.overflowed:
            sink.closed = True
            abandon("its stream overflowed" if stayed else "the client disconnected")
            if not stayed:
                return
    await end_stream(send)
