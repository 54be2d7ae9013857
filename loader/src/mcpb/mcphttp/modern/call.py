"""One 2026-07-28 request as the handshake-era server behind it sees it: a :class:`ModernCall`.

The call is the :class:`~mcpb.mcphttp.sink.Sink` its request was forwarded with, so it sees
everything the backend says about the request and translates on the way to the client:

* the final answer gets the client's current request id and the modern result shape
  (:func:`~mcpb.mcphttp.modern.results.modernize`);
* progress goes on the request's stream; a log message only when the request asked for logs
  at that level; anything else unprompted (list changes...) is not the request's and is dropped;
* a server→client request (sampling, elicitation, roots) ends the HTTP request with an
  ``input_required`` result instead: the server's request waits, keyed by its id, while the
  call *waits* for the client to retry with ``inputResponses`` and the signed
  ``requestState``; the retry answers the server and the call goes on, maybe asking again.
  Questions arriving within :data:`SETTLE` seconds of each other go out together. A question
  for a capability the request did not declare is refused to the server (-32021), as a
  client without it would; ``ping`` is answered at once;
* a call given ``task_after`` (its client declared the tasks extension) that runs that long
  without finishing or asking anything becomes a task (:mod:`~mcpb.mcphttp.modern.tasks`): the
  HTTP request ends with a ``CreateTaskResult``, and from then on the server's questions and
  answer go to the task, while progress and logs, which tasks do not carry, are dropped.

A call's ``session`` is its own, never listed in the session table nor attached to the
backend: it only keys the backend's records of this request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.backend import Backend
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.modern.envelope import SERVER_INFO, Envelope
from mcpb.mcphttp.modern.results import modernize, status_for
from mcpb.mcphttp.modern.tasks import Task
from mcpb.mcphttp.session import Session
from mcpb.mcphttp.sink import RequestSink

log = logging.getLogger("mcpb.http")

#: Shared empty mapping: most calls are never asked anything (replaced on first use).
_NO_QUESTIONS: dict[str, Any] = {}

#: How long after a server's question the call waits for more before asking the client.
SETTLE = 0.02
#: What each kind of server→client request needs the client to have declared.
NEEDS: dict[str, str] = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}


class CallOwner(Protocol):
    """What a call needs of the endpoint it serves: the server's facts for the answer's shape,
    and where to report that it waits for its client or is over."""

    @property
    def server_info(self) -> Any:
        """The server's ``serverInfo`` (None: unknown)."""

    @property
    def cache_hint(self) -> tuple[int, str]:
        """``ttlMs`` and ``cacheScope`` for cacheable results that set none."""

    def wait(self, call: ModernCall) -> str | None:
        """The call now waits for its client; the ``requestState`` to hand out (None: full)."""

    def done(self, call: ModernCall) -> None:
        """The call is over: forget it."""

    def create_task(self, call: ModernCall) -> Task | None:
        """A task for ``call``, which now goes on without its HTTP request (None: no room)."""

    def keep_result(self, task: Task, size: int) -> bool:
        """Room for a task's outcome of ``size`` encoded bytes (False: it fails instead)."""


