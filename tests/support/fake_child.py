"""A stand-in for the bridge's ChildProcess: no subprocess, the test speaks as the server.

``install(monkeypatch)`` makes every StdioBackend spawn :class:`FakeChild` instead of a process.
A child records every frame written to it; ``say()`` delivers a message as if the server had
printed it; ``answer`` (optional) answers requests as they are written, e.g. ``initialize``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from mcpb.loader.bridge import supervisor as supervisor_module
from mcpb.mcphttp import jsonrpc

Responder = Callable[["FakeChild", dict[str, Any]], None]


def answer_initialize(child: FakeChild, message: dict[str, Any]) -> None:
    """Answer ``initialize`` at once (protocol 2025-06-18); leave everything else to the test."""
    if message.get("method") == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "f"}}
        asyncio.get_running_loop().call_soon(
            child.say, {"jsonrpc": "2.0", "id": message["id"], "result": result}
        )


class FakeChild:
    """Stands in for :class:`mcpb.loader.bridge.child.ChildProcess`."""

    made: ClassVar[list[FakeChild]] = []
    responder: ClassVar[Responder | None] = None
    exit_at_start: ClassVar[int | None] = None
    stderr: ClassVar[list[str]] = []
    unread: ClassVar[int] = 0  # what backlog() reports: bytes the "server" has not read

    def __init__(self, command, env, cwd, label, on_message, on_exit, max_line) -> None:
        self.on_message: Callable[[Any], None] = on_message
        self.on_exit: Callable[[int], None] = on_exit
        self.written: list[dict[str, Any]] = []
        self.stopped = False
        self.pid = 4242
        self.stderr_tail = list(FakeChild.stderr)
        FakeChild.made.append(self)

    async def start(self) -> None:
        code = FakeChild.exit_at_start
        if code is not None:
            asyncio.get_running_loop().call_soon(self.on_exit, code)

    def write(self, frame: bytes) -> None:
        if self.stopped:
            raise ConnectionResetError("stopped")
        message = jsonrpc.loads(frame)
        self.written.append(message)
        if FakeChild.responder is not None:
            FakeChild.responder(self, message)

    def backlog(self) -> int:
        return FakeChild.unread

    async def stop(self, grace: float) -> None:
        self.stopped = True

    def say(self, message: dict[str, Any]) -> None:
        self.on_message(message)

    def requests(self, method: str) -> list[dict[str, Any]]:
        return [m for m in self.written if m.get("method") == method]


def install(monkeypatch: pytest.MonkeyPatch, responder: Responder | None = None) -> None:
    """Every stdio backend created from now on gets a FakeChild."""
    FakeChild.made = []
    FakeChild.responder = responder
    FakeChild.exit_at_start = None
    FakeChild.stderr = []
    FakeChild.unread = 0
    monkeypatch.setattr(supervisor_module, "ChildProcess", FakeChild)
