"""What one upstream offers, as last listed: its identity, capabilities and four lists.

Lists are fetched whole (every page) when the upstream comes up and again when it says one
changed; vMCPs serve their merged views from these copies, so a client's ``tools/list`` never
waits on an upstream. Bounded: a server that pages forever or lists without end is cut off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

#: Pages and items read per list before the rest is ignored.
MAX_PAGES = 100
MAX_ITEMS = 10_000

#: list method → (result key, capability that offers it)
LISTS = {
    "tools/list": ("tools", "tools"),
    "prompts/list": ("prompts", "prompts"),
    "resources/list": ("resources", "resources"),
    "resources/templates/list": ("resourceTemplates", "resources"),
}

Asker = Callable[[str, Any], Awaitable[Any]]


@dataclass
class Catalog:
    """An upstream's ``initialize`` result and lists."""

    protocol_version: str = ""
    server_info: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    instructions: str | None = None
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def from_initialize(cls, result: Any) -> Catalog:
        """The identity part, from an ``initialize`` result."""
        result = result if isinstance(result, dict) else {}
        info = result.get("serverInfo")
        caps = result.get("capabilities")
        instructions = result.get("instructions")
        version = result.get("protocolVersion")
        return cls(
            protocol_version=version if isinstance(version, str) else "",
            server_info=info if isinstance(info, dict) else {},
            capabilities=caps if isinstance(caps, dict) else {},
            instructions=instructions if isinstance(instructions, str) else None,
        )

    @property
    def version(self) -> str:
        """The upstream's server version (``serverInfo.version``)."""
        value = self.server_info.get("version")
        return value if isinstance(value, str) else ""

    def offers(self, method: str) -> bool:
        """Whether the upstream's capabilities include what ``method`` lists."""
        return LISTS[method][1] in self.capabilities

    async def refresh(self, asker: Asker, methods: tuple[str, ...] = tuple(LISTS)) -> None:
        """Re-read ``methods`` (those the upstream offers) through ``asker``."""
        for method in methods:
            if self.offers(method):
                self.items[method] = await read_all(asker, method)


async def read_all(asker: Asker, method: str) -> list[dict[str, Any]]:
    """Every item of one list, following cursors (bounded)."""
    key = LISTS[method][0]
    items: list[dict[str, Any]] = []
    cursor: Any = None
    for _ in range(MAX_PAGES):
        result = await asker(method, {"cursor": cursor} if cursor is not None else None)
        page = result.get(key) if isinstance(result, dict) else None
        if isinstance(page, list):
            items.extend(item for item in page if isinstance(item, dict))
        cursor = result.get("nextCursor") if isinstance(result, dict) else None
        if not isinstance(cursor, str) or not cursor or len(items) >= MAX_ITEMS:
            break
    return items[:MAX_ITEMS]
