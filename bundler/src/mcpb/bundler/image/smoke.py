"""``mcpb test``: run a bundle in its base image and talk to it with a real MCP client.

The bundle is mounted read-only into the container and named by a ``file://`` URL with its
SHA-256, so the loader's full path runs (verify, extract into the cache volume, launch) without
any network; the container runs ``--read-only`` with a tmpfs ``/tmp`` as in production, on its
own platform (emulated by qemu when it differs from the host). The official MCP Python SDK
client initializes, lists tools and makes the calls from ``--call tools.json``; then the
container is stopped and must exit 0.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpb.bundle.digest import sha256_file
from mcpb.bundle.errors import BuildError, UsageError
from mcpb.bundle.extract import open_bundle
from mcpb.bundle.platform import Platform, host_platform, parse_platform
from mcpb.bundler.image import engine
from mcpb.bundler.image.spec import ImageSpec, parse_runtime
from mcpb.bundler.readiness import wait_ready

CONTAINER_PORT = 8000
STOP_GRACE = 10


@dataclass(frozen=True)
class ToolCall:
    """One tool call to make, and optionally a substring its text result must contain."""

    name: str
    arguments: dict[str, Any]
    expect: str | None = None


@dataclass(frozen=True)
class CallOutcome:
    """What a call returned."""

    name: str
    text: str
    is_error: bool
    ok: bool


@dataclass
class SmokeReport:
    """The outcome of one smoke test."""

    image: str
    platform: str
    tools: list[str] = field(default_factory=list)
    calls: list[CallOutcome] = field(default_factory=list)
    ready_seconds: float = 0.0
    exit_code: int | None = None
    error: str | None = None
    logs: str = ""

    @property
    def ok(self) -> bool:
        """Initialized, listed, every call as expected, clean exit."""
        return (
            self.error is None
            and bool(self.tools)
            and all(c.ok for c in self.calls)
            and self.exit_code == 0
        )

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "ok": self.ok,
            "image": self.image,
            "platform": self.platform,
            "tools": self.tools,
            "calls": [c.__dict__ for c in self.calls],
            "ready_seconds": round(self.ready_seconds, 2),
            "exit_code": self.exit_code,
            "error": self.error,
        }


def parse_calls(path: Path) -> list[ToolCall]:
    """``tools.json``: ``[{"name": ..., "arguments": {...}, "expect": "substring"}, ...]``."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"{path}: cannot read tool calls ({err})") from None
    if not isinstance(data, list):
        raise UsageError(f"{path}: expected a JSON list of {{name, arguments, expect}} objects")
    calls = []
    for index, item in enumerate(data):
        where = f"{path}: [{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise UsageError(f"{where}: expected an object with a string 'name'")
        arguments = item.get("arguments", {})
        expect = item.get("expect")
        if not isinstance(arguments, dict):
            raise UsageError(f"{where}.arguments: expected an object")
        if expect is not None and not isinstance(expect, str):
            raise UsageError(f"{where}.expect: expected a string")
        calls.append(ToolCall(item["name"], arguments, expect))
    return calls


def image_for(bundle: Path, platform: Platform | None, prefix: str = "") -> tuple[str, Platform]:
    """The base image and platform for ``bundle`` from our ``_meta`` record (runtime, platform);
    ``platform`` overrides the record's."""
    with open_bundle(bundle) as opened:
        meta = opened.meta
        server_type = str(opened.manifest_data.get("server", {}).get("type", ""))
    if platform is None:
        platform = parse_platform(meta.platform) if meta and meta.platform else host_platform()
    runtime_text = meta.runtime if meta and meta.runtime else None
    if runtime_text is None:
        if server_type == "python" and meta and meta.python:
            runtime_text = f"python:{meta.python}"
        elif server_type in ("node", "binary"):
            runtime_text = "node:20" if server_type == "node" else "binary"
        else:
            raise UsageError(
                f"{bundle}: no runtime recorded in the bundle; pass --image (e.g. mcpb-python:3.13)"
            )
    spec = ImageSpec(parse_runtime(runtime_text), platform, prefix)
    return spec.platform_ref, platform


def run_smoke(
    bundle: Path,
    image: str,
    platform: Platform,
    calls: list[ToolCall],
    *,
    timeout: float = 180.0,
) -> SmokeReport:
    """Start ``image`` serving ``bundle``; initialize, list tools, call; stop; report."""
    bundle = bundle.resolve()
    if not bundle.is_file():
        raise UsageError(f"{bundle}: no such bundle file")
    if engine.inspect_image(image) is None:
        raise UsageError(f"image {image} not found: build it with `mcpb image build`")
    report = SmokeReport(image=image, platform=str(platform))
    inside = f"/bundle/{bundle.name}"
    options = engine.RunOptions(
        env={
            "BUNDLE_URL": f"file://{inside}",
            "BUNDLE_SHA256": sha256_file(bundle),
            "PORT": str(CONTAINER_PORT),
        },
        platform=platform,
        publish=(CONTAINER_PORT,),
        volumes=((str(bundle), inside, True),),
        read_only=True,
        tmpfs=("/tmp",),  # noqa: S108 (the container's /tmp)
    )
    started = time.monotonic()
    cid = engine.run_detached(image, options)
    try:
        port = engine.host_port(cid, CONTAINER_PORT)
        base = f"http://127.0.0.1:{port}"
        wait_ready(
            base,
            exited=lambda: _container_exit(cid),
            timeout=max(0.0, started + timeout - time.monotonic()),
        )
        report.ready_seconds = time.monotonic() - started
        tools, outcomes = asyncio.run(
            asyncio.wait_for(_talk(f"{base}/mcp", calls), max(10.0, timeout / 2))
        )
        report.tools, report.calls = tools, outcomes
        engine.stop(cid, STOP_GRACE)
        report.exit_code = int(engine.container_state(cid)["ExitCode"])
    except (BuildError, OSError, TimeoutError, RuntimeError) as err:
        report.error = str(err) or type(err).__name__
    except Exception as err:  # the MCP client's own errors, reported, not raised
        report.error = f"MCP client: {type(err).__name__}: {err}"
    finally:
        report.logs = engine.logs(cid)
        engine.remove(cid)
    return report


def _container_exit(cid: str) -> str | None:
    state = engine.container_state(cid)
    return None if state.get("Running") else f"container exited with code {state.get('ExitCode')}"


async def _talk(url: str, calls: list[ToolCall]) -> tuple[list[str], list[CallOutcome]]:
    try:
        from mcp import Client
    except ImportError:
        raise UsageError("mcpb test needs the MCP SDK: pip install 'mcpb-bundler[test]'") from None
    outcomes = []
    async with Client(url) as client:
        listed = await client.list_tools()
        tools = sorted(t.name for t in listed.tools)
        for call in calls:
            result = await client.call_tool(call.name, call.arguments)
            text = "".join(getattr(c, "text", "") for c in result.content)
            is_error = bool(result.is_error)
            ok = not is_error and (call.expect is None or call.expect in text)
            outcomes.append(CallOutcome(call.name, text, is_error, ok))
    return tools, outcomes
