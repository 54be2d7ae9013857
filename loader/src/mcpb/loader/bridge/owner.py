"""Who owns what a stdio server says on its own: the requests in flight and their ranking.

The rules are described in :mod:`mcpb.loader.bridge.router`; this module holds the record of
one forwarded request and the ranking that picks the current owner among those records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcpb.loader.bridge import jsonrpc
from mcpb.loader.bridge.jsonrpc import Message
from mcpb.loader.bridge.sink import RequestSink

if TYPE_CHECKING:
    from mcpb.loader.bridge.session import Session


@dataclass(slots=True, eq=False)
class Pending:
    """A request forwarded to the child and not yet answered."""

    upstream_id: int
    client_id: Any
    session: Session | None
    sink: RequestSink | None
    token: Any = None
    has_token: bool = False
    is_init: bool = False
    asks_back: bool = False
    asking: int = 0
    kind: str = ""
    arguments: Any = None
    init_params: Any = None
    future: asyncio.Future[Message] | None = None


def current_owner(
    pending: Iterable[Pending],
    last_session: Session | None,
    asking: bytes,
    askers: set[str],
    waiting: set[str],
) -> tuple[Session, Pending | None] | None:
    """The session (and request) that gets an unattributed message from the server.

    ``pending`` runs oldest first. Without ``asking``, the oldest tool-like request wins. With
    ``asking`` (an encoded server→client request), tool-like requests are ranked: quoting one
    of their string arguments, then of a kind in ``askers``, then of a session not in
    ``waiting``, then not waiting themselves, then age. Failing that the oldest request in
    flight, then ``last_session``.
    """
    best: Pending | None = None
    best_rank = (True, True, True, True)
    fallback: Pending | None = None
    for candidate in pending:
        session = candidate.session
        if session is None or session.closed:
            continue
        if candidate.asks_back:
            if not asking:
                return session, candidate
            rank = (
                not quotes_arguments(asking, candidate.arguments),
                candidate.kind not in askers,
                session.id in waiting,
                candidate.asking > 0,
            )
            if best is None or rank < best_rank:
                best, best_rank = candidate, rank
        elif fallback is None:
            fallback = candidate
    chosen = best or fallback
    if chosen is not None and chosen.session is not None:
        return chosen.session, chosen
    if last_session is not None and not last_session.closed:
        return last_session, None
    return None


def quotes_arguments(payload: bytes, arguments: Any) -> bool:
    """Whether ``payload`` contains one of the string arguments (4+ characters) of a call.

    A server asking its client about a call usually quotes the call's input (a sampling
    prompt built from it), which ties the question to the call better than timing does.
    """
    if not isinstance(arguments, dict):
        return False
    for value in arguments.values():
        if isinstance(value, str) and len(value) >= 4 and jsonrpc.dumps(value)[1:-1] in payload:
            return True
    return False


def answered(pending: Pending | None) -> None:
    """A server→client request routed through ``pending`` got its answer (or was dropped)."""
    if pending is not None and pending.asking > 0:
        pending.asking -= 1
