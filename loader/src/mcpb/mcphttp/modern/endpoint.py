"""The 2026-07-28 era on the streamable HTTP endpoint: stateless POSTs, checked in the spec's
order, answered by the same backends as the handshake era.

:class:`ModernEndpoint` takes the POSTs :func:`~mcpb.mcphttp.modern.envelope.is_modern_request`
assigns to it. The checks run in the order the spec and its conformance suite expect
(``docs/bridge.md``): Accept (406), a single request (400 -32600; a notification is 202 and
dropped), routing headers not repeated and matching the body (400 -32020), the ``_meta``
envelope (400 -32602), a served version (400 -32022), ``Mcp-Param-*`` headers (400 -32020).
Then ``server/discover``, ``subscriptions/listen`` and the tasks extension's ``tasks/*`` are
answered here, the methods the era removed get 404 -32601, and everything else goes to the
backend as a handshake-era request of a :class:`~mcpb.mcphttp.modern.call.ModernCall`, which
translates what comes back (and may make the call a task).
"""

from __future__ import annotations

import itertools
from typing import Any

from mcpb.mcphttp import jsonrpc, sse
from mcpb.mcphttp.asgi import (
    JSON,
    TEXT,
    Receive,
    Scope,
    Send,
    accepts,
    end_stream,
    never,
    pump,
    respond,
    start_stream,
)
from mcpb.mcphttp.backend import Backend, BackendUnavailableError
from mcpb.mcphttp.errors import HTTPError, start_failed, unavailable
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.modern.call import ModernCall
from mcpb.mcphttp.modern.envelope import SERVER_INFO, Envelope, read_envelope, to_handshake_era
from mcpb.mcphttp.modern.facts import ServerFacts
from mcpb.mcphttp.modern.headers import VERSION, check_params, check_routing, routing_headers
from mcpb.mcphttp.modern.listen import ListenStream, acknowledgement, closing_result, honoured
from mcpb.mcphttp.modern.tasks import (
    DECLARED_AFTER,
    EXTENSION,
    Task,
    TaskTable,
    missing_extension,
)
from mcpb.mcphttp.modern.tasks import METHODS as TASK_METHODS
from mcpb.mcphttp.modern.waiting import WaitingCalls
from mcpb.mcphttp.session import Session
from mcpb.mcphttp.sessions import SessionTable
from mcpb.mcphttp.settings import HttpSettings
from mcpb.mcphttp.sink import RequestSink, reply
from mcpb.mcphttp.versions import ALL_SERVED_VERSIONS, MODERN_PROTOCOL_VERSIONS

#: Methods the 2026-07-28 revision removed (or moved to an extension not served here).
REMOVED = frozenset(
    {
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "tasks/result",
        "tasks/list",
    }
)
#: Methods whose result may be ``input_required`` (the others never ask the client).
ASKING = frozenset({"tools/call", "prompts/get", "resources/read"})
#: URIs one listen stream may name (each is a subscription in the server).
MAX_LISTEN_URIS = 256
_serial = itertools.count(1)


