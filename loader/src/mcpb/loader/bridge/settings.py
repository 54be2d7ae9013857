"""The bridge's settings: the transport's :class:`HttpSettings` plus how the stdio child runs.

Built once at the edge (``mcpb bridge`` flags, or the loader's configuration) and never
re-validated below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mcpb.mcphttp.settings import HttpSettings

#: Session limits per bridge mode: a stateful session costs a whole server process.
MAX_SESSIONS = {"shared": 1000, "stateful": 64}


@dataclass(frozen=True)
class StdioSettings:
    """How a stdio child is supervised. Times are in seconds.

    ``stateful_hint`` is how the user would switch to one child per session, in the words of
    the entry point that configured the bridge (``--stateful``, ``MCPB_BRIDGE_MODE=stateful``):
    error texts quote it. ``request_timeout`` (None: never) answers a request the server has
    not answered in time with an error and cancels it in the server. ``crash_limit``
    consecutive exits within ``STABLE_AFTER`` seconds of a start end the restarting (0: never).
    ``max_backlog`` bounds the bytes written to the child that it has not read yet: past it
    new requests get 503 instead of waiting for a server that stopped reading.
    """

    restart_backoff_min: float = 0.1
    restart_backoff_max: float = 5.0
    unavailable_timeout: float = 30.0
    kill_grace: float = 2.0
    max_message: int = 64 * 1024 * 1024
    stateful_hint: str = "--stateful"
    request_timeout: float | None = 600.0
    crash_limit: int = 5
    max_backlog: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class BridgeConfig:
    """A stdio server bridged to HTTP: ``stateful=True`` gives every session its own child;
    otherwise one child is shared and JSON-RPC ids are remapped so clients never see each
    other's traffic."""

    http: HttpSettings = field(default_factory=HttpSettings)
    stdio: StdioSettings = field(default_factory=StdioSettings)
    stateful: bool = False
