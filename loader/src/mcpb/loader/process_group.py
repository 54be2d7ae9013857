"""Every child process the runtime starts runs in a process group of its own, stopped whole.

A server may start helpers (a shell wrapper, ``npx``, worker processes); signalling only the
leader would orphan them. So each child is the leader of a new session (hence of a process
group), and stopping it means: close its stdin (the MCP stdio shutdown sequence) and give it a
moment, SIGTERM the group, SIGKILL the group after a grace period — also when the leader left
in time, since grandchildren may linger — and reap the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

log = logging.getLogger("mcpb.loader")

#: Grace given to a child to exit on its own once its stdin is closed.
STDIN_GRACE = 0.2


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a process group; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_group_now(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a synchronous child's group and reap it (timeouts, interrupted waits)."""
    signal_group(proc.pid, signal.SIGKILL)
    proc.communicate()


class GroupProcess:
    """An asyncio child process leading its own process group."""

    def __init__(
        self, command: Sequence[str], env: Mapping[str, str], cwd: Path, label: str
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.cwd = cwd
        self.label = label
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The leader's pid (also the process group id), once started."""
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        """Started and not yet exited."""
        return self.proc is not None and self.proc.returncode is None

    async def start(
        self,
        *,
        protocol: Callable[[], asyncio.subprocess.SubprocessStreamProtocol] | None = None,
        limit: int = 2**16,
        **options: Any,
    ) -> asyncio.subprocess.Process:
        """Spawn it as :func:`asyncio.create_subprocess_exec` would: ``options`` choose the
        pipes (a stream not named is inherited) and ``limit`` their readers' line limit, unless
        ``protocol`` makes the pipes' protocol instead of asyncio's.

        Raises OSError when the command cannot be executed.
        """
        loop = asyncio.get_running_loop()
        if protocol is None:
            protocol = partial(asyncio.subprocess.SubprocessStreamProtocol, limit, loop)
        streams = {"stdin": None, "stdout": None, "stderr": None, **options}
        transport, pipes = await loop.subprocess_exec(
            protocol, *self.command, env=self.env, cwd=self.cwd, start_new_session=True, **streams
        )
        self.proc = asyncio.subprocess.Process(transport, pipes, loop)
        log.debug("[%s] started pid %d: %s", self.label, self.proc.pid, self.command)
        return self.proc

    async def wait(self) -> int:
        """Wait for the leader to exit; its exit code (128 + signal number when killed)."""
        assert self.proc is not None
        code = await self.proc.wait()
        return 128 - code if code < 0 else code

    async def stop(self, grace: float) -> None:
        """Close stdin, then SIGTERM and later SIGKILL the whole group; reap the leader."""
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
            if proc.returncode is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(proc.wait(), min(STDIN_GRACE, grace))
        signal_group(proc.pid, signal.SIGTERM)
        if proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                log.warning("[%s] did not exit within %.1fs, killing", self.label, grace)
        signal_group(proc.pid, signal.SIGKILL)
        await proc.wait()