class ModernCall:
    """One modern request in flight in a backend, across its ``input_required`` rounds."""

    __slots__ = (
        "_blocked",
        "_settle",
        "_task_timer",
        "_tasks",
        "answer",
        "asked",
        "backend",
        "backend_id",
        "envelope",
        "finished",
        "handle",
        "method",
        "out",
        "owner",
        "params_name",
        "prepaid",
        "principal",
        "questioned",
        "reply_id",
        "round",
        "session",
        "status",
        "task",
    )

    def __init__(
        self,
        owner: CallOwner,
        backend: Backend,
        session: Session,
        envelope: Envelope,
        message: Message,
    ) -> None:
        self.owner = owner
        self.backend = backend
        self.session = session
        self.envelope = envelope
        self.method: str = message["method"]
        params = message.get("params")
        self.params_name: Any = (
            params.get("name", params.get("uri")) if isinstance(params, dict) else None
        )
        #: The id the backend knows the request by (the first HTTP request's).
        self.backend_id: Any = message["id"]
        #: The id of the HTTP request now waiting for the answer.
        self.reply_id: Any = self.backend_id
        self.out: RequestSink | None = None
        #: Who made the request, when the layer above says (only they may resume it).
        self.principal: Any = None
        self.status = 200
        #: The server's questions not yet answered: key → (the server's id, the question).
        self.asked: dict[str, tuple[Any, Message]] = _NO_QUESTIONS
        #: ``inputResponses`` sent before they were asked for (by the key the server uses).
        self.prepaid: dict[str, Any] = _NO_QUESTIONS
        self.round = 0
        self.handle = ""
        self.answer: Message | None = None
        self.finished = False
        #: The server asked something during this call (its backend has records to drop).
        self.questioned = False
        self._settle: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] | None = None
        self.task: Task | None = None
        self._task_timer: asyncio.TimerHandle | None = None
        #: A task whose questions have settled: it waits for ``tasks/update``.
        self._blocked = False

    # ------------------------------------------------------------ the Sink protocol

    @property
    def streaming(self) -> bool:
        """Everything about the request comes here (this call decides where it goes)."""
        return True

    @property
    def waiting(self) -> bool:
        """Waiting for its client to come back with input: it causes nothing meanwhile."""
        if self.finished:
            return False
        return self.out is None if self.task is None else self._blocked

    def put(self, payload: bytes, *, final: bool) -> bool:
        """Take a message about the request from the backend (see the module docstring)."""
        if self.finished:
            return False
        message = jsonrpc.loads(payload)
        if final:
            if self.task is not None and not self.owner.keep_result(self.task, len(payload)):
                text = f"no room to keep the result ({len(payload)} bytes) of this task"
                message = {"id": message.get("id"), **_error(jsonrpc.INTERNAL_ERROR, text)}
            self._final(message)
            return True
        method = message.get("method")
        if "id" in message and isinstance(method, str):
            self._asked_by_server(method, message)
            return True
        out = self.out
        if out is None:
            return True  # nobody listens now; progress of a waiting call is stale anyway
        if method == "notifications/progress":
            return out.put(payload, final=False) or True
        if method == "notifications/message":
            params = message.get("params")
            level = params.get("level") if isinstance(params, dict) else None
            if self.envelope.wants_log(level):
                out.put(payload, final=False)
            return True
        if method == "notifications/cancelled":  # the server gave up a question
            params = message.get("params")
            asked = params.get("requestId") if isinstance(params, dict) else None
            for key, (server_id, _) in list(self.asked.items()):
                if server_id == asked:
                    del self.asked[key]
            if self.task is not None and not self.asked:
                self._blocked = False
                self.task.move("working")
        return True

    # ------------------------------------------------------------ transitions

    def attach(self, out: RequestSink, reply_id: Any, task_after: float | None = None) -> None:
        """An HTTP request now waits for this call (the first, or a retry); ``task_after``:
        seconds from now after which the call becomes a task (None: it does not)."""
        self.out = out
        self.reply_id = reply_id
        if self._task_timer is not None:
            self._task_timer.cancel()
            self._task_timer = None
        if task_after is not None:
            loop = asyncio.get_running_loop()
            self._task_timer = loop.call_later(task_after, self._become_task)

    def resume(self, envelope: Envelope, responses: dict[str, Any]) -> None:
        """A retry came with ``inputResponses``: answer what was asked, then go on.

        Call after :meth:`attach`. Keys that answer nothing asked are ignored.
        """
        self.envelope = envelope
        for key in list(self.asked):
            if key in responses:
                server_id, _ = self.asked.pop(key)
                self._answer_server(server_id, {"result": responses[key]})
        if self.answer is not None:
            answer, self.answer = self.answer, None
            self._final(answer)
        elif self.asked:
            self._ask_client()

    def abandon(self, reason: str) -> None:
        """The client left (or never came back, or cancelled its task): cancel the request
        in the server; its task, if it has one, is cancelled."""
        if self.finished:
            return
        self.backend.abandon(self.session, self.backend_id, reason)
        self._end(abandoned=True)
        if self.task is not None:
            self.task.move("cancelled", message=reason)

    # ------------------------------------------------------------ as a task

    def input_requests(self) -> dict[str, Message]:
        """The server's questions not answered yet, by key (a task's ``inputRequests``)."""
        return {key: question for key, (_, question) in self.asked.items()}

    def answer_task(self, responses: dict[str, Any]) -> None:
        """``tasks/update``: answer the questions ``responses`` names (others are ignored)."""
        for key in list(self.asked):
            if key in responses:
                server_id, _ = self.asked.pop(key)
                self._answer_server(server_id, {"result": responses[key]})
        if self.task is not None and not self.asked:
            self._blocked = False
            self.task.move("working")

    def cancel(self, reason: str) -> None:
        """``tasks/cancel`` (or the task's end): :meth:`abandon`."""
        self.abandon(reason)

    def _become_task(self) -> None:
        """Still running, not asking: end the HTTP request with a ``CreateTaskResult``."""
        self._task_timer = None
        out = self.out
        if out is None or self.finished or self.asked or self.task is not None:
            return
        task = self.owner.create_task(self)
        if task is None:
            return
        self.task = task
        self.out = None
        self.status = 200
        result: Message = {"resultType": "task", **task.fields()}
        if self.owner.server_info is not None:
            result["_meta"] = {SERVER_INFO: self.owner.server_info}
        out.put(
            jsonrpc.dumps({"jsonrpc": "2.0", "id": self.reply_id, "result": result}), final=True
        )

    # ------------------------------------------------------------ internals

    def _final(self, message: Message) -> None:
        task = self.task
        if task is not None:
            ttl, scope = self.owner.cache_hint
            modernize(message, self.method, self.owner.server_info, ttl, scope)
            if "error" in message:
                error = message["error"]
                why = error.get("message") if isinstance(error, dict) else None
                task.move("failed", error=error, message=why if isinstance(why, str) else None)
            else:
                task.move("completed", result=message.get("result"))
            self._end()
            return
        out = self.out
        if out is None:  # answered while waiting for the client: keep it for the retry
            self.answer = message
            return
        message["id"] = self.reply_id
        ttl, scope = self.owner.cache_hint
        modernize(message, self.method, self.owner.server_info, ttl, scope)
        self.status = status_for(message)
        out.put(jsonrpc.dumps(message), final=True)
        self._end()

    def _end(self, *, abandoned: bool = False) -> None:
        self.finished = True
        self.out = None
        if self._settle is not None:
            self._settle.cancel()
            self._settle = None
        if self._task_timer is not None:
            self._task_timer.cancel()
            self._task_timer = None
        if self.handle:
            self.owner.done(self)
        if abandoned or self.questioned:  # else the backend keeps nothing of this session
            self.backend.detach(self.session)  # refuses the questions still unanswered

    def _asked_by_server(self, method: str, message: Message) -> None:
        self.questioned = True
        server_id = message["id"]
        if method == "ping":
            self._answer_server(server_id, {"result": {}})
            return
        capability = NEEDS.get(method)
        if capability is None:
            text = f"a 2026-07-28 client cannot be asked {method}"
            self._answer_server(server_id, _error(jsonrpc.METHOD_NOT_FOUND, text))
            return
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        sub = "url" if capability == "elicitation" and params.get("mode") == "url" else None
        if not self.envelope.declares(capability, sub):
            wanted: dict[str, Any] = {capability: {sub: {}} if sub else {}}
            text = f"the client did not declare the {capability} capability in this request"
            self._answer_server(
                server_id,
                _error(jsonrpc.MISSING_CLIENT_CAPABILITY, text, {"requiredCapabilities": wanted}),
            )
            return
        key = server_id if isinstance(server_id, str) else f"request-{server_id}"
        if key in self.prepaid:
            self._answer_server(server_id, {"result": self.prepaid.pop(key)})
            return
        if self.asked is _NO_QUESTIONS:
            self.asked = {}
        self.asked[key] = (server_id, {"method": method, "params": params})
        if self.task is not None:
            self.task.move("input_required")
        if (self.out is not None or self.task is not None) and self._settle is None:
            self._settle = asyncio.get_running_loop().call_later(SETTLE, self._ask_client)

    def _ask_client(self) -> None:
        """End the HTTP request with ``input_required``: what the server asked, and a state."""
        self._settle = None
        if self.task is not None:  # the task shows its questions: it now waits for them
            self._blocked = bool(self.asked) and not self.finished
            return
        out = self.out
        if out is None or self.finished or not self.asked:
            return
        state = self.owner.wait(self)
        if state is None:
            for server_id, _ in self.asked.values():
                text = "too many requests are waiting for their clients' input"
                self._answer_server(server_id, _error(jsonrpc.INTERNAL_ERROR, text))
            self.asked.clear()
            return
        result: Message = {
            "resultType": "input_required",
            "inputRequests": {key: question for key, (_, question) in self.asked.items()},
            "requestState": state,
        }
        if self.owner.server_info is not None:
            result["_meta"] = {SERVER_INFO: self.owner.server_info}
        self.out = None
        self.status = 200
        out.put(
            jsonrpc.dumps({"jsonrpc": "2.0", "id": self.reply_id, "result": result}), final=True
        )

    def _answer_server(self, server_id: Any, body: Message) -> None:
        answer = {"jsonrpc": "2.0", "id": server_id, **body}
        task = asyncio.ensure_future(self._send(answer))
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, answer: Message) -> None:
        try:
            await self.backend.forward_response(self.session, answer)
        except Exception as err:  # the backend went down: the request fails there
            log.debug("[%s] could not answer the server: %s", self.session.tag, err)


def _error(code: int, text: str, data: Any = None) -> Message:
    error: Message = {"code": code, "message": text}
    if data is not None:
        error["data"] = data
    return {"error": error}
