"""The official Python SDK client (``mcp`` 2.x) against bridged stdio servers.

The client runs in its default connect mode, which probes ``server/discover`` first and
settles on 2026-07-28 over streamable HTTP (tests/integration/test_protocol_eras.py pins
each era); over legacy SSE it uses the handshake.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitResult,
    LoggingMessageNotificationParams,
    TextContent,
)

from tests.support.mcp_calls import run, text_of
from tests.support.servers import Bridge, bridged, echo_command
from tests.support.stdio_peers import everything_command, time_command

MODES = [pytest.param((), id="shared"), pytest.param(("--stateful",), id="stateful")]


@pytest.fixture(params=MODES, scope="module")
def echo_bridge(request: pytest.FixtureRequest):
    with bridged(echo_command(), *request.param) as bridge:
        yield bridge


@pytest.fixture(params=MODES, scope="module")
def time_bridge(request: pytest.FixtureRequest):
    with bridged(time_command(), *request.param) as bridge:
        yield bridge


def test_default_client_lists_and_calls_tools(echo_bridge: Bridge) -> None:
    async def scenario() -> tuple[list[str], str, str]:
        async with Client(echo_bridge.mcp_url) as client:
            tools = await client.list_tools()
            result = await client.call_tool("echo", {"word": "hello", "n": 3})
            return [t.name for t in tools.tools], text_of(result), client.protocol_version

    names, text, version = run(scenario())
    assert names[:7] == ["echo", "progress", "sample", "sleep", "stats", "pid", "notify_changed"]
    assert json.loads(text) == {"n": 3, "word": "hello"}
    assert version == "2026-07-28"


def test_progress_and_logging_reach_the_client(echo_bridge: Bridge) -> None:
    seen_progress: list[float] = []
    logs: list[Any] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen_progress.append(progress)

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async def scenario() -> str:
        # 2026-07-28 delivers a request's logs only when it asks (log_level stamps every one)
        client = Client(echo_bridge.mcp_url, logging_callback=on_log, log_level="debug")
        async with client:
            result = await client.call_tool("progress", {"steps": 3}, progress_callback=on_progress)
            return text_of(result)

    assert run(scenario()) == "done 3"
    assert seen_progress == [1, 2, 3]
    assert logs == ["step 1", "step 2", "step 3"]


def test_sampling_request_is_routed_to_the_asking_client(echo_bridge: Bridge) -> None:
    stateful = "--stateful" in echo_bridge.args

    async def scenario(name: str) -> str:
        async def sample(context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
            asked = params.messages[0].content
            assert isinstance(asked, TextContent)
            return CreateMessageResult(
                role="assistant",
                content=TextContent(type="text", text=f"{name} answers {asked.text}"),
                model="test",
            )

        # Stateful mode routes by session: only handshake-era (2025) clients have one. 2026
        # requests share one child in either mode, where the shared-mode rule below applies.
        mode = "legacy" if stateful else "auto"
        async with Client(echo_bridge.mcp_url, sampling_callback=sample, mode=mode) as client:
            result = await client.call_tool("sample", {"prompt": f"question of {name}"})
            return text_of(result)

    async def both() -> list[str]:
        return list(await asyncio.gather(scenario("alice"), scenario("bob")))

    results = run(both())
    for name, text in zip(("alice", "bob"), results, strict=True):
        if not stateful and text.startswith("sampling failed: "):
            # The question came while both clients had calls in flight, so the owner was not
            # certain and the bridge refused it rather than guess.
            assert "cannot be routed" in text and "share one child" in text
            continue
        assert text == f"sampled: {name} answers question of {name}"


def test_legacy_sse_client(echo_bridge: Bridge) -> None:
    async def scenario() -> tuple[list[str], str]:
        async with Client(sse_client(echo_bridge.sse_url)) as client:
            tools = await client.list_tools()
            result = await client.call_tool("echo", {"via": "sse"})
            return [t.name for t in tools.tools], text_of(result)

    names, text = run(scenario())
    assert "echo" in names
    assert json.loads(text) == {"via": "sse"}


def test_mcp_server_time_over_streamable_http(time_bridge: Bridge) -> None:
    async def scenario() -> tuple[list[str], dict[str, Any]]:
        async with Client(time_bridge.mcp_url) as client:
            tools = await client.list_tools()
            result = await client.call_tool("get_current_time", {"timezone": "UTC"})
            return [t.name for t in tools.tools], json.loads(text_of(result))

    names, answer = run(scenario(), 60)
    assert "get_current_time" in names
    assert "convert_time" in names
    assert answer["timezone"] == "UTC"
    assert answer["datetime"].endswith("+00:00")


def test_mcp_server_time_over_legacy_sse(time_bridge: Bridge) -> None:
    async def scenario() -> dict[str, Any]:
        async with Client(sse_client(time_bridge.sse_url)) as client:
            result = await client.call_tool(
                "convert_time",
                {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
            )
            return dict(json.loads(text_of(result)))

    answer = run(scenario(), 60)
    assert answer["source"]["timezone"] == "UTC"
    assert answer["target"]["timezone"] == "Asia/Tokyo"
    assert answer["target"]["datetime"][11:16] == "21:00"


@pytest.fixture(params=MODES, scope="module")
def everything_bridge(request: pytest.FixtureRequest):
    with bridged(everything_command(), *request.param) as bridge:
        yield bridge


def test_server_everything_round_trips(everything_bridge: Bridge) -> None:
    """Sampling, elicitation, progress, prompts and resources through the bridge (npm server)."""
    seen_progress: list[float] = []

    async def sample(context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="sampled-ok"), model="m"
        )

    async def elicit(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"color": "red"})

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen_progress.append(progress)

    async def scenario() -> dict[str, Any]:
        async with Client(
            everything_bridge.mcp_url, sampling_callback=sample, elicitation_callback=elicit
        ) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hi"})
            elicited = await client.call_tool("trigger-elicitation-request", {})
            long_op = await client.call_tool(
                "trigger-long-running-operation",
                {"duration": 1, "steps": 3},
                progress_callback=on_progress,
            )
            prompt = await client.get_prompt("args-prompt", {"city": "Paris", "state": "TX"})
            resources = (await client.list_resources()).resources
            read = await client.read_resource(resources[0].uri)
            return {
                "tools": tools,
                "sampled": text_of(sampled),
                "elicited": " ".join(
                    c.text for c in elicited.content if isinstance(c, TextContent)
                ),
                "long": text_of(long_op),
                "prompt": prompt.messages[0].content,
                "read": read.contents[0].uri,
                "first": resources[0].uri,
            }

    got = run(scenario(), 60)
    assert {"trigger-sampling-request", "trigger-elicitation-request"} <= got["tools"]
    assert '"text": "sampled-ok"' in got["sampled"]
    assert "Favorite Color: red" in got["elicited"]
    assert got["long"].startswith("Long running operation completed")
    assert seen_progress == [1.0, 2.0, 3.0]
    assert isinstance(got["prompt"], TextContent)
    assert "Paris" in got["prompt"].text
    assert got["read"] == got["first"]
