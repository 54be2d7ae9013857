"""Bridge settings: one frozen dataclass, checked once at the edge.

The CLI (``mcpb bridge``) and the loader both build a :class:`BridgeConfig`; everything below
the HTTP edge reads it and never re-validates.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcpb.bundle.errors import UsageError

#: Handshake-era protocol versions the bridge serves over streamable HTTP (oldest first).
SUPPORTED_PROTOCOL_VERSIONS: tuple[str, ...] = ("2025-03-26", "2025-06-18", "2025-11-25")
#: Also accepted in the ``MCP-Protocol-Version`` header: a stdio server that only speaks the
#: first protocol version negotiates it with the client, which then names it on every request.
HEADER_PROTOCOL_VERSIONS: frozenset[str] = frozenset({"2024-11-05", *SUPPORTED_PROTOCOL_VERSIONS})
#: Assumed when a request carries no ``MCP-Protocol-Version`` header (spec, 2025-06-18+).
DEFAULT_PROTOCOL_VERSION = "2025-03-26"
#: Versions whose JSON-RPC batches are accepted (2025-06-18 removed batches).
BATCH_PROTOCOL_VERSIONS: frozenset[str] = frozenset({"2024-11-05", "2025-03-26"})


@dataclass(frozen=True)
class BridgeConfig:
    """How the bridge listens and how it runs the stdio server behind it.

    Times are in seconds. ``session_timeout=None`` means sessions never expire while idle.
    ``stateful=True`` gives every session its own child process; otherwise one child is shared
    by all sessions and JSON-RPC ids are remapped so clients never see each other's traffic.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    mcp_path: str = "/mcp"
    sse_path: str = "/sse"
    message_path: str = "/message"
    health_paths: tuple[str, ...] = ("/health",)
    ready_path: str = "/ready"
    stateful: bool = False
    session_timeout: float | None = None
    max_sessions: int = 1000
    max_body: int = 4 * 1024 * 1024
    allow_origins: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    keepalive_interval: float = 15.0
    restart_backoff_min: float = 0.1
    restart_backoff_max: float = 5.0
    unavailable_timeout: float = 30.0
    init_timeout: float = 120.0
    kill_grace: float = 2.0
    max_message: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        paths = [self.mcp_path, self.sse_path, self.message_path, self.ready_path]
        paths += list(self.health_paths)
        for path in paths:
            if not path.startswith("/"):
                raise UsageError(f"bridge path {path!r} must start with '/'")
        if len(set(paths)) != len(paths):
            raise UsageError(f"bridge paths must be distinct, got {', '.join(paths)}")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port {self.port} is not a TCP port (0-65535)")
        if self.max_sessions < 1:
            raise UsageError(f"--max-sessions must be at least 1, got {self.max_sessions}")
        if self.max_body < 1024:
            raise UsageError(f"--max-body must be at least 1024 bytes, got {self.max_body}")
        if self.session_timeout is not None and self.session_timeout <= 0:
            raise UsageError(f"--sessionTimeout must be positive, got {self.session_timeout}")
        if self.keepalive_interval <= 0:
            raise UsageError(f"keep-alive interval must be positive, got {self.keepalive_interval}")
