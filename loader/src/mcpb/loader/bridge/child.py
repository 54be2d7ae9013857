"""One stdio MCP server process: spawn, line-delimited JSON-RPC in and out, stop.

The child runs in its own session (hence its own process group) so that stopping it stops
everything it started, shell wrappers included: stdin is closed first (the MCP stdio shutdown
sequence), then the whole group gets SIGTERM, then SIGKILL after a grace period, and the
leader is reaped. Its stderr goes to the log, each line tagged with the owner's label.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("mcpb.bridge")

#: Grace given to a child to exit on its own once its stdin is closed.
_STDIN_GRACE = 0.2


class ChildProcess:
    """A running stdio server; ``on_message`` receives each parsed JSON object it prints.

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
        self._command = list(command)
        self._env = dict(env)
        self._cwd = cwd
        self.label = label
        self._on_message = on_message
        self._on_exit = on_exit
        self._max_line = max_line
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.returncode: int | None = None

    @property
    def pid(self) -> int | None:
        """The leader's pid (also the process group id), once started."""
        return self._proc.pid if self._proc else None

    async def start(self) -> None:
        """Spawn the process; raises OSError when the command cannot be executed."""
        self._proc = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            cwd=self._cwd,
            start_new_session=True,
            limit=self._max_line,
        )
        log.debug("[%s] started pid %d: %s", self.label, self._proc.pid, self._command)
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

    async def drain(self) -> None:
        """Wait while the stdin pipe buffer is full (back-pressure from a slow child)."""
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            await proc.stdin.drain()

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
            log.info("[%s] %s", self.label, line.decode("utf-8", "replace").rstrip())

    async def stop(self, grace: float) -> None:
        """Close stdin, then SIGTERM and later SIGKILL the whole group; reap the leader."""
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        if proc.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), min(_STDIN_GRACE, grace))
        _signal_group(proc.pid, signal.SIGTERM)
        if proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                log.warning("[%s] did not exit within %.1fs, killing", self.label, grace)
        # Sweep the group even when the leader left in time: grandchildren may linger.
        _signal_group(proc.pid, signal.SIGKILL)
        await proc.wait()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, grace)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
