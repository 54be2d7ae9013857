"""Start ``mcpb bridge`` as a real subprocess on a free loopback port and wait until it serves.

Stable helper for every test that needs a bridged server (bridge tests, TypeScript-SDK client
tests, benchmarks)::

    with bridged(echo_command()) as bridge:            # shared mode
        httpx.post(bridge.mcp_url, ...)
    with bridged(echo_command(), "--stateful") as bridge: ...

``bridge.log`` holds the bridge's stderr lines (child stderr is tagged with the session).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
ECHO_SERVER = SUPPORT / "echo_server.py"
_LISTENING = re.compile(r"mcpb bridge: listening on (http://\S+?:\d+)")


def mcpb_executable() -> str:
    """The ``mcpb`` console script of the environment running the tests."""
    candidate = Path(sys.executable).parent / "mcpb"
    return str(candidate) if candidate.exists() else "mcpb"


def echo_command(*args: str) -> str:
    """A ``--stdio`` command line running the stdlib-only echo server (fast to start)."""
    return shlex.join([sys.executable, "-I", "-S", str(ECHO_SERVER), *args])


@dataclass
class Bridge:
    """A running ``mcpb bridge`` process and where it listens."""

    process: subprocess.Popen[bytes]
    base_url: str
    mcp_path: str = "/mcp"
    log: list[str] = field(default_factory=list)
    args: tuple[str, ...] = ()

    @property
    def mcp_url(self) -> str:
        return self.base_url + self.mcp_path

    @property
    def sse_url(self) -> str:
        return self.base_url + "/sse"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait; SIGKILL if it hangs. Returns the exit code."""
        return stop_process(self.process, timeout)


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM, wait; SIGKILL if it hangs. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def launch(
    argv: list[str], listening: re.Pattern[str], what: str, *, env: dict[str, str], timeout: float
) -> tuple[subprocess.Popen[bytes], str, list[str]]:
    """Run ``argv``, collect its stderr lines, and wait for the line ``listening`` matches;
    the process, the URL the pattern's group captured, and the (growing) log."""
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    log: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def drain() -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            log.append(line)
            match = listening.search(line)
            if match and not found.is_set():
                url.append(match.group(1))
                found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found.wait(0.05):
        if time.monotonic() > deadline:
            break
    if not url:
        process.kill()
        process.wait()
        raise RuntimeError(f"{what} did not start:\n" + "\n".join(log))
    return process, url[0], log


def start_bridge(
    stdio: str, *args: str, timeout: float = 30.0, env: dict[str, str] | None = None
) -> Bridge:
    """Run ``mcpb bridge --stdio STDIO --port 0 ARGS...`` and wait for its listening line."""
    argv = [mcpb_executable(), "bridge", "--stdio", stdio, "--port", "0", *args]
    process, url, log = launch(
        argv, _LISTENING, "mcpb bridge", env={**os.environ, **(env or {})}, timeout=timeout
    )
    mcp_path = "/mcp"
    if "--streamableHttpPath" in args:
        mcp_path = args[args.index("--streamableHttpPath") + 1]
    return Bridge(process, url, mcp_path, log, args)


@contextlib.contextmanager
def bridged(stdio: str, *args: str, timeout: float = 30.0) -> Iterator[Bridge]:
    """:func:`start_bridge` as a context manager that always stops the bridge."""
    bridge = start_bridge(stdio, *args, timeout=timeout)
    try:
        yield bridge
    finally:
        bridge.stop()


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``, from /proc (zombies included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
