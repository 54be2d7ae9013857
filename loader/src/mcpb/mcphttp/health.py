"""``/health`` and ``/ready``: one body for every server we run (bridge, proxy, aggregator).

``/health`` says the process and what it serves are alive: ``200 ok`` (text), else ``503 down``.
``/ready`` says whether a client would be served now, as JSON
``{"ready": bool, "sessions": int | null, "reason": str | null}`` (plus what a server adds,
such as the aggregator's per-upstream states) with 200 or 503; the container images'
HEALTHCHECK polls it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from mcpb.mcphttp.asgi import JSON, TEXT, Receive, Scope, Send, respond
from mcpb.mcphttp.errors import HTTPError


@dataclass(frozen=True, slots=True)
class Readiness:
    """The answer of a readiness check; ``reason`` says why not (None when ready)."""

    ready: bool
    sessions: int | None = None
    reason: str | None = None
    details: Mapping[str, Any] | None = None

    def body(self) -> bytes:
        """The JSON body of ``/ready``."""
        body = {"ready": self.ready, "sessions": self.sessions, "reason": self.reason}
        return orjson.dumps({**body, **(self.details or {})})


def always_alive() -> bool:
    """The ``alive`` check of a server that is alive whenever it can answer."""
    return True


class HealthEndpoint:
    """``GET|HEAD /health``: liveness."""

    def __init__(self, alive: Callable[[], bool] = always_alive) -> None:
        self.alive = alive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _get_only(scope)
        if self.alive():
            await respond(send, 200, b"ok", TEXT)
        else:
            await respond(send, 503, b"down", TEXT)


class ReadyEndpoint:
    """``GET|HEAD /ready``: readiness, from an async check."""

    def __init__(self, check: Callable[[], Awaitable[Readiness]]) -> None:
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _get_only(scope)
        state = await self.check()
        await respond(send, 200 if state.ready else 503, state.body(), JSON)


def _get_only(scope: Scope) -> None:
    if scope["method"] not in ("GET", "HEAD"):
        raise HTTPError(405, "method not allowed", plain=True, headers=[(b"allow", b"GET, HEAD")])
