"""Running ``mcpb aggregate`` as a real process for tests, and waiting until it serves."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import launch, mcpb_executable, stop_process

_LISTENING = re.compile(r"mcpb aggregate: listening on (http://\S+?:\d+)")


@dataclass
class Aggregator:
    """A running aggregator process, where it listens, and its log."""

    process: subprocess.Popen[bytes]
    base_url: str
    config_path: Path
    log: list[str] = field(default_factory=list)

    def url(self, vmcp: str, endpoint: str = "mcp") -> str:
        return f"{self.base_url}/vmcp/{vmcp}/{endpoint}"

    def ready(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.base_url}/ready", timeout=10).json()
        return data

    def wait_for(self, states: dict[str, str], timeout: float = 30.0) -> dict[str, Any]:
        """Poll ``/ready`` until each named upstream is in the given state."""
        deadline = time.monotonic() + timeout
        while True:
            ready = self.ready()
            now = {name: u["state"] for name, u in ready["upstreams"].items()}
            if all(now.get(name) == state for name, state in states.items()):
                return ready
            if time.monotonic() > deadline:
                raise AssertionError(f"upstreams {now}, wanted {states}:\n" + "\n".join(self.log))
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> int:
        return stop_process(self.process, timeout)


def write_config(directory: Path, config: dict[str, Any], name: str = "aggregator.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(config))
    return path


def start_aggregator(
    config_path: Path, *, env: dict[str, str] | None = None, timeout: float = 60.0
) -> Aggregator:
    """Run ``mcpb aggregate --config PATH --port 0`` and wait for its listening line."""
    argv = [mcpb_executable(), "aggregate", "--config", str(config_path), "--port", "0"]
    environ = {**os.environ, "MCPB_LOG_LEVEL": "DEBUG", **(env or {})}
    process, url, log = launch(argv, _LISTENING, "mcpb aggregate", env=environ, timeout=timeout)
    return Aggregator(process, url, config_path, log)


def methods_heard() -> tuple[list[str], Any]:
    """A list and an SDK ``message_handler`` that appends every notification's method to it.

    A 2026-07-28 client has no session stream: wrap its use in :func:`hearing` as well.
    """
    heard: list[str] = []

    async def on_message(message: Any) -> None:
        method = getattr(message, "method", None)
        if isinstance(method, str):
            heard.append(method)

    return heard, on_message


@contextlib.contextmanager
def aggregating(config_path: Path, **kwargs: Any) -> Iterator[Aggregator]:
    """:func:`start_aggregator` that always stops the process."""
    aggregator = start_aggregator(config_path, **kwargs)
    try:
        yield aggregator
    finally:
        aggregator.stop()


_EVENTS = {
    "ToolsListChanged": "notifications/tools/list_changed",
    "PromptsListChanged": "notifications/prompts/list_changed",
    "ResourcesListChanged": "notifications/resources/list_changed",
    "ResourceUpdated": "notifications/resources/updated",
}


@contextlib.asynccontextmanager
async def hearing(client: Any, heard: list[str]) -> AsyncIterator[None]:
    """While open, a 2026-07-28 ``client`` listens for every list change (its only way to hear
    them) and appends their methods to ``heard``; a 2025 client hears on its session."""
    if client.protocol_version < "2026":
        yield
        return
    listen = client.listen(
        tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True
    )
    async with listen as subscription:

        async def collect() -> None:
            async for event in subscription:
                heard.append(_EVENTS[type(event).__name__])

        task = asyncio.create_task(collect())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
