"""One HTTP request to a vMCP, as the access log and the metrics see it.

The router opens an :class:`Exchange` for every request to ``/vmcp/{name}/…`` and makes it
current (a context variable: the transport core passes no such thing along, and everything
that handles the request runs in its task or in tasks created from it); the vMCP's backend
fills in what only it knows — the JSON-RPC method, the tool, the upstream, the outcome — and
the HTTP upstreams read the request id and trace context from it to send them on.

Identifiers from outside are checked before use: a client's ``X-Request-Id`` is kept when it is
a short token of visible characters (else one is made), a ``traceparent`` only when it is
well-formed W3C trace context (the upstream then gets the same trace with a new parent id, this
hop's).
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

# Request and span ids need to be unique, not secret: a seeded PRNG is enough (and cheap).
_random = random.Random()  # noqa: S311 - ids, not secrets
_REQUEST_ID = re.compile(r"^[!-~]{1,128}$")
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass
class Exchange:
    """What is known about one request; filled in as it is handled."""

    vmcp: str
    request_id: str
    trace_id: str | None = None
    trace_flags: str = "00"
    parent_id: str | None = None  # the client's span, from its traceparent
    span_id: str = field(default_factory=lambda: f"{_random.getrandbits(64):016x}")
    started: float = field(default_factory=time.monotonic)
    http_method: str = ""
    status: int = 0
    client: str = "anonymous"
    session_id: str | None = None  # the raw id: written only hashed (:func:`session_hash`)
    method: str | None = None
    tool: str | None = None
    upstream: str | None = None
    outcome: str | None = None
    reason: str | None = None  # why authentication refused it

    @property
    def traceparent(self) -> str | None:
        """The trace context this hop sends upstream (``None`` when the client sent none)."""
        if self.trace_id is None:
            return None
        return f"00-{self.trace_id}-{self.span_id}-{self.trace_flags}"

    def upstream_headers(self) -> dict[str, str]:
        """``X-Request-Id`` and ``traceparent`` for a request sent upstream on its behalf."""
        headers = {"x-request-id": self.request_id}
        if self.traceparent is not None:
            headers["traceparent"] = self.traceparent
        return headers


current_exchange: ContextVar[Exchange | None] = ContextVar("mcpb_exchange", default=None)


def open_exchange(vmcp: str, headers: list[tuple[bytes, bytes]], http_method: str) -> Exchange:
    """An exchange for a request with these headers: its request id and trace context."""
    request_id = None
    trace_id = None
    parent_id = None
    flags = "00"
    for key, value in headers:
        if key == b"x-request-id":
            text = value.decode("latin-1")
            request_id = text if _REQUEST_ID.match(text) else None
        elif key == b"traceparent":
            match = _TRACEPARENT.match(value.decode("latin-1"))
            if match is not None and match.group(1) != "0" * 32:
                trace_id, parent_id, flags = match.group(1), match.group(2), match.group(3)
    made = request_id or f"{_random.getrandbits(128):032x}"
    exchange = Exchange(vmcp, made, trace_id, flags, parent_id=parent_id)
    exchange.http_method = http_method
    return exchange


def session_hash(session_id: str) -> str:
    """A session id as logs show it: 16 hex digits of its SHA-256 (the id is a bearer of the
    session, so it is not written down)."""
    return hashlib.sha256(session_id.encode("latin-1")).hexdigest()[:16]
