"""Who owns what a stdio server says on its own: the requests in flight, and certainty.

The rules are described in :mod:`mcpb.loader.bridge.router`; this module holds the record of
one forwarded request and the rule that names the owning session only when it is certain.
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


@dataclass(frozen=True, slots=True)
class Unattributed:
    """No single session can be named as the owner of a message; ``why`` says why."""

    why: str


def current_owner(
    pending: Iterable[Pending],
    sessions: Iterable[Session],
    asking: bytes,
    askers: set[str],
) -> tuple[Session, Pending | None] | Unattributed:
    """The session (and request) that gets an unprompted message from the server, if certain.

    A stdio server never says which request a message belongs to, so the owner is certain
    only when exactly one session has requests in flight to the child (``pending``, oldest
    first), or, with none in flight, exactly one session is attached (``sessions``). Anything
    else is :class:`Unattributed`: guessing would hand one client another's question.

    Within the owning session, the request whose stream carries the message is the oldest
    tool-like one; with ``asking`` (an encoded server→client request) tool-like requests are
    ranked: quoting one of their string arguments, then of a kind in ``askers``, then not
    already waiting on a question themselves, then age. Failing that the oldest request in
    flight of that session, then none (the session's GET stream).
    """
    mine: list[Pending] = []
    busy: Session | None = None
    for candidate in pending:
        session = candidate.session
        if session is None or session.closed:
            continue
        if busy is None:
            busy = session
        elif session is not busy:
            return Unattributed("several client sessions have requests in flight")
        mine.append(candidate)
    if busy is None:
        attached = [session for session in sessions if not session.closed]
        if not attached:
            return Unattributed("no client session is connected")
        if len(attached) > 1:
            return Unattributed("several client sessions are connected and none is waiting")
        return attached[0], None
    return busy, _stream_for(mine, asking, askers)


def _stream_for(mine: list[Pending], asking: bytes, askers: set[str]) -> Pending | None:
    """Which of one session's requests in flight (oldest first) carries a server message."""
    best: Pending | None = None
    best_rank = (True, True, True)
    for candidate in mine:
        if not candidate.asks_back:
            continue
        if not asking:
            return candidate
        rank = (
            not quotes_arguments(asking, candidate.arguments),
            candidate.kind not in askers,
            candidate.asking > 0,
        )
        if best is None or rank < best_rank:
            best, best_rank = candidate, rank
    return best or (mine[0] if mine else None)


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