class ModernEndpoint:
    """POSTs of the 2026-07-28 era for one session table's backends."""

    def __init__(self, sessions: SessionTable, settings: HttpSettings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.facts = ServerFacts(settings.init_timeout, settings.max_buffer)
        self.waiting = WaitingCalls(settings.max_sessions, settings.input_timeout)
        self.cache_hint = (settings.cache_ttl_ms, settings.cache_scope)
        self._listens: set[ListenStream] = set()
        self.tasks = (
            TaskTable(
                settings.max_sessions,
                settings.task_ttl_ms,
                settings.max_buffer,
                settings.task_memory,
            )
            if settings.task_after is not None
            else None
        )
        #: The stateless backend once it is started and described, when it cannot change.
        self._ready: Backend | None = None

    @property
    def server_info(self) -> Any:
        """The server's ``serverInfo``, put into every modern result's ``_meta``."""
        return self.facts.server_info

    def wait(self, call: ModernCall) -> str | None:
        """A call waits for its client's input: keep it (its new ``requestState``)."""
        return self.waiting.wait(call)

    def done(self, call: ModernCall) -> None:
        """A call is over."""
        self.waiting.done(call)

    def create_task(self, call: ModernCall) -> Task | None:
        """A call becomes a task (None: the table is full, or tasks are not offered)."""
        return self.tasks.create(call) if self.tasks is not None else None

    def keep_result(self, task: Task, size: int) -> bool:
        """Room for a task's outcome: at most one client buffer, within the tasks' budget."""
        return self.tasks is not None and self.tasks.keep(task, size)

    def close(self) -> None:
        """Cancel the calls waiting for input and the tasks, end the listen streams (shutdown)."""
        self.waiting.close()
        if self.tasks is not None:
            self.tasks.close()
        for stream in list(self._listens):
            stream.end()

    async def post(
        self, scope: Scope, headers: dict[bytes, bytes], message: Any, receive: Receive, send: Send
    ) -> None:
        """Check one POSTed message in the spec's order, then answer or forward it.

        ``scope["state"]["principal"]``, when an outer layer set it (the aggregator puts the
        authenticated client's name there), binds a call waiting for input to that client:
        only the same principal may resume it.
        """
        wants_json, wants_sse = accepts(headers.get(b"accept"))
        if not (wants_json and wants_sse):
            raise HTTPError(406, "Accept must list application/json and text/event-stream")
        if isinstance(message, list) or "method" not in message:
            raise HTTPError(400, "2026-07-28 takes one request or notification per POST")
        if "id" not in message:
            version = headers.get(VERSION, b"").decode("latin-1").strip()
            if version not in MODERN_PROTOCOL_VERSIONS:
                raise _unsupported(None, version)
            await respond(send, 202, b"", TEXT)  # nothing to act on without a session
            return
        rpc_id = message["id"]
        routing = routing_headers(scope["headers"], headers, rpc_id)
        envelope = read_envelope(message)
        check_routing(routing, message, envelope.version)
        if not isinstance(envelope.version, str):
            raise HTTPError(
                400,
                "params._meta protocolVersion must be a string",
                rpc_id=rpc_id,
                code=jsonrpc.INVALID_PARAMS,
            )
        if envelope.version not in MODERN_PROTOCOL_VERSIONS:
            raise _unsupported(rpc_id, envelope.version)
        method = message["method"]
        if method in REMOVED or (method in TASK_METHODS and self.tasks is None):
            raise HTTPError(
                404,
                f"Method not found: {method} (removed in 2026-07-28)",
                rpc_id=rpc_id,
                code=jsonrpc.METHOD_NOT_FOUND,
            )
        state = scope.get("state")
        principal = state.get("principal") if isinstance(state, dict) else None
        if method in TASK_METHODS:
            await self._task_request(message, envelope, principal, send)
            return
        backend = self._ready if self._ready is not None else await self._backend(rpc_id)
        task_after = None
        if method == "tools/call":
            params = message.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            tool = self.facts.known_tool(name)
            if tool is None:
                tool = await self.facts.tool(backend, name)
            if tool.header_params:
                check_params(headers, tool.header_params, message)
            task_after = self._task_after(tool.task_support, envelope, rpc_id)
        if method == "server/discover":
            await self._discover(backend, rpc_id, send)
        elif method == "subscriptions/listen":
            await self._listen(backend, message, envelope, principal, receive, send)
        else:
            await self._call(backend, message, envelope, principal, task_after, receive, send)

    def _task_after(self, support: str | None, envelope: Envelope, rpc_id: Any) -> float | None:
        """When a ``tools/call`` becomes a task (None: never); -32021 for a tool that requires
        tasks called by a client that did not declare the extension."""
        if self.tasks is None or support == "forbidden":
            return None
        if not envelope.declares_extension(EXTENSION):
            if support == "required":
                raise missing_extension(rpc_id, "this tool (its taskSupport is required)")
            return None
        after = self.settings.task_after
        assert after is not None  # tasks are offered
        return min(after, DECLARED_AFTER) if support is not None else after

    async def _task_request(
        self, message: Message, envelope: Envelope, principal: Any, send: Send
    ) -> None:
        """``tasks/get``, ``tasks/update``, ``tasks/cancel``: answered from the task table."""
        assert self.tasks is not None
        rpc_id = message["id"]
        method = message["method"]
        if not envelope.declares_extension(EXTENSION):
            raise missing_extension(rpc_id, method)
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        task = self.tasks.find(params.get("taskId"), principal, rpc_id)
        result: Message = {"resultType": "complete"}
        if method == "tasks/get":
            result.update(task.detailed())
        elif method == "tasks/update":
            responses = _input_responses(params, rpc_id)
            if not task.terminal:
                task.call.answer_task(responses)
        elif not task.terminal:
            task.call.cancel("the client cancelled the task")
        if self.facts.server_info is not None:
            result["_meta"] = {SERVER_INFO: self.facts.server_info}
        await respond(
            send, 200, jsonrpc.dumps({"jsonrpc": "2.0", "id": rpc_id, "result": result}), JSON
        )

    async def _backend(self, rpc_id: Any) -> Backend:
        """The stateless backend, started and initialised (once: a restarted server is
        re-initialised by its backend)."""
        try:
            backend = await self.sessions.stateless_backend()
        except Exception as err:
            raise start_failed(rpc_id, err) from None
        await self.facts.describe(backend)
        self._ready = backend  # the same for the table's life: described once is enough
        return backend

    async def _discover(self, backend: Backend, rpc_id: Any, send: Send) -> None:
        description = await self.facts.describe(backend)
        capabilities = dict(description.get("capabilities") or {})
        capabilities.pop("tasks", None)  # the 2025 tasks are the server's; ours are these
        if self.tasks is not None:
            extensions = capabilities.get("extensions")
            extensions = dict(extensions) if isinstance(extensions, dict) else {}
            extensions[EXTENSION] = {}
            capabilities["extensions"] = extensions
        result: Message = {
            "resultType": "complete",
            "supportedVersions": list(ALL_SERVED_VERSIONS),
            "capabilities": capabilities,
            "ttlMs": self.settings.cache_ttl_ms,
            "cacheScope": self.settings.cache_scope,
        }
        if isinstance(description.get("instructions"), str):
            result["instructions"] = description["instructions"]
        if self.facts.server_info is not None:
            result["_meta"] = {SERVER_INFO: self.facts.server_info}
        body = jsonrpc.dumps({"jsonrpc": "2.0", "id": rpc_id, "result": result})
        await respond(send, 200, body, JSON)

    async def _call(
        self,
        backend: Backend,
        message: Message,
        envelope: Envelope,
        principal: Any,
        task_after: float | None,
        receive: Receive,
        send: Send,
    ) -> None:
        rpc_id = message["id"]
        method = message["method"]
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        responses = _input_responses(params, rpc_id) if "inputResponses" in params else {}
        out = RequestSink(streaming=True, limit=self.settings.max_buffer)
        if "requestState" in params and method in ASKING:
            target = params.get("name", params.get("uri"))
            call = self.waiting.claim(params["requestState"], method, target, rpc_id, principal)
            call.attach(out, rpc_id, task_after)
            call.resume(envelope, responses)
        else:
            tag = f"m{next(_serial)}"
            session = Session(tag, False, tag, stateless=True)
            call = ModernCall(self, backend, session, envelope, message)
            call.principal = principal
            if responses:
                call.prepaid = responses
            call.attach(out, rpc_id, task_after)
            to_handshake_era(message)
            try:
                await backend.forward_request(session, message, call)
            except BackendUnavailableError as err:
                call.finished = True
                raise unavailable(rpc_id, err) from None
        await reply(
            out,
            receive,
            send,
            json_ok=True,
            keepalive=self.settings.keepalive_interval,
            status=lambda: call.status,
            abandon=call.abandon,
        )

    async def _listen(
        self,
        backend: Backend,
        message: Message,
        envelope: Envelope,
        principal: Any,
        receive: Receive,
        send: Send,
    ) -> None:
        rpc_id = message["id"]
        if len(self._listens) >= self.settings.max_sessions:  # each holds a stream open
            text = f"too many listen streams (the limit is {self.settings.max_sessions})"
            raise unavailable(rpc_id, text)
        params = message.get("params")
        requested = params.get("notifications") if isinstance(params, dict) else None
        wanted = requested.get("resourceSubscriptions") if isinstance(requested, dict) else None
        if isinstance(wanted, list) and len(wanted) > MAX_LISTEN_URIS:
            raise HTTPError(
                400,
                f"resourceSubscriptions may name at most {MAX_LISTEN_URIS} URIs",
                rpc_id=rpc_id,
                code=jsonrpc.INVALID_PARAMS,
            )
        watched = self._watched_tasks(requested, envelope, principal, rpc_id)
        description = await self.facts.describe(backend)
        granted, uris = honoured(requested, description.get("capabilities"))
        if watched is not None:
            granted["taskIds"] = [task.task_id for task in watched]
        stream = ListenStream(self.settings.max_buffer, rpc_id, granted)
        session = Session(f"listen-{stream.tag}", False, stream.tag, stateless=True)
        session.stream = stream
        backend.attach(session)
        self._listens.add(stream)
        for task in watched or ():
            task.watchers.add(stream)
        try:
            for uri in uris:
                await self._subscribe(backend, session, uri)
            await start_stream(send, None, sse.message_event(acknowledgement(rpc_id, granted)))
            keepalive = self.settings.keepalive_interval
            if await pump(receive, send, stream, never, keepalive):
                body = sse.message_event(closing_result(rpc_id))
                await send({"type": "http.response.body", "body": body, "more_body": True})
                await end_stream(send)
        finally:
            self._listens.discard(stream)
            for task in watched or ():
                task.watchers.discard(stream)
            session.close()
            backend.detach(session)

    def _watched_tasks(
        self, requested: Any, envelope: Envelope, principal: Any, rpc_id: Any
    ) -> list[Task] | None:
        """The tasks a listen request's ``taskIds`` name that this client may watch (None: it
        names none); -32021 when the client did not declare the tasks extension."""
        wanted = requested.get("taskIds") if isinstance(requested, dict) else None
        if wanted is None or self.tasks is None:
            return None
        if not envelope.declares_extension(EXTENSION):
            raise missing_extension(rpc_id, "taskIds on subscriptions/listen")
        if not isinstance(wanted, list) or len(wanted) > MAX_LISTEN_URIS:
            raise HTTPError(
                400,
                f"taskIds must be a list of at most {MAX_LISTEN_URIS} task ids",
                rpc_id=rpc_id,
                code=jsonrpc.INVALID_PARAMS,
            )
        named = dict.fromkeys(t for t in wanted if isinstance(t, str))
        found = (self.tasks.get(task_id, principal) for task_id in named)
        return [task for task in found if task is not None]  # unknown ones: not granted

    async def _subscribe(self, backend: Backend, session: Session, uri: str) -> None:
        request: Message = {
            "jsonrpc": "2.0",
            "id": f"subscribe-{next(_serial)}",
            "method": "resources/subscribe",
            "params": {"uri": uri},
        }
        sink = RequestSink(streaming=False, limit=self.settings.max_buffer)
        try:
            await backend.forward_request(session, request, sink)
        except BackendUnavailableError as err:
            raise unavailable(None, err) from None
        await sink.queue.get()


def _unsupported(rpc_id: Any, version: Any) -> HTTPError:
    text = f"protocol version {version!r} is not supported"
    data = {"supported": list(ALL_SERVED_VERSIONS), "requested": version}
    return HTTPError(400, text, rpc_id=rpc_id, code=jsonrpc.UNSUPPORTED_PROTOCOL_VERSION, data=data)


def _input_responses(params: dict[str, Any], rpc_id: Any) -> dict[str, Any]:
    """``params.inputResponses``: an object of objects (400 -32602 otherwise)."""
    responses = params.get("inputResponses", {})
    if not isinstance(responses, dict):
        raise HTTPError(
            400, "inputResponses must be an object", rpc_id=rpc_id, code=jsonrpc.INVALID_PARAMS
        )
    for key, value in responses.items():
        if not isinstance(value, dict):
            raise HTTPError(
                400,
                f"inputResponses.{key} must be an object (the answer to that input request)",
                rpc_id=rpc_id,
                code=jsonrpc.INVALID_PARAMS,
            )
    return responses
