"""The upstream SSE reader: events across any chunking, CRLF, comments, and its size limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpb.aggregator.sse_reader import EventTooLargeError, events

STREAM = (
    b": a comment\r\n"
    b"event: endpoint\r\ndata: /message?sessionId=1\r\n\r\n"
    b'data: {"a":1}\n\n'
    b"data: line one\ndata: line two\n\n"
    b"event:\ndata: no space\n\n"
    b"data: unterminated"
)
EXPECTED = [
    ("endpoint", "/message?sessionId=1"),
    ("message", '{"a":1}'),
    ("message", "line one\nline two"),
    ("message", "no space"),
]  # "unterminated" never got its blank line: not dispatched


async def _chunks(data: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted(set(cuts)):
        yield data[start:cut]
        start = cut
    yield data[start:]


def read(data: bytes, cuts: list[int], limit: int = 1 << 20) -> list[tuple[str, str]]:
    async def collect() -> list[tuple[str, str]]:
        return [event async for event in events(_chunks(data, cuts), limit)]

    return asyncio.run(collect())


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_events_survive_any_chunking(cuts: list[int]) -> None:
    assert read(STREAM, cuts) == EXPECTED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"data: " + b"x" * 2000 + b"\n\n", "sent an SSE event larger than 1024 bytes"),
        (b"data: " + b"x" * 2000, "sent an SSE line longer than 1024 bytes"),
        (b"data: " + b"x" * 600 + b"\ndata: " + b"y" * 600 + b"\n\n", "event larger than 1024"),
    ],
)
def test_oversized_events_and_lines_end_the_stream(data: bytes, message: str) -> None:
    with pytest.raises(EventTooLargeError, match=message):
        read(data, [len(data) // 3], limit=1024)
