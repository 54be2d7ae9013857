"""One client session: its unguessable id, its server→client stream, its requests in flight.

A session knows nothing of the backend serving it (the table in :mod:`mcpb.mcphttp.sessions`
pairs them), which keeps the ``Backend`` protocol free to speak of sessions.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any, Protocol

from mcpb.mcphttp.sink import BACKLOG_LIMIT, RequestSink

log = logging.getLogger("mcpb.http")


def fingerprint(session_id: str) -> str:
    """A short hash naming a session in logs without revealing its id (a bearer secret)."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:12]


class InFlight(Protocol):
    """What the transport needs of a backend's record of a request in flight."""

    @property
    def sink(self) -> RequestSink | None:
        """Where messages about the request go (None: the session's stream)."""


class Session:
    """One client's conversation (streamable HTTP or legacy SSE)."""

    __slots__ = (
        "closed",
        "id",
        "inflight",
        "last_seen",
        "legacy",
        "protocol_version",
        "stream",
        "tag",
    )

    def __init__(self, session_id: str, legacy: bool, tag: str) -> None:
        self.id = session_id
        self.legacy = legacy
        self.tag = tag
        self.protocol_version: str | None = None
        self.stream: asyncio.Queue[bytes | None] | None = None
        #: The backend's requests in flight for this session, by client id (oldest first).
        self.inflight: dict[Any, InFlight] = {}
        self.last_seen = time.monotonic()
        self.closed = False

    def push(self, payload: bytes) -> bool:
        """Send an unsolicited message: the GET (or legacy SSE) stream, else a request stream."""
        if self.stream is not None:
            if self.stream.qsize() >= BACKLOG_LIMIT:
                log.warning("[%s] stream backlog full: a message was dropped", self.tag)
                return False
            self.stream.put_nowait(payload)
            return True
        for pending in reversed(self.inflight.values()):
            sink = pending.sink
            if sink is not None and sink.streaming and sink.put(payload, final=False):
                return True
        return False

    def open_stream(self) -> asyncio.Queue[bytes | None]:
        """Attach a new server→client stream; an older one is told to close (None)."""
        if self.stream is not None:
            self.stream.put_nowait(None)
        self.stream = asyncio.Queue()
        return self.stream

    def close_stream(self, stream: asyncio.Queue[bytes | None]) -> None:
        """Detach ``stream`` if it is still the current one."""
        if self.stream is stream:
            self.stream = None

    def busy(self) -> bool:
        """Requests in flight or a stream open: not idle, whatever the clock says."""
        return bool(self.inflight) or self.stream is not None
