"""How the bridge cuts a stdio server's output into messages (mcpb.loader.bridge.child.LineFeed)."""

from __future__ import annotations

from mcpb.loader.bridge.child import LineFeed


class Lines:
    def __init__(self, limit: int) -> None:
        self.lines: list[bytes] = []
        self.dropped = 0
        self.feed = LineFeed(self.lines.append, self._drop, limit)

    def _drop(self) -> None:
        self.dropped += 1


def test_lines_come_out_whatever_the_chunking() -> None:
    text = b'{"a":1}\n{"b":2}\n\n{"c":3}\n'
    for size in (1, 2, 3, 5, 8, len(text)):
        got = Lines(limit=100)
        for i in range(0, len(text), size):
            got.feed.feed(text[i : i + size])
        assert got.lines == [b'{"a":1}', b'{"b":2}', b"", b'{"c":3}'], size
        assert got.dropped == 0


def test_a_last_line_without_newline_counts_at_eof() -> None:
    got = Lines(limit=100)
    got.feed.feed(b"one\ntw")
    got.feed.feed(b"o")
    assert got.lines == [b"one"]
    got.feed.end()
    assert got.lines == [b"one", b"two"]
    got.feed.end()  # nothing held any more
    assert got.lines == [b"one", b"two"]


def test_an_over_long_line_is_dropped_and_the_stream_goes_on() -> None:
    got = Lines(limit=10)
    got.feed.feed(b"short\n" + b"x" * 11 + b"\nafter\n")  # whole in one chunk
    assert got.lines == [b"short", b"after"]
    assert got.dropped == 1
    for chunk in (b"y" * 6, b"y" * 6, b"y" * 30, b"yy\nnext\n"):  # spread over chunks
        got.feed.feed(chunk)
    assert got.lines == [b"short", b"after", b"next"]
    assert got.dropped == 2


def test_exactly_the_limit_is_kept() -> None:
    got = Lines(limit=4)
    got.feed.feed(b"ab")
    got.feed.feed(b"cd\nabcde\n")
    assert got.lines == [b"abcd"]
    assert got.dropped == 1
