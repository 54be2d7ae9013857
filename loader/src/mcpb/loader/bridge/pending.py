"""The requests in flight to one stdio child: id and progress-token remapping, cancel, fail-all.

Every request forwarded to the child gets a fresh integer id (and its progress token is
replaced by that id), so ids chosen by different clients never collide inside the child. The
table maps the child's ids back to the :class:`Pending` record: whose request it is, where its
answer goes, and what the attribution rules need to know about it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.session import Session
from mcpb.mcphttp.sink import Sink

V = TypeVar("V")

#: Requests during which a server typically asks the client something (sampling, elicitation).
ASKS_BACK = frozenset({"tools/call", "prompts/get", "resources/read", "completion/complete"})


@dataclass(slots=True, eq=False)
class Pending:
    """A request forwarded to the child and not yet answered.

    ``session is None`` marks the bridge's own requests (``ping``, a replayed ``initialize``),
    whose answer resolves ``future`` instead of going to a client.
    """

    upstream_id: int
    client_id: Any
    session: Session | None
    sink: Sink | None
    token: Any = None
    has_token: bool = False
    is_init: bool = False
    asks_back: bool = False
    asking: int = 0
    kind: str = ""
    arguments: Any = None
    init_params: Any = None
    future: asyncio.Future[Message] | None = None
    started: float = 0.0


def lookup(table: Mapping[Any, V], key: Any) -> V | None:
    """``table.get(key)`` that treats unhashable keys (hostile ids) as absent."""
    try:
        return table.get(key)
    except TypeError:
        return None


class PendingTable:
    """Requests in flight by child-side id, and by remapped progress token."""

    def __init__(self) -> None:
        self._by_id: dict[int, Pending] = {}
        self._progress: dict[int, Pending] = {}
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Pending]:
        """Oldest first."""
        return iter(self._by_id.values())

    def new_id(self) -> int:
        """A child-side id no request in flight uses."""
        self._next_id += 1
        return self._next_id

    def add_request(
        self, session: Session, message: Message, sink: Sink | None, *, is_init: bool
    ) -> Pending:
        """Record a client request and rewrite ``message`` in place for the child.

        Its id becomes a fresh child-side id and a progress token becomes that same id; the
        record is also listed in ``session.inflight`` under the client's id.
        """
        upstream_id = self.new_id()
        client_id = message["id"]
        method = message["method"]
        pending = Pending(
            upstream_id,
            client_id,
            session,
            sink,
            is_init=is_init,
            asks_back=method in ASKS_BACK,
            started=time.monotonic(),
        )
        params = message.get("params")
        if isinstance(params, dict):
            if pending.asks_back:
                name = params.get("name")
                pending.kind = f"{method} {name}" if isinstance(name, str) else method
                pending.arguments = params.get("arguments")
            meta = params.get("_meta")
            if isinstance(meta, dict) and "progressToken" in meta:
                pending.token = meta["progressToken"]
                pending.has_token = True
                meta["progressToken"] = upstream_id
                self._progress[upstream_id] = pending
            if is_init:
                pending.init_params = params
        message["id"] = upstream_id
        self._by_id[upstream_id] = pending
        session.inflight[client_id] = pending
        return pending

    def add_internal(self, future: asyncio.Future[Message]) -> int:
        """Record a request of the bridge's own; its answer resolves ``future``."""
        upstream_id = self.new_id()
        self._by_id[upstream_id] = Pending(upstream_id, None, None, None, future=future)
        return upstream_id

    def take(self, upstream_id: Any) -> Pending | None:
        """Remove and return the request answered by the child's ``upstream_id``."""
        pending = lookup(self._by_id, upstream_id)
        if pending is None:
            return None
        del self._by_id[pending.upstream_id]
        self.forget(pending)
        return pending

    def discard(self, pending: Pending) -> bool:
        """Remove ``pending`` if it is still in flight; whether it was."""
        if self._by_id.get(pending.upstream_id) is not pending:
            return False
        del self._by_id[pending.upstream_id]
        self.forget(pending)
        return True

    def by_progress_token(self, token: Any) -> Pending | None:
        """The request whose (remapped) progress token this is."""
        return lookup(self._progress, token)

    def forget(self, pending: Pending) -> None:
        """Drop the request's progress token and its entry in its session's ``inflight``."""
        if pending.has_token:
            self._progress.pop(pending.upstream_id, None)
        session = pending.session
        if session is not None and lookup(session.inflight, pending.client_id) is pending:
            del session.inflight[pending.client_id]

    def overdue(self, cutoff: float) -> list[Pending]:
        """Client requests started before ``cutoff`` (oldest first; the bridge's own excluded)."""
        late: list[Pending] = []
        for pending in self._by_id.values():
            if pending.started >= cutoff:
                break  # insertion order is start order
            if pending.session is not None:
                late.append(pending)
        return late

    def drain(self) -> list[Pending]:
        """Remove and return every request in flight (the child is gone)."""
        everything = list(self._by_id.values())
        self._by_id.clear()
        self._progress.clear()
        for pending in everything:
            self.forget(pending)
        return everything


def error_for(pending: Pending, text: str) -> Message:
    """The JSON-RPC error a client gets when its request cannot be answered."""
    return jsonrpc.error(pending.client_id, jsonrpc.SERVER_UNAVAILABLE, text)
