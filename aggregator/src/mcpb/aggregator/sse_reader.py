"""Reading a ``text/event-stream`` from an upstream: events as (type, data), bounded in size.

Only what MCP uses: ``event`` and ``data`` fields, comments ignored, an event ending at a blank
line, lines ending in LF or CRLF (a lone CR, which no MCP server sends, is not a line end
here), and an event the stream ends in the middle of is dropped, as the spec says. An event or a
line larger than ``max_event`` bytes ends the stream with an error: an
upstream must not make the aggregator hold unbounded memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator


class EventTooLargeError(Exception):
    """An upstream sent an SSE event over the size limit."""


async def events(chunks: AsyncIterator[bytes], max_event: int) -> AsyncIterator[tuple[str, str]]:
    """``(event type, data)`` for each event of a stream of body chunks."""
    kind = "message"
    data: list[str] = []
    size = 0
    pending = b""
    async for chunk in chunks:
        pending += chunk
        if b"\n" not in chunk:
            if len(pending) > max_event:
                raise EventTooLargeError(f"sent an SSE line longer than {max_event} bytes")
            continue
        lines = pending.split(b"\n")
        pending = lines.pop()
        if len(pending) > max_event:
            raise EventTooLargeError(f"sent an SSE line longer than {max_event} bytes")
        for line in lines:
            raw = line[:-1] if line.endswith(b"\r") else line
            if not raw:
                if data:
                    yield kind, "\n".join(data)
                kind, data, size = "message", [], 0
                continue
            if raw.startswith(b":"):
                continue
            name, _, value = raw.decode("utf-8", "replace").partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                size += len(value) + 1
                if size > max_event:
                    raise EventTooLargeError(f"sent an SSE event larger than {max_event} bytes")
                data.append(value)
            elif name == "event":
                kind = value or "message"
    # an event the stream ends before its blank line is not dispatched (the SSE spec)
