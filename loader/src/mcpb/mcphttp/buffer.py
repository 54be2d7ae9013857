"""A queue of encoded messages bounded in bytes: what one client may make us hold for it.

One message may be up to tens of MiB, so a limit in messages bounds nothing; every per-client
buffer (a session's server→client stream, the stream of one request, messages waiting for a
client to open its stream) is a :class:`ByteQueue` with a byte limit. ``end()`` puts the end
marker (None) that makes the reader stop.
"""

from __future__ import annotations

import asyncio

#: Default byte limit of one client buffer (``HttpSettings.max_buffer``).
DEFAULT_MAX_BUFFER = 8 * 1024 * 1024


class ByteQueue:
    """FIFO of encoded messages holding at most ``limit`` bytes (``always`` puts excepted)."""

    __slots__ = ("_queue", "ended", "held", "limit")

    def __init__(self, limit: int = DEFAULT_MAX_BUFFER) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.limit = limit
        self.held = 0
        self.ended = False

    def put(self, payload: bytes, *, always: bool = False) -> bool:
        """Queue ``payload``; False (nothing queued) when it would pass the limit or ended.

        ``always`` queues it regardless of the limit (a request's final answer: one message,
        already bounded by the largest message accepted).
        """
        if self.ended:
            return False
        size = len(payload)
        if not always and self.held + size > self.limit:
            return False
        self.held += size
        self._queue.put_nowait(payload)
        return True

    def end(self) -> None:
        """No more messages: the reader gets None after what is queued."""
        if not self.ended:
            self.ended = True
            self._queue.put_nowait(None)

    def empty(self) -> bool:
        """Nothing (not even the end marker) is waiting."""
        return self._queue.empty()

    async def get(self) -> bytes | None:
        """The next message, or None once ended."""
        item = await self._queue.get()
        if item is not None:
            self.held -= len(item)
        return item
