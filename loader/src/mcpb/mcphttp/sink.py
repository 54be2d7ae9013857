"""Where the messages about one client request go: the body of the POST that sent it.

The backend puts interim messages (progress, logging, server→client requests) and finally the
response; the HTTP handler drains the queue and answers with plain JSON when the response is
the first thing it sees, or switches to an SSE stream when something came before it.
"""

from __future__ import annotations

import asyncio

#: Messages waiting for a slow reader beyond this are dropped (a client not reading its stream
#: must not make the server buffer without bound). The final answer is always kept.
BACKLOG_LIMIT = 10_000


class RequestSink:
    """A queue of encoded messages ending with the request's response.

    ``streaming`` is False when the client accepts only ``application/json``: interim
    messages then go to the session's GET stream instead. ``closed`` is set when the client
    went away; later messages are routed elsewhere or dropped.
    """

    __slots__ = ("closed", "done", "queue", "streaming")

    def __init__(self, streaming: bool) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.streaming = streaming
        self.closed = False
        self.done = False

    def put(self, payload: bytes, *, final: bool) -> bool:
        """Queue a message; False when the client is gone or the request already finished."""
        if self.closed or self.done:
            return False
        if not final and self.queue.qsize() >= BACKLOG_LIMIT:
            return False
        if final:
            self.done = True
        self.queue.put_nowait(payload)
        return True

    def finished(self) -> bool:
        """True once the response was queued and everything before it was taken."""
        return self.done and self.queue.empty()
