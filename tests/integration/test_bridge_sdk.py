"""The official Python SDK client (``mcp`` 2.x) against bridged stdio servers."""

from __future__ import annotations

import asyncio
import json

import pytest
from mcp import Client
from mcp.types import TextContent

from tests.support.servers import Bridge, bridged, echo_command

MODES = [pytest.param((), id="shared"), pytest.param(("--stateful",), id="stateful")]


@pytest.fixture(params=MODES, scope="module")
def echo_bridge(request: pytest.FixtureRequest):
    with bridged(echo_command(), *request.param) as bridge:
        yield bridge


def test_default_client_lists_and_calls_tools(echo_bridge: Bridge) -> None:
    async def scenario() -> tuple[list[str], str, str]:
        async with Client(echo_bridge.mcp_url) as client:
            tools = await client.list_tools()
            result = await client.call_tool("echo", {"word": "hello", "n": 3})
            content = result.content[0]
            assert isinstance(content, TextContent)
            return [t.name for t in tools.tools], content.text, client.protocol_version

    names, text, version = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert names == ["echo", "progress", "sample", "sleep", "stats", "pid", "notify_changed"]
    assert json.loads(text) == {"n": 3, "word": "hello"}
    assert version == "2025-11-25"
