"""The official MCP Python SDK client in tests: run a scenario, read a text result, and against
a container: list tools, call one."""

from __future__ import annotations

import asyncio
from typing import Any

from mcp import Client
from mcp.types import TextContent


def run(scenario: Any, timeout: float = 30) -> Any:
    """Run a client scenario (a coroutine) in a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(scenario, timeout))


def text_of(result: Any) -> str:
    """The text of a result's first content item (which must be text)."""
    content = result.content[0]
    assert isinstance(content, TextContent)
    return content.text


async def _list_and_call(url: str, tool: str, arguments: dict[str, Any]) -> tuple[list[str], str]:
    async with Client(url) as client:
        listed = await client.list_tools()
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, result
        text = "".join(getattr(c, "text", "") for c in result.content)
        return sorted(t.name for t in listed.tools), text


def list_and_call(
    url: str, tool: str, arguments: dict[str, Any], timeout: float = 60.0
) -> tuple[list[str], str]:
    """Sorted tool names and the text of one successful call."""
    return asyncio.run(asyncio.wait_for(_list_and_call(url, tool, arguments), timeout))


TOKYO_NOON = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
