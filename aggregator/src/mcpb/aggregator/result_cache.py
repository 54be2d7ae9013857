"""Cached results of read-only tool calls, per client identity, for a configured time.

Only tools whose listing says ``annotations.readOnlyHint: true`` are cached, only successful
results (no JSON-RPC error, no ``isError``), and always under the caller's identity: two
identities never share an entry, whatever the arguments. An entry is the ``result`` as the
client received it (names and URIs already rewritten), kept ``ttl`` seconds. The cache is
bounded in entries and in bytes, the least recently used going first; a change of the vMCP's
``cache`` settings starts it afresh.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

#: A result larger than this is not kept (it would crowd out everything else).
MAX_ENTRY = 256 << 10


class ResultCache:
    """``(identity, tool, arguments) → result`` bytes for ``ttl`` seconds (module docstring)."""

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self.size = 0
        self._entries: OrderedDict[tuple[str, str, bytes], tuple[float, bytes]] = OrderedDict()

    @staticmethod
    def key(identity: str, tool: str, arguments: Any) -> tuple[str, str, bytes] | None:
        """The entry key; ``None`` for arguments that cannot be keyed (not JSON-encodable)."""
        try:
            encoded = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        return identity, tool, encoded

    def get(self, key: tuple[str, str, bytes]) -> bytes | None:
        """The cached ``result`` bytes, if fresh."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored, result = entry
        if self.clock() - stored >= self.ttl:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return result

    def put_answer(self, key: tuple[str, str, bytes], answer: bytes) -> None:
        """Keep the ``result`` of a successful JSON-RPC answer (errors are not cached)."""
        if len(answer) > MAX_ENTRY:
            return
        try:
            message = orjson.loads(answer)
        except orjson.JSONDecodeError:
            return
        result = message.get("result") if isinstance(message, dict) else None
        if not isinstance(result, dict) or result.get("isError"):
            return
        encoded = orjson.dumps(result)
        self._drop(key)
        self._entries[key] = (self.clock(), encoded)
        self.size += len(encoded)
        while self._entries and (
            len(self._entries) > self.max_entries or self.size > self.max_bytes
        ):
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, str, bytes]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry[1])
