"""Concurrency limits per upstream: at most ``limit`` calls at once, a bounded queue behind.

An upstream that can serve only so many calls at once (a database behind it, a rate-limited
API) gets ``max_concurrency``; calls beyond it wait in a queue of ``queue`` places for at most
``queue_timeout`` seconds. A full queue or an expired wait is refused at once with HTTP 503 and
``Retry-After: 1``, naming the upstream: a busy upstream never makes the gateway hold unbounded
work. A slot is held from the call's forwarding to its final answer (or its abandonment).
"""

from __future__ import annotations

import asyncio

from mcpb.mcphttp.errors import HTTPError


class UpstreamBusyError(HTTPError):
    """503: the upstream's slots and queue are full, or the wait ran out."""

    def __init__(self, text: str, rpc_id: object) -> None:
        super().__init__(503, text, rpc_id=rpc_id, headers=[(b"retry-after", b"1")])


class Slots:
    """``limit`` slots and a queue of ``queue`` waiters, in arrival order."""

    def __init__(self, upstream: str, limit: int, queue: int, timeout: float) -> None:
        self.upstream = upstream
        self.limit = limit
        self.queue = queue
        self.timeout = timeout
        self.busy = 0
        self._waiters: list[asyncio.Future[None]] = []

    async def acquire(self, rpc_id: object) -> None:
        """Take a slot, waiting in the queue when all are busy (module docstring)."""
        if self.busy < self.limit and not self._waiters:
            self.busy += 1
            return
        if len(self._waiters) >= self.queue:
            raise UpstreamBusyError(
                f"upstream {self.upstream} is busy: {self.limit} calls at once and "
                f"{self.queue} waiting",
                rpc_id,
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.timeout)
        except TimeoutError:
            if waiter.done():  # the slot arrived just as the wait ran out: give it on
                self.release()
            raise UpstreamBusyError(
                f"upstream {self.upstream} is busy: no slot within {self.timeout:g} s", rpc_id
            ) from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self) -> None:
        """Give a slot back: to the longest waiter, else free it."""
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on; busy stays the same
                return
        self.busy -= 1
