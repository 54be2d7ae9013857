"""Keeps one stdio child running: spawn, notice its exit, restart it with backoff.

The supervisor knows nothing of JSON-RPC routing. It reports each message the child prints
(``on_message``), that the child went down (``on_down``, so what was in flight can fail at
once), and, after a restart, asks ``on_restarted`` to bring the new child to the state the
old one had (the cached ``initialize``); until that succeeds the child does not count as up
and writers wait (up to ``unavailable_timeout``) or get :class:`BackendUnavailableError`.

A server that cannot start (a missing argument, a broken dependency) exits again at once.
After ``crash_limit`` consecutive exits within :data:`STABLE_AFTER` seconds of their start the
supervisor stops restarting: :attr:`gave_up` says why, with the last lines of the server's
stderr, writers get :class:`BackendUnavailableError` at once, and ``on_gave_up`` is told (the
loader then exits so the platform's restart policy takes over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mcpb.bundle.errors import UsageError
from mcpb.loader.bridge.child import ChildProcess
from mcpb.loader.bridge.settings import StdioSettings
from mcpb.mcphttp.backend import BackendUnavailableError

log = logging.getLogger("mcpb.bridge")

#: A child that ran at least this long before crashing restarts after the shortest backoff.
STABLE_AFTER = 10.0


class Supervisor:
    """One supervised stdio child."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        label: str,
        settings: StdioSettings,
        *,
        on_message: Callable[[Any], None],
        on_down: Callable[[int], None],
        on_restarted: Callable[[], Awaitable[bool]],
        on_gave_up: Callable[[str], None] | None = None,
    ) -> None:
        self._command = list(command)
        self._env = dict(env)
        self._cwd = cwd
        self.label = label
        self._settings = settings
        self._on_message = on_message
        self._on_down = on_down
        self._on_restarted = on_restarted
        self._on_gave_up = on_gave_up
        #: Why restarting was given up (None while it goes on).
        self.gave_up: str | None = None
        self._fast_failures = 0
        self.child: ChildProcess | None = None
        self._up = asyncio.Event()
        self.closing = False
        self._restart_task: asyncio.Task[None] | None = None
        self._backoff = settings.restart_backoff_min
        self._started_at = 0.0
        self.restarts = 0
        self.last_heard = 0.0

    @property
    def pid(self) -> int | None:
        """Pid of the current child process (its process group id), if running."""
        return self.child.pid if self.child else None

    @property
    def is_up(self) -> bool:
        """The child runs and, after a restart, has been brought back to its state."""
        return self._up.is_set()

    async def start(self) -> None:
        """Spawn the child; a command that cannot be executed is a UsageError."""
        try:
            await self._spawn()
        except OSError as err:
            raise UsageError(f"cannot start the stdio server {self._command[0]!r}: {err}") from err
        self._up.set()

    async def _spawn(self) -> None:
        child = ChildProcess(
            self._command,
            self._env,
            self._cwd,
            self.label,
            self._heard,
            lambda code: self._exited(child, code),
            self._settings.max_message,
        )
        await child.start()
        self.child = child
        self._started_at = time.monotonic()

    def _heard(self, message: Any) -> None:
        self.last_heard = time.monotonic()
        self._on_message(message)

    async def close(self) -> None:
        """Stop restarting, stop the child's process group and reap it."""
        self.closing = True
        if self._restart_task is not None:
            self._restart_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restart_task
        self._up.clear()
        if self.child is not None:
            await self.child.stop(self._settings.kill_grace)

    def _exited(self, child: ChildProcess, code: int) -> None:
        if child is not self.child:
            return
        self._up.clear()
        if self.closing:
            return
        log.warning("[%s] stdio server exited with code %d", self.label, code)
        self._on_down(code)
        if self._count_failure(f"last exit code {code}", child.stderr_tail):
            return
        if self._restart_task is None or self._restart_task.done():
            self._restart_task = asyncio.create_task(self._restart())

    def _count_failure(self, what: str, stderr_tail: Iterable[str] = ()) -> bool:
        """Count an exit (or failed spawn); True when restarting is given up now."""
        if time.monotonic() - self._started_at > STABLE_AFTER:
            self._fast_failures = 0
        self._fast_failures += 1
        limit = self._settings.crash_limit
        if not limit or self._fast_failures < limit:
            return False
        said = " | ".join(stderr_tail) or "(nothing)"
        self.gave_up = (
            f"the MCP server exited {self._fast_failures} times within {STABLE_AFTER:.0f}s "
            f"of starting ({what}); restarting stopped. Its last stderr lines: {said}"
        )
        log.error("[%s] %s", self.label, self.gave_up)
        if self._on_gave_up is not None:
            self._on_gave_up(self.gave_up)
        return True

    async def _restart(self) -> None:
        while not self.closing:
            if time.monotonic() - self._started_at > STABLE_AFTER:
                self._backoff = self._settings.restart_backoff_min
            delay = self._backoff
            self._backoff = min(self._backoff * 2, self._settings.restart_backoff_max)
            log.info("[%s] restarting the stdio server in %.1fs", self.label, delay)
            await asyncio.sleep(delay)
            try:
                await self._spawn()
            except OSError as err:
                log.error("[%s] cannot restart the stdio server: %s", self.label, err)
                self._started_at = time.monotonic()  # a failed attempt is a fast failure
                if self._count_failure(f"cannot start it: {err}"):
                    return
                continue
            self.restarts += 1
            if await self._on_restarted():
                self._up.set()
                return
            if self.child is not None:
                await self.child.stop(self._settings.kill_grace)

    async def ready_child(self) -> ChildProcess:
        """The running child, waiting while it restarts; BackendUnavailableError if too long."""
        if self.gave_up is not None:
            raise BackendUnavailableError(self.gave_up)
        if not self._up.is_set():
            try:
                await asyncio.wait_for(self._up.wait(), self._settings.unavailable_timeout)
            except TimeoutError:
                raise BackendUnavailableError from None
        child = self.child
        if child is None or self.closing:
            raise BackendUnavailableError
        return child

    async def send(self, frame: bytes) -> None:
        """Write one encoded message once the child is up, unless it stopped reading.

        Nobody waits for the child to take it: a server that stops reading (busy, stuck) would
        otherwise hold every waiting HTTP request, and what it holds, for as long as it likes.
        """
        child = await self.ready_child()
        self.check_backlog(child)
        child.write(frame)

    def check_backlog(self, child: ChildProcess) -> None:
        """Raise BackendUnavailableError (503) while ``max_backlog`` bytes written to the child
        are still unread: new messages wait for it to catch up instead of queueing up."""
        backlog = child.backlog()
        if backlog > self._settings.max_backlog:
            raise BackendUnavailableError(
                f"the MCP server is not reading its input ({backlog} bytes waiting); retry later"
            )

    def send_now(self, frame: bytes) -> None:
        """Write one encoded message to the current child, if any; never waits or raises."""
        if self.child is None:
            return
        with contextlib.suppress(ConnectionError):
            self.child.write(frame)
