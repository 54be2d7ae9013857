"""How the transport listens and what it allows: one frozen value, checked once.

Every entry point (``mcpb bridge``, ``mcpb run``, the images' loader, later the aggregator)
builds an :class:`HttpSettings` from its own flags or variables, reporting bad values under the
names the user typed; ``__post_init__`` only guards the invariants the transport relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcpb.bundle.errors import UsageError
from mcpb.mcphttp.buffer import DEFAULT_MAX_BUFFER

#: Sessions allowed at once unless configured.
DEFAULT_MAX_SESSIONS = 1000
DEFAULT_MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True)
class HttpSettings:
    """The HTTP side of a served MCP endpoint. Times are in seconds.

    ``session_timeout=None`` means sessions never expire while idle. ``allow_origins`` and
    ``allowed_hosts`` empty mean the defaults of :mod:`mcpb.mcphttp.guard` (loopback only when
    bound to loopback, anything otherwise). ``base_url`` prefixes the legacy ``endpoint`` URL.
    ``max_buffer`` bounds, in bytes, each buffer one client can make the server hold (its
    stream, a request's stream, messages waiting for a stream); ``hold_seconds`` is how long a
    message waits for the client to open a stream.

    The 2026-07-28 era (``modern``, on unless a backend cannot serve it yet): list results and
    ``resources/read`` carry ``cache_ttl_ms`` and ``cache_scope`` unless the server set its
    own; a request waiting for its client's input (``input_required``) is cancelled after
    ``input_timeout`` seconds, and at most ``max_sessions`` wait at once. The tasks extension:
    a ``tools/call`` of a client that declared it becomes a task after running ``task_after``
    seconds (a tool declaring task support: after at most 0.25 s; None: no tasks offered); a
    task is kept ``task_ttl_ms`` from its creation, at most ``max_sessions`` at once, and the
    outcomes kept take at most ``task_memory`` bytes together (``max_buffer`` each).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    mcp_path: str = "/mcp"
    sse_path: str = "/sse"
    message_path: str = "/message"
    health_paths: tuple[str, ...] = ("/health",)
    ready_path: str = "/ready"
    session_timeout: float | None = None
    max_sessions: int = DEFAULT_MAX_SESSIONS
    max_body: int = DEFAULT_MAX_BODY
    allow_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    keepalive_interval: float = 15.0
    init_timeout: float = 120.0
    base_url: str = ""
    max_buffer: int = DEFAULT_MAX_BUFFER
    hold_seconds: float = 10.0
    modern: bool = True
    cache_ttl_ms: int = 0
    cache_scope: str = "private"
    input_timeout: float = 300.0
    task_after: float | None = 1.0
    task_ttl_ms: int = 3_600_000
    task_memory: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        paths = [self.mcp_path, self.sse_path, self.message_path, self.ready_path]
        paths += list(self.health_paths)
        for path in paths:
            if not path.startswith("/"):
                raise UsageError(f"path {path!r} must start with '/'")
        if len(set(paths)) != len(paths):
            raise UsageError(f"the served paths must be distinct, got {', '.join(paths)}")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"port {self.port} is not a TCP port (0-65535)")
        if self.max_sessions < 1:
            raise UsageError(f"the session limit must be at least 1, got {self.max_sessions}")
        if self.max_body < 1024:
            raise UsageError(f"the body limit must be at least 1024 bytes, got {self.max_body}")
        if self.session_timeout is not None and self.session_timeout <= 0:
            raise UsageError(f"the session timeout must be positive, got {self.session_timeout}")
        if self.max_buffer < 64 * 1024:
            raise UsageError(f"the client buffer must be at least 64 KiB, got {self.max_buffer}")
        if self.hold_seconds <= 0:
            raise UsageError(f"the hold time must be positive, got {self.hold_seconds}")
        if self.cache_ttl_ms < 0:
            raise UsageError(
                f"the cache TTL must be 0 or more milliseconds, got {self.cache_ttl_ms}"
            )
        if self.cache_scope not in ("public", "private"):
            raise UsageError(f"the cache scope must be public or private, got {self.cache_scope!r}")
        if self.input_timeout <= 0:
            raise UsageError(f"the input timeout must be positive, got {self.input_timeout}")
        if self.task_after is not None and self.task_after <= 0:
            raise UsageError(f"the task delay must be positive, got {self.task_after}")
        if self.task_memory < 64 * 1024:
            raise UsageError(f"the task memory must be at least 64 KiB, got {self.task_memory}")
        if self.task_ttl_ms < 1000:
            raise UsageError(f"the task TTL must be at least 1000 ms, got {self.task_ttl_ms}")
        if self.keepalive_interval <= 0:
            raise UsageError(f"keep-alive interval must be positive, got {self.keepalive_interval}")
