"""The official MCP Python SDK client against a container: list tools, call one."""

from __future__ import annotations

import asyncio
from typing import Any

from mcp import Client


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
