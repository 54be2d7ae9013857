"""The session table: every live session, the backends serving them, idle expiry, the limit.

The table owns the backends: with ``shared=True`` one backend, made at start, serves every
session; otherwise each session gets its own from the factory, closed when the session ends
or expires. The transport never looks inside a backend beyond the ``Backend`` protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time

from mcpb.mcphttp.backend import Backend, BackendFactory
from mcpb.mcphttp.session import Session, fingerprint
from mcpb.mcphttp.settings import HttpSettings

log = logging.getLogger("mcpb.http")


class SessionLimitError(Exception):
    """The configured maximum number of sessions is reached."""


class _NoBackend:
    def detach(self, session: Session) -> None:
        return None


_nothing = _NoBackend()


class SessionTable:
    """All live sessions, their backends, and the sweeper that expires idle ones."""

    def __init__(self, settings: HttpSettings, factory: BackendFactory, *, shared: bool) -> None:
        self._settings = settings
        self._factory = factory
        self._shared_mode = shared
        self._sessions: dict[str, Session] = {}
        self._own: dict[str, Backend] = {}
        self._reserved = 0
        self._serial = itertools.count(1)
        self._stopping: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.shared: Backend | None = None
        self._stateless: Backend | None = None
        self._stateless_start: asyncio.Lock | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def streams_open(self) -> int:
        """Open streams: standalone GET (or legacy SSE) streams, and requests being answered."""
        return sum((s.stream is not None) + s.exchanges for s in self._sessions.values())

    def __contains__(self, session_id: object) -> bool:
        """Whether a session with this id lives (without marking it used, unlike :meth:`get`)."""
        return session_id in self._sessions

    @property
    def full(self) -> bool:
        """No room for another session."""
        return len(self._sessions) + self._reserved >= self._settings.max_sessions

    async def start(self) -> None:
        """Start the shared backend (when shared) and the idle sweeper."""
        if self._shared_mode:
            self.shared = self._factory("shared")
            await self.shared.start()
        if self._settings.session_timeout is not None:
            self._sweeper = asyncio.create_task(self._sweep(self._settings.session_timeout))

    async def create(self, legacy: bool) -> Session:
        """A new session, with its own started backend unless the backend is shared.

        Raises SessionLimitError at the limit, and what the backend's ``start`` raises.
        """
        if self.full:
            raise SessionLimitError
        tag = f"s{next(self._serial)}"
        if self.shared is not None:
            backend = self.shared
        else:
            backend = self._factory(tag)
            self._reserved += 1
            try:
                await backend.start()
            finally:
                self._reserved -= 1
        session = Session(
            secrets.token_urlsafe(32),
            legacy,
            tag,
            buffer_limit=self._settings.max_buffer,
            hold_seconds=self._settings.hold_seconds,
        )
        backend.attach(session)
        self._sessions[session.id] = session
        if backend is not self.shared:
            self._own[session.id] = backend
        log.info(
            "[%s] session opened (%s, id sha256:%s)",
            tag,
            "legacy sse" if legacy else "streamable-http",
            fingerprint(session.id),
        )
        return session

    async def stateless_backend(self) -> Backend:
        """The backend serving requests outside any session (the 2026-07-28 era).

        The shared backend when there is one; otherwise one of its own, started on first use
        and closed with the table (a per-session backend would be a process per request).
        """
        if self.shared is not None:
            return self.shared
        if self._stateless is None:
            if self._stateless_start is None:
                self._stateless_start = asyncio.Lock()
            async with self._stateless_start:
                if self._stateless is None:
                    backend = self._factory("stateless")
                    await backend.start()
                    self._stateless = backend
        return self._stateless

    def backend_of(self, session: Session) -> Backend:
        """The backend serving ``session``."""
        return self.shared or self._own[session.id]

    def get(self, session_id: str) -> Session | None:
        """The live session with this id (and mark it used), or None."""
        session = self._sessions.get(session_id)
        if session is not None:
            session.last_seen = time.monotonic()
        return session

    def end(self, session: Session) -> None:
        """Forget a session; a backend of its own is closed in the background."""
        if self._sessions.pop(session.id, None) is None:
            return
        session.close()
        own = self._own.pop(session.id, None)
        (own or self.shared or _nothing).detach(session)
        if own is not None:
            task = asyncio.create_task(own.close())
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
        """End every session and close every backend, waiting until they are done."""
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
        if self._stateless is not None:
            await self._stateless.close()
