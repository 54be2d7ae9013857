"""One client session: its unguessable id, its server→client stream, its requests in flight.

A session knows nothing of the backend serving it (the table in :mod:`mcpb.mcphttp.sessions`
pairs them), which keeps the ``Backend`` protocol free to speak of sessions.

Unsolicited messages go to the session's stream (the GET stream, or the legacy SSE stream),
else onto the stream of one of its streaming requests. A message that finds neither — a server
asking ``roots/list`` right after ``initialize``, before the client opened its GET stream — is
*held* for a bounded time and size and delivered when a stream opens; when the time runs out
it is dropped and its sender told (``undelivered``), so a question fails visibly instead of
silently. Every buffer is bounded in bytes (:class:`~mcpb.mcphttp.buffer.ByteQueue`): a client
that does not read its stream loses the stream, never the process its memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from mcpb.mcphttp.buffer import DEFAULT_MAX_BUFFER, ByteQueue
from mcpb.mcphttp.sink import Sink

log = logging.getLogger("mcpb.http")

#: How long an unsolicited message waits for the client to open a stream.
DEFAULT_HOLD_SECONDS = 10.0

Undelivered = Callable[[], None]


def fingerprint(session_id: str) -> str:
    """A short hash naming a session in logs without revealing its id (a bearer secret)."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:12]


class InFlight(Protocol):
    """What the transport needs of a backend's record of a request in flight."""

    @property
    def sink(self) -> Sink | None:
        """Where messages about the request go (None: the session's stream)."""


class Session:
    """One client's conversation (streamable HTTP or legacy SSE)."""

    __slots__ = (
        "_held",
        "_held_bytes",
        "_hold_timer",
        "buffer_limit",
        "closed",
        "exchanges",
        "hold_seconds",
        "id",
        "inflight",
        "last_seen",
        "legacy",
        "protocol_version",
        "stateless",
        "stream",
        "tag",
    )

    def __init__(
        self,
        session_id: str,
        legacy: bool,
        tag: str,
        *,
        buffer_limit: int = DEFAULT_MAX_BUFFER,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        stateless: bool = False,
    ) -> None:
        self.id = session_id
        self.legacy = legacy
        #: Stands for one 2026-07-28 request (or listen stream): no handshake came before it,
        #: and it is never in the session table.
        self.stateless = stateless
        self.tag = tag
        self.buffer_limit = buffer_limit
        self.hold_seconds = hold_seconds
        self.protocol_version: str | None = None
        self.stream: ByteQueue | None = None
        #: The backend's requests in flight for this session, by client id (oldest first).
        self.inflight: dict[Any, InFlight] = {}
        #: HTTP exchanges of this session still open (a client waiting for an answer).
        self.exchanges = 0
        self.last_seen = time.monotonic()
        self.closed = False
        self._held: deque[tuple[bytes, Undelivered | None]] = deque()
        self._held_bytes = 0
        self._hold_timer: asyncio.TimerHandle | None = None

    def push(self, payload: bytes, undelivered: Undelivered | None = None) -> bool:
        """Send an unsolicited message: the session's stream, else a request's stream, else
        hold it until a stream opens. False when it cannot even be held (``undelivered`` is
        then not called); True means sent or held (``undelivered`` runs if the hold expires).
        """
        if self.closed:
            return False
        stream = self.stream
        if stream is not None:
            if stream.put(payload):
                return True
            log.warning(
                "[%s] the client does not read its stream (%d bytes waiting): stream closed",
                self.tag,
                stream.held,
            )
            self.stream = None
            stream.end()
            return False
        for pending in reversed(self.inflight.values()):
            sink = pending.sink
            if sink is not None and sink.streaming and sink.put(payload, final=False):
                return True
        return self._hold(payload, undelivered)

    def _hold(self, payload: bytes, undelivered: Undelivered | None) -> bool:
        if self._held_bytes + len(payload) > self.buffer_limit:
            return False
        self._held.append((payload, undelivered))
        self._held_bytes += len(payload)
        if self._hold_timer is None:
            loop = asyncio.get_running_loop()
            self._hold_timer = loop.call_later(self.hold_seconds, self._expire_held)
        return True

    def _expire_held(self) -> None:
        self._hold_timer = None
        if self._held:
            log.warning(
                "[%s] %d message(s) dropped: the client opened no stream within %.0fs",
                self.tag,
                len(self._held),
                self.hold_seconds,
            )
        self._drop_held()

    def _drop_held(self) -> None:
        held, self._held, self._held_bytes = self._held, deque(), 0
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        for _, undelivered in held:
            if undelivered is not None:
                undelivered()

    def open_stream(self) -> ByteQueue:
        """Attach a new server→client stream (an older one is ended); held messages go first."""
        if self.stream is not None:
            self.stream.end()
        stream = ByteQueue(self.buffer_limit)
        self.stream = stream
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        held, self._held, self._held_bytes = self._held, deque(), 0
        for payload, _ in held:
            stream.put(payload, always=True)  # they were counted against the same limit
        return stream

    def close_stream(self, stream: ByteQueue) -> None:
        """Detach ``stream`` if it is still the current one."""
        if self.stream is stream:
            self.stream = None

    def close(self) -> None:
        """The session ended: end its stream, drop (and report) what was held."""
        self.closed = True
        if self.stream is not None:
            self.stream.end()
            self.stream = None
        self._drop_held()

    def busy(self) -> bool:
        """A client is waiting on an exchange or has a stream open: not idle.

        Requests in flight whose client left do not count: a session whose clients are gone
        expires on its idle timeout whatever is pending.
        """
        return self.exchanges > 0 or self.stream is not None


def deliver_final(session: Session | None, sink: Sink | None, payload: bytes) -> bool:
    """Deliver a request's answer: into its sink, or (a legacy session's request, which has
    none) onto the session's stream. False when nobody could take it (the client left)."""
    if sink is not None:
        return sink.put(payload, final=True)
    return session is not None and session.push(payload)
