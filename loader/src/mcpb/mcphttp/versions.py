"""The MCP protocol revisions the transport serves, and what each allows on the wire.

Two eras share one endpoint: the handshake era (``initialize``, sessions; 2024-11-05 to
2025-11-25) and the stateless era that began with 2026-07-28 (every request carries its
version and the client's capabilities in ``params._meta``; no ``initialize``, no sessions).
"""

from __future__ import annotations

#: Handshake-era protocol versions served over streamable HTTP (oldest first).
SUPPORTED_PROTOCOL_VERSIONS: tuple[str, ...] = ("2025-03-26", "2025-06-18", "2025-11-25")
#: Also accepted in the ``MCP-Protocol-Version`` header: a server that only speaks the first
#: protocol version negotiates it with the client, which then names it on every request.
HEADER_PROTOCOL_VERSIONS: frozenset[str] = frozenset({"2024-11-05", *SUPPORTED_PROTOCOL_VERSIONS})
#: Assumed when a request carries no ``MCP-Protocol-Version`` header (spec, 2025-06-18+).
DEFAULT_PROTOCOL_VERSION = "2025-03-26"
#: Versions whose JSON-RPC batches are accepted (2025-06-18 removed batches).
BATCH_PROTOCOL_VERSIONS: frozenset[str] = frozenset({"2024-11-05", "2025-03-26"})
#: The newest handshake-era version: what an intermediary asks its upstreams for first.
LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[-1]
#: Every version a client may negotiate in ``initialize`` (the legacy SSE era included).
NEGOTIABLE_PROTOCOL_VERSIONS: frozenset[str] = HEADER_PROTOCOL_VERSIONS
#: Stateless-era versions (oldest first): no handshake, a ``_meta`` envelope per request.
MODERN_PROTOCOL_VERSIONS: tuple[str, ...] = ("2026-07-28",)
#: What ``server/discover`` and an unsupported-version error list: modern first.
ALL_SERVED_VERSIONS: tuple[str, ...] = (
    *reversed(MODERN_PROTOCOL_VERSIONS),
    *reversed(SUPPORTED_PROTOCOL_VERSIONS),
)
