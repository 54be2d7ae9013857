"""Who owns what a stdio server says on its own: certainty, never a guess.

A stdio server says nothing about which request a message belongs to. The rules (also in
``docs/bridge.md``): the owner is certain only when exactly one session has requests in flight
to the child, or, with none in flight, exactly one session is attached (always so in stateful
mode). Within that session the message rides on the stream of the request most likely to have
caused it. Anything else is :class:`Unattributed`: guessing once handed one client another
client's question, and a broadcast would leak one client's logs to all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mcpb.loader.bridge.pending import Pending
from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.session import Session


@dataclass(frozen=True, slots=True)
class Unattributed:
    """No single session can be named as the owner of a message; ``why`` says why.

    ``contended``: several clients could own it; ``sessionless``: all of them 2026-07-28
    requests, which have no session (so one child per session would not have told).
    """

    why: str
    contended: bool = False
    sessionless: bool = False


def current_owner(
    pending: Iterable[Pending],
    sessions: Iterable[Session],
    asking: bytes,
    askers: set[str],
) -> tuple[Session, Pending | None] | Unattributed:
    """The session (and request) that gets an unprompted message from the server, if certain.

    A stdio server never says which request a message belongs to, so the owner is certain
    only when exactly one session has requests in flight to the child (``pending``, oldest
    first), or, with none in flight, exactly one session is attached (``sessions``).
    Requests waiting for their client's input (a 2026-07-28 client that was handed the
    server's question and has not come back) are blocked, so they count only when nothing
    else is in flight. Anything
    else is :class:`Unattributed`: guessing would hand one client another's question.

    Within the owning session, the request whose stream carries the message is the oldest
    tool-like one; with ``asking`` (an encoded server→client request) tool-like requests are
    ranked: quoting one of their string arguments, then of a kind in ``askers``, then not
    already waiting on a question themselves, then age. Failing that the oldest request in
    flight of that session, then none (the session's GET stream).
    """
    candidates = [p for p in pending if p.session is not None and not p.session.closed]
    active = [p for p in candidates if p.sink is None or not p.sink.waiting]
    mine: list[Pending] = []
    busy: Session | None = None
    for candidate in active or candidates:
        session = candidate.session
        assert session is not None
        if busy is None:
            busy = session
        elif session is not busy:
            why = "several client sessions have requests in flight"
            return Unattributed(why, True, busy.stateless and session.stateless)
        mine.append(candidate)
    if busy is None:
        attached = [session for session in sessions if not session.closed]
        if not attached:
            return Unattributed("no client session is connected")
        if len(attached) > 1:
            return Unattributed("several client sessions are connected and none is waiting", True)
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


def latest(session: Session) -> Pending | None:
    """The session's newest request in flight to this backend, if any."""
    for pending in reversed(session.inflight.values()):
        if isinstance(pending, Pending):
            return pending
    return None
