"""Where the messages about one client request go: the body of the POST that sent it.

The backend puts interim messages (progress, logging, server→client requests) and finally the
response; the endpoint drains the queue and answers with plain JSON when the response is the
first thing it sees, or switches to an SSE stream when something came before it.
"""

from __future__ import annotations

from typing import Protocol

from mcpb.mcphttp.buffer import DEFAULT_MAX_BUFFER, ByteQueue


class Sink(Protocol):
    """What a backend needs of the place a request's messages go.

    The transport's own is :class:`RequestSink`; an intermediary (the aggregator) hands its
    upstreams a sink of its own that rewrites what passes on the way to the client's.
    """

    @property
    def streaming(self) -> bool:
        """Whether interim messages may go here (else they go to the session's stream)."""

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
