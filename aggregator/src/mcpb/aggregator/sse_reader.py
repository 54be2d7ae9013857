"""Reading a ``text/event-stream`` from an upstream: events as (type, data), bounded in size.

Only what MCP uses: ``event`` and ``data`` fields, comments ignored, an event ending at a blank
line. An event larger than ``max_event`` bytes ends the stream with an error (an upstream must
not make the aggregator hold unbounded memory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator


class EventTooLargeError(Exception):
    """An upstream sent an SSE event over the size limit."""


async def events(lines: AsyncIterator[str], max_event: int) -> AsyncIterator[tuple[str, str]]:
    """``(event type, data)`` for each event of a stream of lines."""
    kind = "message"
    data: list[str] = []
    size = 0
    async for line in lines:
        if not line:
            if data:
                yield kind, "\n".join(data)
            kind, data, size = "message", [], 0
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            size += len(value) + 1
            if size > max_event:
                raise EventTooLargeError(f"an event is larger than {max_event} bytes")
            data.append(value)
        elif name == "event":
            kind = value or "message"
    if data:
        yield kind, "\n".join(data)
