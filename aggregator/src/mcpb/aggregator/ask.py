"""Asking an upstream something on the aggregator's own behalf, through the ``Backend`` protocol.

The aggregator talks to every upstream kind the way the transport talks to a backend: it hands
over a parsed message, a session and a sink. For its own questions (``initialize``, the lists,
``ping``) the sink is a future; interim messages about them have nowhere to go and are refused.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.backend import Backend
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.session import Session

_ids = itertools.count(1)


class UpstreamRefusedError(Exception):
    """The upstream answered with a JSON-RPC error (``error`` holds it)."""

    def __init__(self, error: Any) -> None:
        self.error = error if isinstance(error, dict) else {"message": str(error)}
        super().__init__(str(self.error.get("message", "error")))


class FutureSink:
    """A non-streaming sink whose answer resolves a future."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    @property
    def streaming(self) -> bool:
        """Never: interim messages go to the session (which refuses them)."""
        return False

    @property
    def waiting(self) -> bool:
        """Never: the aggregator itself waits for the answer."""
        return False

    def put(self, payload: bytes, *, final: bool) -> bool:
        """Resolve the future with the answer; refuse anything else."""
        if not final or self.future.done():
            return False
        self.future.set_result(payload)
        return True


def request(method: str, params: Any = None) -> Message:
    """A request of the aggregator's own, with an id no client uses."""
    message: Message = {"jsonrpc": "2.0", "id": f"mcpb-{next(_ids)}", "method": method}
    if params is not None:
        message["params"] = params
    return message


async def ask(backend: Backend, session: Session, message: Message, timeout: float) -> Any:
    """The result of ``message`` sent through ``backend`` for ``session``.

    Raises :class:`UpstreamRefusedError` for a JSON-RPC error, :class:`TimeoutError` (the
    request is abandoned upstream), and what the backend raises
    (:class:`~mcpb.mcphttp.backend.BackendUnavailableError`).
    """
    sink = FutureSink()
    if message["method"] == "initialize":
        await backend.initialize(session, message, sink)
    else:
        await backend.forward_request(session, message, sink)
    try:
        payload = await asyncio.wait_for(asyncio.shield(sink.future), timeout)
    except TimeoutError:
        backend.abandon(session, message["id"], "timed out")
        raise TimeoutError(f"no answer to {message['method']} within {timeout:g}s") from None
    answer = jsonrpc.loads(payload)
    if not isinstance(answer, dict):
        raise UpstreamRefusedError("the answer is not a JSON object")
    if "error" in answer:
        raise UpstreamRefusedError(answer["error"])
    return answer.get("result")
