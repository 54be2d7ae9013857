"""The official Python SDK client (``mcp`` 2.x, default connect mode) against the bridged
``@modelcontextprotocol/server-everything`` (npm, stdio), in both process modes and over both
streamable HTTP and the legacy SSE transport.

The default client first probes ``server/discover`` and must fall back to ``initialize``; then
one scenario exercises tools, resources, prompts, progress, logging, sampling, elicitation and
cancellation, recording what it saw; the tests assert on each part.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    LoggingMessageNotificationParams,
    TextContent,
)

from tests.support.servers import Bridge, bridged
from tests.support.stdio_peers import everything_command

pytestmark = [
    pytest.mark.slow,
    # logging/setLevel and ping are what a handshake-era server speaks; the 2.x client warns.
    pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning"),
]

MODES = [pytest.param((), id="shared"), pytest.param(("--stateful",), id="stateful")]


def _texts(result: Any) -> list[str]:
    return [c.text for c in result.content if isinstance(c, TextContent)]


class Observed:
    """What the client saw; each step's value, or ``{"error": ...}`` when it raised."""

    def __init__(self) -> None:
        self.steps: dict[str, Any] = {}
        self.sampling: list[str] = []
        self.elicitation: list[str] = []
        self.logs: list[LoggingMessageNotificationParams] = []

    async def step(self, name: str, coro: Any) -> None:
        try:
            self.steps[name] = await asyncio.wait_for(coro, 20)
        except Exception as exc:
            self.steps[name] = {"error": f"{type(exc).__name__}: {exc}"}

    async def on_sampling(
        self, context: Any, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        content = params.messages[0].content
        assert isinstance(content, TextContent)
        self.sampling.append(content.text)
        reply = TextContent(type="text", text="sampled-by-python")
        return CreateMessageResult(role="assistant", content=reply, model="model-py")

    async def on_elicitation(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.elicitation.append(params.message)
        content: dict[str, str | int | float | bool | list[str] | None] = {
            "name": "Grace Hopper",
            "check": True,
            "integer": 11,
        }
        return ElicitResult(action="accept", content=content)

    async def on_log(self, params: LoggingMessageNotificationParams) -> None:
        self.logs.append(params)


async def _scenario(bridge: Bridge, transport: str) -> Observed:
    seen = Observed()
    server: Any = bridge.mcp_url if transport != "sse" else sse_client(bridge.sse_url)
    client = Client(
        server,
        sampling_callback=seen.on_sampling,
        elicitation_callback=seen.on_elicitation,
        logging_callback=seen.on_log,
        log_level="debug",  # 2026-07-28: opt in to the logs of this client's own requests
        mode="legacy" if transport == "streamable-2025" else "auto",
    )
    seen.steps["transport"] = transport
    async with client:
        modern = client.protocol_version == "2026-07-28"
        seen.steps["protocol_version"] = client.protocol_version
        info = client.server_info
        seen.steps["server_name"] = info.name if info else None

        async def tools() -> list[str]:
            return [t.name for t in (await client.list_tools()).tools]

        async def call(name: str, args: dict[str, Any]) -> list[str]:
            return _texts(await client.call_tool(name, args))

        async def resources() -> dict[str, Any]:
            listed = await client.list_resources()
            templates = await client.list_resource_templates()
            read = await client.read_resource("demo://resource/dynamic/text/3")
            return {
                "uris": [str(r.uri) for r in listed.resources],
                "templates": [t.uri_template for t in templates.resource_templates],
                "read": [getattr(c, "text", None) for c in read.contents],
            }

        async def prompts() -> dict[str, Any]:
            listed = await client.list_prompts()
            got = await client.get_prompt("args-prompt", {"city": "Oslo"})
            texts = [m.content.text for m in got.messages if isinstance(m.content, TextContent)]
            return {"names": [p.name for p in listed.prompts], "texts": texts}

        async def progress() -> dict[str, Any]:
            steps: list[tuple[float, float | None]] = []

            async def on_progress(
                progress: float, total: float | None, message: str | None
            ) -> None:
                steps.append((progress, total))

            args = {"duration": 1, "steps": 4}
            result = await client.call_tool(
                "trigger-long-running-operation", args, progress_callback=on_progress
            )
            return {"steps": steps, "texts": _texts(result)}

        async def logging() -> int:
            if not modern:  # removed in 2026-07-28 (log_level opts in per request instead)
                await client.set_logging_level("debug")
            await client.call_tool("toggle-simulated-logging", {})
            deadline = time.monotonic() + 4
            while not seen.logs and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await client.call_tool("toggle-simulated-logging", {})
            return len(seen.logs)

        async def cancel() -> dict[str, Any]:
            started = time.monotonic()
            outcome: dict[str, Any] = {}
            try:
                args = {"duration": 4, "steps": 4}
                await client.call_tool(
                    "trigger-long-running-operation", args, read_timeout_seconds=0.3
                )
                outcome["completed"] = True
            except Exception as exc:
                outcome["raised"] = type(exc).__name__
            outcome["elapsed"] = time.monotonic() - started
            if not modern:  # ping is removed in 2026-07-28
                await client.send_ping()
            outcome["after"] = await call("echo", {"message": "after cancel"})
            return outcome

        await seen.step("tools", tools())
        await seen.step("echo", call("echo", {"message": "from python"}))
        await seen.step("sum", call("get-sum", {"a": 1.5, "b": 2}))
        await seen.step("resources", resources())
        await seen.step("prompts", prompts())
        await seen.step("progress", progress())
        await seen.step("logging", logging())
        await seen.step("sampling", call("trigger-sampling-request", {"prompt": "hi from py"}))
        await seen.step("elicitation", call("trigger-elicitation-request", {}))
        await seen.step("cancel", cancel())
    return seen


@pytest.fixture(scope="module", params=MODES)
def everything_bridge(request: pytest.FixtureRequest):
    with bridged(everything_command(), *request.param) as bridge:
        yield bridge


@pytest.fixture(scope="module", params=["streamable-2026", "streamable-2025", "sse"])
def seen(everything_bridge: Bridge, request: pytest.FixtureRequest) -> Observed:
    return asyncio.run(asyncio.wait_for(_scenario(everything_bridge, request.param), 120))


def _ok(seen: Observed, step: str) -> Any:
    value = seen.steps[step]
    assert not (isinstance(value, dict) and "error" in value), f"{step} failed: {value}"
    return value


def test_the_client_settles_on_the_era_it_asks_for(seen: Observed) -> None:
    if seen.steps["transport"] == "streamable-2026":  # the default client probes discover
        assert seen.steps["protocol_version"] == "2026-07-28"
    else:
        assert seen.steps["protocol_version"] in ("2025-03-26", "2025-06-18", "2025-11-25")
    assert seen.steps["server_name"] == "mcp-servers/everything"


def test_tools(seen: Observed) -> None:
    tools = _ok(seen, "tools")
    for name in ("echo", "get-sum", "trigger-sampling-request", "trigger-elicitation-request"):
        assert name in tools
    assert _ok(seen, "echo") == ["Echo: from python"]
    assert _ok(seen, "sum") == ["The sum of 1.5 and 2 is 3.5."]


def test_resources(seen: Observed) -> None:
    resources = _ok(seen, "resources")
    assert "demo://resource/static/document/architecture.md" in resources["uris"]
    assert resources["templates"] == [
        "demo://resource/dynamic/text/{resourceId}",
        "demo://resource/dynamic/blob/{resourceId}",
    ]
    (text,) = resources["read"]
    assert text.startswith("Resource 3: This is a plaintext resource")


def test_prompts(seen: Observed) -> None:
    prompts = _ok(seen, "prompts")
    assert prompts["names"] == [
        "simple-prompt",
        "args-prompt",
        "completable-prompt",
        "resource-prompt",
    ]
    assert prompts["texts"] == ["What's weather in Oslo?"]


def test_progress(seen: Observed) -> None:
    progress = _ok(seen, "progress")
    assert progress["texts"] == ["Long running operation completed. Duration: 1 seconds, Steps: 4."]
    # Values in order; the last step may land after the result on legacy SSE (as it does with
    # server-everything served over SSE directly), when the client no longer listens for it.
    assert progress["steps"][:3] == [(1, 4), (2, 4), (3, 4)]
    assert progress["steps"] in ([(1, 4), (2, 4), (3, 4)], [(1, 4), (2, 4), (3, 4), (4, 4)])


def test_logging(seen: Observed) -> None:
    # 2026-07-28: the first log is written while the toggling call is in flight, so it is that
    # request's (which asked for logs with log_level); later ones belong to no request.
    assert _ok(seen, "logging") >= 1
    levels = {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}
    assert {entry.level for entry in seen.logs} <= levels
    assert all("message" in str(entry.data) for entry in seen.logs)


def test_sampling(seen: Observed) -> None:
    (text,) = _ok(seen, "sampling")
    assert seen.sampling == ["Resource trigger-sampling-request context: hi from py"]
    assert '"text": "sampled-by-python"' in text
    assert '"model": "model-py"' in text


def test_elicitation(seen: Observed) -> None:
    texts = _ok(seen, "elicitation")
    assert seen.elicitation == ["Please provide inputs for the following fields:"]
    assert texts[0] == "✅ User provided the requested information!"
    assert "- Name: Grace Hopper" in texts[1]
    assert "- Favorite Integer: 11" in texts[1]


def test_cancellation(seen: Observed) -> None:
    cancel = _ok(seen, "cancel")
    assert "completed" not in cancel
    assert cancel["raised"]
    assert cancel["elapsed"] < 2.0
    assert cancel["after"] == ["Echo: after cancel"]
