"""Client sessions: unguessable ids, the GET stream, idle expiry and the session limit.

In stateful mode every session owns an :class:`~mcpb.loader.bridge.router.Upstream` (its own
child process), stopped with its process group when the session ends or expires. In shared
mode every session is attached to the one shared upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpb.loader.bridge.config import BridgeConfig
from mcpb.loader.bridge.router import Upstream
from mcpb.loader.bridge.sink import BACKLOG_LIMIT

if TYPE_CHECKING:
    from mcpb.loader.bridge.owner import Pending

log = logging.getLogger("mcpb.bridge")


def fingerprint(session_id: str) -> str:
    """A short hash naming a session in logs without revealing its id (a bearer secret)."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:12]


class SessionLimitError(Exception):
    """The configured maximum number of sessions is reached."""


class Session:
    """One client's conversation with the bridge (streamable HTTP or legacy SSE)."""

    __slots__ = (
        "closed",
        "id",
        "inflight",
        "last_seen",
        "legacy",
        "protocol_version",
        "stream",
        "subscriptions",
        "tag",
        "upstream",
    )

    def __init__(self, session_id: str, upstream: Upstream, legacy: bool, tag: str) -> None:
        self.id = session_id
        self.upstream = upstream
        self.legacy = legacy
        self.tag = tag
        self.protocol_version: str | None = None
        self.stream: asyncio.Queue[bytes | None] | None = None
        self.inflight: dict[Any, Pending] = {}
        self.subscriptions: set[str] = set()
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


class SessionTable:
    """All live sessions, their upstreams, and the sweeper that expires idle ones."""

    def __init__(
        self, config: BridgeConfig, command: Sequence[str], env: Mapping[str, str], cwd: Path
    ) -> None:
        self._config = config
        self._command = list(command)
        self._env = dict(env)
        self._cwd = cwd
        self._sessions: dict[str, Session] = {}
        self._reserved = 0
        self._serial = itertools.count(1)
        self._stopping: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.shared: Upstream | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def _upstream(self, label: str) -> Upstream:
        return Upstream(self._config, self._command, self._env, self._cwd, label)

    async def start(self) -> None:
        """Start the shared child (shared mode) and the idle sweeper."""
        if not self._config.stateful:
            self.shared = self._upstream("shared")
            await self.shared.start()
        if self._config.session_timeout is not None:
            self._sweeper = asyncio.create_task(self._sweep(self._config.session_timeout))

    async def create(self, legacy: bool) -> Session:
        """A new session, with its own started child in stateful mode.

        Raises SessionLimitError at the limit and OSError when a child cannot be spawned.
        """
        if len(self._sessions) + self._reserved >= self._config.max_sessions:
            raise SessionLimitError
        tag = f"s{next(self._serial)}"
        if self.shared is not None:
            upstream = self.shared
        else:
            upstream = self._upstream(tag)
            self._reserved += 1
            try:
                await upstream.start()
            finally:
                self._reserved -= 1
        session = Session(secrets.token_urlsafe(32), upstream, legacy, tag)
        upstream.attach(session)
        self._sessions[session.id] = session
        log.info(
            "[%s] session opened (%s, id sha256:%s)",
            tag,
            "legacy sse" if legacy else "streamable-http",
            fingerprint(session.id),
        )
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session with this id (and mark it used), or None."""
        session = self._sessions.get(session_id)
        if session is not None:
            session.last_seen = time.monotonic()
        return session

    def end(self, session: Session) -> None:
        """Forget a session; in stateful mode its child is stopped in the background."""
        if self._sessions.pop(session.id, None) is None:
            return
        session.closed = True
        if session.stream is not None:
            session.stream.put_nowait(None)
            session.stream = None
        upstream = session.upstream
        upstream.detach(session)
        if upstream is not self.shared:
            task = asyncio.create_task(upstream.close())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
        log.debug("[%s] session ended", session.tag)

    async def _sweep(self, timeout: float) -> None:
        interval = max(0.05, min(timeout / 4, 5.0))
        while True:
            await asyncio.sleep(interval)
            cutoff = time.monotonic() - timeout
            for session in list(self._sessions.values()):
                if not session.busy() and session.last_seen < cutoff:
                    log.info("[%s] session expired after %.0fs idle", session.tag, timeout)
                    self.end(session)

    async def close(self) -> None:
        """End every session and stop every child, waiting until they are reaped."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for session in list(self._sessions.values()):
            self.end(session)
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)
        if self.shared is not None:
            await self.shared.close()
