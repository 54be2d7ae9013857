"""The stdio backend: one supervised stdio child seen from many sessions.

Routing rules (``docs/bridge.md`` has them for users):

* a client request goes to the child with a fresh id (:mod:`~mcpb.loader.bridge.pending`); the
  child's answer is given back its client id and delivered to the request's own sink;
* ``notifications/progress`` goes to the request whose (re-tagged) token it carries;
* ``*/list_changed`` goes to every attached session; ``notifications/resources/updated`` to the
  sessions that subscribed to that URI (all sessions when nobody did through the bridge);
* everything else the child says on its own — logging, and server→client requests (sampling,
  elicitation, roots) — goes only to a certain owner (:mod:`~mcpb.loader.bridge.attribution`);
  without one a server→client request is refused at once with a JSON-RPC error (a ``ping`` is
  answered by the bridge itself) and a logging notification is dropped. A server→client
  request is answered only by the session it was routed to.

A request is forgotten only once it is answered, cancelled, timed out or abandoned: a client
that leaves has it abandoned (``notifications/cancelled`` with the child-side id); one the
child does not answer within ``request_timeout`` gets error -32001 and is cancelled the same
way. A server→client request that finds no client stream is held by the session for a
bounded time, then refused to the child.

The child's ``initialize`` happens once: the first client's request goes through, its result is
cached and replayed to later sessions with their own ids; the bridge itself sends
``notifications/initialized`` and drops the clients' copies. When the child dies its in-flight
requests fail with JSON-RPC errors; the :class:`~mcpb.loader.bridge.supervisor.Supervisor`
restarts it and the cached ``initialize`` is replayed, so sessions survive the crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mcpb.loader.bridge.attribution import Unattributed, answered, current_owner, latest
from mcpb.loader.bridge.pending import Pending, PendingTable, error_for, lookup
from mcpb.loader.bridge.settings import StdioSettings
from mcpb.loader.bridge.supervisor import Supervisor
from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.backend import BackendUnavailableError
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.session import Session, deliver_final
from mcpb.mcphttp.sink import Sink

log = logging.getLogger("mcpb.bridge")

_PROBE_TIMEOUT = 2.0
#: JSON-RPC error code of a request the server did not answer in time (the SDKs' RequestTimeout).
REQUEST_TIMEOUT = -32001
#: A child that sent anything this recently counts as answering without a ping.
_RECENTLY = 10.0


class StdioBackend:
    """A :class:`~mcpb.mcphttp.backend.Backend` that speaks to a stdio MCP server."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        label: str,
        settings: StdioSettings,
        *,
        on_gave_up: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._sweeper: asyncio.Task[None] | None = None
        self.label = label
        self.sessions: dict[str, Session] = {}
        self._pending = PendingTable()
        self._server_requests: dict[Any, tuple[Session, Pending | None]] = {}
        self._subscriptions: dict[str, set[str]] = {}
        self._background: set[asyncio.Task[Message]] = set()
        #: Kinds of request (``tools/call NAME``, ``prompts/get``...) seen asking the client.
        self._askers: set[str] = set()
        self._init_params: Any = None
        self._init_result: Any = None
        self._init_wait: asyncio.Future[None] | None = None
        #: Notifications (logging...) dropped because no single session certainly owned them.
        self.dropped_notifications = 0
        self.supervisor = Supervisor(
            command,
            env,
            cwd,
            label,
            settings,
            on_message=self._on_child_message,
            on_down=self._on_child_down,
            on_restarted=self._replay_initialize,
            on_gave_up=on_gave_up,
        )

    # ----------------------------------------------------------------- lifecycle

    @property
    def pid(self) -> int | None:
        """Pid of the current child process (its process group id), if running."""
        return self.supervisor.pid

    @property
    def restarts(self) -> int:
        """How often the child was restarted."""
        return self.supervisor.restarts

    async def start(self) -> None:
        """Spawn the child; a command that cannot be executed is a UsageError."""
        await self.supervisor.start()
        timeout = self._settings.request_timeout
        if timeout is not None:
            self._sweeper = asyncio.create_task(self._expire_requests(timeout))

    async def close(self) -> None:
        """Fail what is in flight, stop the child's process group and reap it."""
        self.supervisor.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._fail_all("the bridge is shutting down")
        await self.supervisor.close()

    async def _expire_requests(self, timeout: float) -> None:
        """Answer and cancel the requests the child leaves unanswered for ``timeout`` s."""
        text = f"the MCP server did not answer within {timeout:g}s (request timeout)"
        while True:
            await asyncio.sleep(min(max(timeout / 4, 0.05), 1.0))
            for pending in self._pending.overdue(time.monotonic() - timeout):
                if not self._pending.discard(pending):
                    continue
                log.warning("[%s] request %r timed out", self.label, pending.client_id)
                if pending.is_init:
                    self._release_init_wait()
                self._cancel_in_child(pending, "request timeout")
                self._finish(pending, jsonrpc.error(pending.client_id, REQUEST_TIMEOUT, text))

    def abandon(self, session: Session, request_id: object, reason: str) -> None:
        """The client left before the answer: cancel the request in the child and forget it."""
        pending = lookup(session.inflight, request_id)
        if not isinstance(pending, Pending) or not self._pending.discard(pending):
            return
        log.debug("[%s] request %r abandoned: %s", session.tag, request_id, reason)
        if pending.is_init:
            self._release_init_wait()
        self._cancel_in_child(pending, reason)

    def _cancel_in_child(self, pending: Pending, reason: str) -> None:
        if self.supervisor.closing or self.supervisor.child is None:
            return
        params = {"requestId": pending.upstream_id, "reason": reason}
        self._send_now({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params})

    def attach(self, session: Session) -> None:
        """Route the child's broadcasts to ``session`` from now on."""
        self.sessions[session.id] = session

    def detach(self, session: Session) -> None:
        """Forget a session: cancel its requests in the child, refuse its pending questions."""
        self.sessions.pop(session.id, None)
        for uri in self._subscriptions.pop(session.id, ()):
            if not self._subscribed(uri):
                self._unsubscribe(uri)
        for pending in list(session.inflight.values()):
            if not isinstance(pending, Pending) or not self._pending.discard(pending):
                continue
            # Wake the HTTP request still waiting; the child's late answer is then dropped.
            self._finish(pending, error_for(pending, "the session ended"))
            if pending.is_init:
                self._release_init_wait()
            self._cancel_in_child(pending, "session ended")
        session.inflight.clear()
        for request_id, (owner, _) in list(self._server_requests.items()):
            if owner is session:
                del self._server_requests[request_id]
                self._refuse_server_request(request_id, "the client session ended")

    def _subscribed(self, uri: object) -> bool:
        """Whether any session still subscribes to ``uri``."""
        return any(uri in uris for uris in self._subscriptions.values())

    def _unsubscribe(self, uri: str) -> None:
        """The last subscriber of ``uri`` left: unsubscribe the child (answer ignored)."""
        if self.supervisor.closing or self.supervisor.child is None:
            return
        work = self._internal_request("resources/unsubscribe", {"uri": uri}, _PROBE_TIMEOUT)
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_ignore_outcome)

    def _on_child_down(self, code: int) -> None:
        self._fail_all(f"the MCP server process exited (code {code}) before answering")
        self._release_init_wait()

    async def _replay_initialize(self) -> bool:
        if self._init_params is None:
            return True
        try:
            answer = await self._internal_request(
                "initialize", self._init_params, self._settings.unavailable_timeout
            )
        except (TimeoutError, ConnectionError):
            log.error("[%s] the restarted server did not answer initialize", self.label)
            return False
        if "result" not in answer:
            log.error("[%s] the restarted server refused initialize: %s", self.label, answer)
            return False
        self._send_now({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return True

    async def check(self) -> str | None:
        """Why the child would not answer now, or None: it said something recently, or it
        answers a ``ping``.

        Recent output counts so that a server busy with a long call (one that handles a request
        at a time cannot answer a ping meanwhile) is not reported unready while it works.
        """
        if self.supervisor.gave_up is not None:
            return self.supervisor.gave_up
        if not self.supervisor.is_up or self.supervisor.closing:
            return "the MCP server is down or restarting"
        if time.monotonic() - self.supervisor.last_heard < _RECENTLY:
            return None
        try:
            await self._internal_request("ping", None, _PROBE_TIMEOUT)
        except (TimeoutError, ConnectionError):
            return "the MCP server does not answer ping"
        return None

    # ----------------------------------------------------------------- client → child

    async def forward_request(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Send a client's request to the child; the answer will reach ``sink``.

        With ``sink=None`` (legacy SSE) every message about the request goes to the session's
        stream. Raises BackendUnavailableError when the child stays down too long.
        """
        await self._forward(session, message, sink, is_init=False)

    async def _forward(
        self, session: Session, message: Message, sink: Sink | None, *, is_init: bool
    ) -> None:
        child = await self.supervisor.ready_child()
        self.supervisor.check_backlog(child)
        params = message.get("params")
        if isinstance(params, dict):
            method = message["method"]
            uri = params.get("uri")
            if method == "resources/subscribe" and isinstance(uri, str):
                self._subscriptions.setdefault(session.id, set()).add(uri)
            elif method == "resources/unsubscribe":
                self._subscriptions.get(session.id, set()).discard(uri)
                if self._subscribed(uri):  # others still listen: the child keeps sending
                    answer = {"jsonrpc": "2.0", "id": message["id"], "result": {}}
                    self._deliver_final(session, sink, jsonrpc.dumps(answer))
                    return
        pending = self._pending.add_request(session, message, sink, is_init=is_init)
        try:
            child.write(jsonrpc.dumps(message))
        except ConnectionError:
            if self._pending.discard(pending):
                self._finish(pending, error_for(pending, "the MCP server is not running"))

    async def initialize(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Answer a client's ``initialize``: from the cache, or by initialising the child."""
        while True:
            if self._init_result is not None:
                answer = {"jsonrpc": "2.0", "id": message["id"], "result": self._init_result}
                self._deliver_final(session, sink, jsonrpc.dumps(answer))
                return
            if self._init_wait is None:
                break
            try:
                await asyncio.wait_for(
                    asyncio.shield(self._init_wait), self._settings.unavailable_timeout
                )
            except TimeoutError:
                raise BackendUnavailableError from None
        self._init_wait = asyncio.get_running_loop().create_future()
        try:
            await self._forward(session, message, sink, is_init=True)
        except BaseException:
            self._release_init_wait()
            raise

    def _release_init_wait(self) -> None:
        if self._init_wait is not None and not self._init_wait.done():
            self._init_wait.set_result(None)
        self._init_wait = None

    async def forward_notification(self, session: Session, message: Message) -> None:
        """Send a client's notification; ``cancelled`` gets the request's child-side id."""
        method = message["method"]
        if method == "notifications/initialized":
            return  # the bridge sent its own right after the child's initialize result
        if method == "notifications/cancelled":
            params = message.get("params")
            if not isinstance(params, dict):
                return
            pending = lookup(session.inflight, params.get("requestId"))
            if not isinstance(pending, Pending):
                return
            params["requestId"] = pending.upstream_id
            self._cancelled(pending)
        await self.supervisor.send(jsonrpc.dumps(message))

    def _cancelled(self, pending: Pending) -> None:
        """The client gave up on a request: end its HTTP exchange now, forget it.

        The child is told (the caller forwards the notification) and may or may not answer;
        a late answer finds no pending entry and is dropped. The POST still waiting gets an
        error response at once instead of hanging until the child or the session ends; a
        legacy SSE client gets nothing (a cancelled request has no response).
        """
        if not self._pending.discard(pending):
            return
        if pending.is_init:
            self._release_init_wait()
        if pending.sink is not None:
            text = "request cancelled by the client"
            self._finish(pending, jsonrpc.error(pending.client_id, jsonrpc.REQUEST_CANCELLED, text))

    async def forward_response(self, session: Session, message: Message) -> None:
        """Send a client's answer to a server→client request, if that session was asked."""
        request_id = message.get("id")
        asked = lookup(self._server_requests, request_id)
        if asked is None or asked[0] is not session:
            log.debug("[%s] dropped an answer to a request it was not asked", session.tag)
            return
        del self._server_requests[request_id]
        answered(asked[1])
        await self.supervisor.send(jsonrpc.dumps(message))

    async def _internal_request(self, method: str, params: Any, timeout: float) -> Message:
        child = self.supervisor.child
        if child is None:
            raise ConnectionResetError("no child")
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        upstream_id = self._pending.add_internal(future)
        message: Message = {"jsonrpc": "2.0", "id": upstream_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            child.write(jsonrpc.dumps(message))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.take(upstream_id)

    def _send_now(self, message: Message) -> None:
        self.supervisor.send_now(jsonrpc.dumps(message))

    # ----------------------------------------------------------------- child → client

    def _on_child_message(self, message: Any) -> None:
        if isinstance(message, list):  # a 2025-03-26 server may batch what it sends
            for item in message:
                self._on_child_message(item)
            return
        if not isinstance(message, dict):
            log.warning("[%s] ignored a non-object message from the server", self.label)
            return
        method = message.get("method")
        if method is None:
            if "id" in message:
                self._on_response(message)
            return
        if not isinstance(method, str):
            return
        if "id" in message:
            self._on_server_request(message)
        else:
            self._on_notification(method, message)

    def _on_response(self, message: Message) -> None:
        pending = self._pending.take(message["id"])
        if pending is None:
            log.debug("[%s] answer to an unknown id %r", self.label, message["id"])
            return
        if pending.future is not None:
            if not pending.future.done():
                pending.future.set_result(message)
            return
        if pending.is_init:
            self._on_initialize_result(pending, message)
        message["id"] = pending.client_id
        self._finish(pending, message)

    def _on_initialize_result(self, pending: Pending, message: Message) -> None:
        if "result" in message:
            self._init_params = pending.init_params
            self._init_result = message["result"]
            self._send_now({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self._release_init_wait()

    def _on_server_request(self, message: Message) -> None:
        owner = self._owner(asking=jsonrpc.dumps(message))
        if isinstance(owner, Unattributed):
            if message["method"] == "ping":  # carries nothing a client could leak; we are alive
                self._send_now({"jsonrpc": "2.0", "id": message["id"], "result": {}})
                return
            why = f"{owner.why}, so this {message['method']} request cannot be routed"
            if owner.contended:
                log.warning("[%s] refused %s: %s", self.label, message["method"], owner.why)
                if owner.sessionless:
                    why += ": 2026-07-28 requests have no session, so they share one child"
                else:
                    hint = self._settings.stateful_hint
                    why += (
                        f": clients share one child in shared mode ({hint}: one per 2025 session)"
                    )
            self._refuse_server_request(message["id"], why)
            return
        session, pending = owner
        try:
            self._server_requests[message["id"]] = owner
        except TypeError:
            return
        if pending is not None:
            pending.asking += 1
            self._askers.add(pending.kind)
        request_id = message["id"]
        log.debug("[%s] server request %r routed to [%s]", self.label, request_id, session.tag)

        def undelivered() -> None:
            if self._server_requests.pop(request_id, None) is not None:
                answered(pending)
                why = f"the client opened no stream within {session.hold_seconds:g}s"
                self._refuse_server_request(request_id, why)

        if not self._deliver_interim(session, pending, jsonrpc.dumps(message), undelivered):
            del self._server_requests[request_id]
            answered(pending)
            self._refuse_server_request(request_id, "the client has no stream to receive it")

    def _on_notification(self, method: str, message: Message) -> None:
        params = message.get("params")
        if method == "notifications/progress":
            token = params.get("progressToken") if isinstance(params, dict) else None
            pending = self._pending.by_progress_token(token)
            if pending is None or pending.session is None or not isinstance(params, dict):
                return
            params["progressToken"] = pending.token
            self._deliver_interim(pending.session, pending, jsonrpc.dumps(message))
            return
        if method == "notifications/cancelled":
            request_id = params.get("requestId") if isinstance(params, dict) else None
            asked = lookup(self._server_requests, request_id)
            if asked is not None:
                del self._server_requests[request_id]
                asker, pending = asked
                answered(pending)
                self._deliver_interim(asker, pending or latest(asker), jsonrpc.dumps(message))
            return
        payload = jsonrpc.dumps(message)
        if method.endswith("/list_changed") or method == "notifications/resources/updated":
            targets = list(self.sessions.values())
            uri = params.get("uri") if isinstance(params, dict) else None
            if method == "notifications/resources/updated" and isinstance(uri, str):
                subscribed = [s for s in targets if uri in self._subscriptions.get(s.id, ())]
                targets = subscribed or targets
            for session in targets:
                session.push(payload)
            return
        owner = self._owner()
        if isinstance(owner, Unattributed):
            self.dropped_notifications += 1
            log.debug("[%s] dropped %s: %s", self.label, method, owner.why)
            return
        self._deliver_interim(owner[0], owner[1], payload)

    def _owner(self, *, asking: bytes = b"") -> tuple[Session, Pending | None] | Unattributed:
        """The certain owner (module docstring); ``asking`` is an encoded server→client request."""
        return current_owner(self._pending, self.sessions.values(), asking, self._askers)

    def _deliver_interim(
        self,
        session: Session,
        pending: Pending | None,
        payload: bytes,
        undelivered: Callable[[], None] | None = None,
    ) -> bool:
        if pending is not None:
            sink = pending.sink
            if sink is not None and sink.streaming and sink.put(payload, final=False):
                return True
        return session.push(payload, undelivered)

    def _deliver_final(self, session: Session | None, sink: Sink | None, payload: bytes) -> None:
        if not deliver_final(session, sink, payload):
            log.debug("[%s] the client left before its answer arrived", self.label)

    def _finish(self, pending: Pending, message: Message) -> None:
        self._deliver_final(pending.session, pending.sink, jsonrpc.dumps(message))

    def _refuse_server_request(self, request_id: Any, why: str) -> None:
        self._send_now(jsonrpc.error(request_id, jsonrpc.INTERNAL_ERROR, f"bridge: {why}"))

    def _fail_all(self, text: str) -> None:
        self._server_requests.clear()
        for pending in self._pending.drain():
            if pending.future is not None:
                if not pending.future.done():
                    pending.future.set_exception(ConnectionResetError(text))
                continue
            if pending.is_init:
                self._release_init_wait()
            self._finish(pending, error_for(pending, text))


def _ignore_outcome(task: asyncio.Task[Message]) -> None:
    """Consume a background request's outcome (the child may be gone: that is fine)."""
    if not task.cancelled():
        task.exception()
