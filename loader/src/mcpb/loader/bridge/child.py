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
        self._proc = await self._process.start(
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=self._max_line,
        )
        self._tasks = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]

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

    async def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        stdout = proc.stdout
        try:
            while True:
                try:
                    line = await stdout.readline()
                except ValueError:  # a line over the limit: skip it, keep the stream usable
                    log.warning("[%s] dropped an over-long line from the server", self.label)
                    continue
                if not line:
                    break
                try:
                    message = orjson.loads(line)
                except orjson.JSONDecodeError:
                    if line.strip():
                        text = line[:200].decode("utf-8", "replace").rstrip()
                        log.warning("[%s] non-JSON line on stdout: %s", self.label, text)
                    continue
                try:
                    self._on_message(message)
                except Exception:
                    log.exception("[%s] failed to route a message from the server", self.label)
        finally:
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
