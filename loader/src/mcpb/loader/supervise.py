"""Process supervision: an init that reaps and forwards signals, and HTTP server children.

In a container the loader is PID 1, which the kernel treats specially: orphans are re-parented
to it and must be reaped (or they stay zombies forever), and signals without a handler are
ignored. :func:`run_as_init` therefore splits the process in two with a fork: this process stays
a minimal init (it forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the worker, reaps every
child that exits, re-parented orphans included, and after the worker is gone stops whatever is
left), while the forked worker runs the loader with ordinary child handling. Keeping the two
apart matters: a reaper calling ``waitpid(-1)`` in the same process would steal the exit status
of the worker's own children from asyncio. When not PID 1, the init marks itself a child
subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``) so orphans come to it just the same — which is
also what makes this testable outside a container.

"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

log = logging.getLogger("mcpb.loader")

PR_SET_CHILD_SUBREAPER = 36
FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def set_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux only); True on success."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def exit_code(status: int) -> int:
    """A ``wait`` status as a shell-style exit code: the code, or 128 + signal number."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def run_as_init(worker: Callable[[], int], *, grace: float) -> int:
    """Fork; the child runs ``worker()`` and exits with its result; this process supervises.

    Returns the worker's exit code, or 0 when a stop signal was received and the worker had to
    be killed after ``grace`` seconds. Leftover descendants are stopped before returning.
    """
    if os.getpid() != 1 and not set_subreaper():
        log.warning("cannot become a child subreaper: orphaned processes will not be reaped")
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    pid = os.fork()
    if pid == 0:  # the worker
        code = 70
        try:
            os.setpgid(0, 0)  # a terminal's Ctrl-C reaches the init only; it forwards once
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            code = worker()
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            log.exception("loader failed")
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    return _supervise(pid, grace, blocked)


def _supervise(worker: int, grace: float, blocked: set[int | signal.Signals]) -> int:
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signum)
        if signum in STOP_SIGNALS and not stopping:
            stopping = True
            signal.alarm(math.ceil(grace) + 2)  # the worker's own grace, plus slack

    def kill_worker(_signum: int, _frame: FrameType | None) -> None:
        log.error("loader did not stop within its grace period; killing it")
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    signal.signal(signal.SIGALRM, kill_worker)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    code = 70
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid == worker:
            code = exit_code(status)
            break
        log.debug("reaped orphan %d (%s)", pid, exit_code(status))
    signal.alarm(0)
    stop_leftovers(grace)
    if stopping and code in (128 + signal.SIGKILL, 128 + signal.SIGTERM, 128 + signal.SIGINT):
        return 0
    return code


def child_pids() -> list[int]:
    """Processes whose parent is this process, from /proc; [] when /proc shows another PID
    namespace (a PID namespace without its own /proc mount): its numbers would not be ours."""
    me = os.getpid()
    try:
        if Path("/proc/self").readlink().name != str(me):
            return []
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ... — comm may contain spaces and parentheses
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.append(int(entry.name))
    return found


def reap_exited() -> bool:
    """Reap every child that has exited; True while children remain."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _signal_children(sig: signal.Signals, already: set[int]) -> None:
    if os.getpid() == 1:
        # PID 1: every process of our PID namespace except ourselves, however deep; once
        if not already:
            already.add(-1)
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, sig)
        return
    for pid in child_pids():
        if pid not in already:
            already.add(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def stop_leftovers(grace: float) -> None:
    """SIGTERM what is left (re-parented orphans), SIGKILL it after ``grace``, reap it all."""
    if not reap_exited():
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        signalled: set[int] = set()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _signal_children(sig, signalled)  # new orphans keep arriving as parents die
            if not reap_exited():
                return
            time.sleep(0.05)
    log.error("child processes survived SIGKILL")
