"""One stdio MCP server process: spawn, line-delimited JSON-RPC in and out, stop.

The process leads its own process group (:mod:`mcpb.loader.process_group`), so stopping it
stops everything it started, shell wrappers included. Its stderr goes to the log, each line
tagged with the owner's label.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from mcpb.loader.process_group import GroupProcess

log = logging.getLogger("mcpb.bridge")

#: stderr lines kept for reports (``/ready`` when the server keeps failing).
STDERR_TAIL = 5


class LineFeed:
    """Cuts the bytes a server prints into lines as they arrive, for a callback.

    The lines are handed over from the pipe's own read callback, not through a reader task
    a line at a time: one event-loop hop fewer per message, which at one client request in
    flight is a measurable share of the round trip (bench/bridge/README.md). A line longer
    than ``limit`` bytes is dropped whole (``on_overlong``), and the stream goes on after it.
    """

    __slots__ = ("_held", "_limit", "_on_line", "_on_overlong", "_parts", "_skipping")

    def __init__(
        self, on_line: Callable[[bytes], None], on_overlong: Callable[[], None], limit: int
    ) -> None:
        self._on_line = on_line
        self._on_overlong = on_overlong
        self._limit = limit
        self._parts: list[bytes] = []
        self._held = 0
        self._skipping = False

    def feed(self, data: bytes) -> None:
        """Take the next bytes; each line they complete goes to ``on_line`` (without ``\\n``)."""
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            if self._skipping:
                self._skipping = False  # the end of the line being dropped
            elif self._parts:
                self._parts.append(data[start:end])
                self._emit(b"".join(self._parts))
                self._parts.clear()
                self._held = 0
            else:
                self._emit(data[start:end])
            start = end + 1
        if start < len(data) and not self._skipping:
            self._parts.append(data[start:])
            self._held += len(data) - start
            if self._held > self._limit:
                self._parts.clear()
                self._held = 0
                self._skipping = True
                self._on_overlong()

    def end(self) -> None:
        """EOF: a last line without a newline still counts."""
        if self._parts:
            line = b"".join(self._parts)
            self._parts.clear()
            self._held = 0
            self._emit(line)
        self._skipping = False

    def _emit(self, line: bytes) -> None:
        if len(line) > self._limit:
            self._on_overlong()
        else:
            self._on_line(line)


class _Pipes(asyncio.subprocess.SubprocessStreamProtocol):
    """The child's pipes as asyncio sets them up, except that stdout feeds a :class:`LineFeed`
    (``closed`` is called at its EOF) instead of a stream reader."""

    def __init__(
        self,
        lines: LineFeed,
        closed: Callable[[], None],
        limit: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(limit=limit, loop=loop)
        self._lines = lines
        self._closed = closed

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        if fd == 1:
            assert isinstance(data, bytes)
            self._lines.feed(data)
        else:
            super().pipe_data_received(fd, data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        super().pipe_connection_lost(fd, exc)
        if fd == 1:
            self._lines.end()
            self._closed()


class ChildProcess:
    """A running stdio server; ``on_message`` receives each parsed JSON value it prints.

    ``on_exit`` is called once, with the exit code, after stdout reached EOF and the process
    was reaped, whether the child crashed or was stopped.
    """

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        label: str,
        on_message: Callable[[Any], None],
        on_exit: Callable[[int], None],
        max_line: int,
    ) -> None:
        self._process = GroupProcess(command, env, cwd, label)
        self.label = label
        self._on_message = on_message
        self._on_exit = on_exit
        self._max_line = max_line
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.returncode: int | None = None
        #: The last lines the server wrote on stderr (what it said before dying).
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)

    @property
    def pid(self) -> int | None:
        """The leader's pid (also the process group id), once started."""
        return self._process.pid

    async def start(self) -> None:
        """Spawn the process; raises OSError when the command cannot be executed."""
        lines = LineFeed(self._on_line, self._on_overlong, self._max_line)
        loop = asyncio.get_running_loop()
        self._proc = await self._process.start(
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            protocol=lambda: _Pipes(lines, self._stdout_closed, self._max_line, loop),
        )
        self._tasks.append(asyncio.create_task(self._read_stderr()))

    def write(self, frame: bytes) -> None:
        """Queue one encoded message (without newline) for the child's stdin.

        Raises ConnectionError when the child's stdin is closed.
        """
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            raise ConnectionResetError("stdio server is not running")
        proc.stdin.write(frame + b"\n")

    def backlog(self) -> int:
        """Bytes written but not yet taken by the child (what its stdin pipe could not hold)."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.transport is None:
            return 0
        return int(proc.stdin.transport.get_write_buffer_size())

    def _on_line(self, line: bytes) -> None:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            if line.strip():
                text = line[:200].decode("utf-8", "replace").rstrip()
                log.warning("[%s] non-JSON line on stdout: %s", self.label, text)
            return
        try:
            self._on_message(message)
        except Exception:
            log.exception("[%s] failed to route a message from the server", self.label)

    def _on_overlong(self) -> None:
        log.warning("[%s] dropped an over-long line from the server", self.label)

    def _stdout_closed(self) -> None:
        """stdout reached EOF: reap the process, then report its exit."""
        self._tasks.append(asyncio.create_task(self._reap()))

    async def _reap(self) -> None:
        proc = self._proc
        assert proc is not None
        code = await proc.wait()
        self.returncode = code
        with contextlib.suppress(Exception):
            self._on_exit(code)

    async def _read_stderr(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        while True:
            try:
                line = await proc.stderr.readline()
            except ValueError:
                continue
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            self.stderr_tail.append(text[:500])
            log.info("[%s] %s", self.label, text)

    async def stop(self, grace: float) -> None:
        """Stop the whole process group (stdin closed first) and reap it."""
        await self._process.stop(grace)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, grace)
