"""The modern calls waiting for their clients' input, bounded in number and in time.

A call that ended an HTTP request with ``input_required`` keeps its request open in the
server behind it (a handshake-era server simply waits for its question's answer). Here it
waits under a random handle, named by the signed ``requestState`` the client got; a retry
with that state finds it again. A call nobody comes back for within ``timeout`` seconds is
abandoned (cancelled in the server), and at most ``limit`` calls wait at once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.errors import HTTPError
from mcpb.mcphttp.modern.call import ModernCall
from mcpb.mcphttp.modern.request_state import RequestStates

log = logging.getLogger("mcpb.http")


class WaitingCalls:
    """Calls waiting for input, by handle (their endpoint, the calls' owner, keeps them here)."""

    def __init__(self, limit: int, timeout: float) -> None:
        self._limit = limit
        self._timeout = timeout
        self._states = RequestStates()
        self._calls: dict[str, ModernCall] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def wait(self, call: ModernCall) -> str | None:
        """Keep ``call`` until its client retries; its new ``requestState`` (None: full)."""
        if not call.handle:
            if len(self._calls) >= self._limit:
                log.warning("%d calls already wait for input: refused another", self._limit)
                return None
            call.handle = secrets.token_urlsafe(16)
        call.round += 1
        self._calls[call.handle] = call
        self._restart_timer(call)
        return self._states.issue(call.handle, call.round)

    def done(self, call: ModernCall) -> None:
        """Forget ``call`` (answered, abandoned or expired)."""
        if call.handle and self._calls.get(call.handle) is call:
            del self._calls[call.handle]
            timer = self._timers.pop(call.handle, None)
            if timer is not None:
                timer.cancel()

    def claim(
        self, state: Any, method: str, name: Any, rpc_id: Any, principal: Any = None
    ) -> ModernCall:
        """The waiting call a retry's ``requestState`` names; -32602 when there is none.

        The state must be this process's, of the call's latest round, for the same method,
        target and principal, and the call must still be waiting (a state is good for one
        retry).
        """
        found = self._states.verify(state)
        if found is None:
            raise _invalid(rpc_id, "requestState failed its integrity check")
        handle, round_ = found
        call = self._calls.get(handle)
        if call is None or not call.waiting:
            raise _invalid(rpc_id, "requestState names no request waiting for input (expired?)")
        if round_ != call.round:
            raise _invalid(rpc_id, "requestState is not the latest one issued for its request")
        if method != call.method or name != call.params_name:
            raise _invalid(rpc_id, "requestState belongs to a different request")
        if principal != call.principal:
            raise _invalid(rpc_id, "requestState was issued to another client")
        timer = self._timers.pop(handle, None)
        if timer is not None:
            timer.cancel()
        return call

    def close(self) -> None:
        """Abandon every waiting call (shutdown)."""
        for call in list(self._calls.values()):
            call.abandon("the server is shutting down")

    def _restart_timer(self, call: ModernCall) -> None:
        timer = self._timers.pop(call.handle, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[call.handle] = loop.call_later(self._timeout, self._expire, call)

    def _expire(self, call: ModernCall) -> None:
        self._timers.pop(call.handle, None)
        if call.waiting:
            log.info("a request waited %gs for its client's input: cancelled", self._timeout)
            call.abandon("the client did not provide the requested input in time")


def _invalid(rpc_id: Any, text: str) -> HTTPError:
    return HTTPError(400, text, rpc_id=rpc_id, code=jsonrpc.INVALID_PARAMS)
