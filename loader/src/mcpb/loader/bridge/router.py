"""One stdio child seen from many clients: id remapping, routing, crash recovery.

Every request forwarded to the child gets a fresh integer id (and a fresh progress token), so
ids chosen by different clients never collide inside the child; the child's answer is given
back its client id and delivered to the request's own sink. What the child sends on its own is
routed by one rule:

* ``notifications/progress`` goes to the request whose (re-tagged) token it carries;
* ``*/list_changed`` goes to every attached session; ``notifications/resources/updated`` to the
  sessions that subscribed to that URI (all sessions when nobody did through the bridge);
* everything else — logging, and server→client requests (sampling, elicitation, roots) — goes
  only to a *certain owner*. A stdio server says nothing about which request a message belongs
  to, so the owner is certain only when exactly one session has requests in flight to the child,
  or, with none in flight, exactly one session is attached (always so in stateful mode). The
  message then goes on the stream of that session's oldest tool-like request (``tools/call``,
  ``prompts/get``, ``resources/read``, ``completion/complete``; a server→client request prefers
  the call whose string arguments it quotes, then a kind seen asking before, then a call not
  already waiting), else its oldest request, else its GET stream. Without a certain owner a
  server→client request is refused at once with a JSON-RPC error naming ``--stateful`` (a
  ``ping`` is answered by the bridge itself), and a logging notification is dropped: guessing
  once handed one client another client's question, and a broadcast would leak one client's
  logs to all. A server→client request is answered only by the session it was routed to.

The child's ``initialize`` happens once: the first client's request goes through, its result is
cached and replayed to later sessions (shared mode) with their own ids; the bridge itself sends
``notifications/initialized`` and drops the clients' copies. When the child dies its in-flight
requests fail with JSON-RPC errors; it is restarted with exponential backoff and the cached
``initialize`` is replayed, so sessions survive the crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcpb.bundle.errors import UsageError
from mcpb.loader.bridge import jsonrpc
from mcpb.loader.bridge.child import ChildProcess
from mcpb.loader.bridge.config import BridgeConfig
from mcpb.loader.bridge.jsonrpc import Message
from mcpb.loader.bridge.owner import Pending, Unattributed, answered, current_owner
from mcpb.loader.bridge.sink import RequestSink

if TYPE_CHECKING:
    from mcpb.loader.bridge.session import Session

log = logging.getLogger("mcpb.bridge")

#: A child that ran at least this long before crashing restarts after the shortest backoff.
_STABLE_AFTER = 10.0
_PROBE_TIMEOUT = 2.0
#: A child that sent anything this recently counts as answering without a ping.
_RECENTLY = 10.0
#: Requests during which a server typically asks the client something (sampling, elicitation).
_ASKS_BACK = frozenset({"tools/call", "prompts/get", "resources/read", "completion/complete"})
_USE_STATEFUL = (
    " in shared mode; run the bridge with --stateful (loader: MCPB_BRIDGE_MODE=stateful)"
)


class UpstreamUnavailableError(Exception):
    """The stdio server is down (restarting) and did not come back in time."""


class Upstream:
    """A supervised stdio child plus the routing state of the sessions attached to it."""

    def __init__(
        self,
        config: BridgeConfig,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        label: str,
    ) -> None:
        self._config = config
        self._command = list(command)
        self._env = dict(env)
        self._cwd = cwd
        self.label = label
        self.sessions: dict[str, Session] = {}
        self._pending: dict[int, Pending] = {}
        self._progress: dict[int, Pending] = {}
        self._server_requests: dict[Any, tuple[Session, Pending | None]] = {}
        #: Kinds of request (``tools/call NAME``, ``prompts/get``...) seen asking the client.
        self._askers: set[str] = set()
        self._next_id = 0
        self._child: ChildProcess | None = None
        self._up = asyncio.Event()
        self._closing = False
        self._init_params: Any = None
        self._init_result: Any = None
        self._init_wait: asyncio.Future[None] | None = None
        self._restart_task: asyncio.Task[None] | None = None
        self._backoff = config.restart_backoff_min
        self._started_at = 0.0
        self.restarts = 0
        #: Notifications (logging...) dropped because no single session certainly owned them.
        self.dropped_notifications = 0
        self._last_heard = 0.0

    # ----------------------------------------------------------------- lifecycle

    @property
    def pid(self) -> int | None:
        """Pid of the current child process (its process group id), if running."""
        return self._child.pid if self._child else None

    @property
    def is_up(self) -> bool:
        """The child runs and, if it was ever initialised, has been initialised again."""
        return self._up.is_set()

    async def start(self) -> None:
        """Spawn the child; a command that cannot be executed is a UsageError."""
        try:
            await self._spawn()
        except OSError as err:
            raise UsageError(f"cannot start the stdio server {self._command[0]!r}: {err}") from err
        self._up.set()

    async def _spawn(self) -> None:
        child = ChildProcess(
            self._command,
            self._env,
            self._cwd,
            self.label,
            self._on_child_message,
            lambda code: self._on_child_exit(child, code),
            self._config.max_message,
        )
        await child.start()
        self._child = child
        self._started_at = time.monotonic()

    async def close(self) -> None:
        """Fail what is in flight, stop the child's process group and reap it."""
        self._closing = True
        if self._restart_task is not None:
            self._restart_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restart_task
        self._fail_all("the bridge is shutting down")
        self._up.clear()
        if self._child is not None:
            await self._child.stop(self._config.kill_grace)

    def attach(self, session: Session) -> None:
        """Route the child's broadcasts to ``session`` from now on."""
        self.sessions[session.id] = session

    def detach(self, session: Session) -> None:
        """Forget a session: cancel its requests in the child, refuse its pending questions."""
        self.sessions.pop(session.id, None)
        for pending in list(session.inflight.values()):
            # Wake the HTTP request still waiting; the child's late answer is then dropped.
            self._finish(pending, self._error_for(pending, "the session ended"))
            if self._closing or self._child is None:
                continue
            self._send_to_child(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": pending.upstream_id, "reason": "session ended"},
                }
            )
        session.inflight.clear()
        for request_id, (owner, _) in list(self._server_requests.items()):
            if owner is session:
                del self._server_requests[request_id]
                self._refuse_server_request(request_id, "the client session ended")

    def _on_child_exit(self, child: ChildProcess, code: int) -> None:
        if child is not self._child:
            return
        self._up.clear()
        if self._closing:
            return
        log.warning("[%s] stdio server exited with code %d", self.label, code)
        self._fail_all(f"the MCP server process exited (code {code}) before answering")
        self._release_init_wait()
        if self._restart_task is None or self._restart_task.done():
            self._restart_task = asyncio.create_task(self._restart())

    async def _restart(self) -> None:
        while not self._closing:
            if time.monotonic() - self._started_at > _STABLE_AFTER:
                self._backoff = self._config.restart_backoff_min
            delay = self._backoff
            self._backoff = min(self._backoff * 2, self._config.restart_backoff_max)
            log.info("[%s] restarting the stdio server in %.1fs", self.label, delay)
            await asyncio.sleep(delay)
            try:
                await self._spawn()
            except OSError as err:
                log.error("[%s] cannot restart the stdio server: %s", self.label, err)
                continue
            self.restarts += 1
            if await self._replay_initialize():
                self._up.set()
                return
            if self._child is not None:
                await self._child.stop(self._config.kill_grace)
        return

    async def _replay_initialize(self) -> bool:
        if self._init_params is None:
            return True
        try:
            answer = await self._internal_request(
                "initialize", self._init_params, self._config.unavailable_timeout
            )
        except (TimeoutError, ConnectionError):
            log.error("[%s] the restarted server did not answer initialize", self.label)
            return False
        if "result" not in answer:
            log.error("[%s] the restarted server refused initialize: %s", self.label, answer)
            return False
        self._send_to_child({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return True

    # ----------------------------------------------------------------- client → child

    async def _ready_child(self) -> ChildProcess:
        if not self._up.is_set():
            try:
                await asyncio.wait_for(self._up.wait(), self._config.unavailable_timeout)
            except TimeoutError:
                raise UpstreamUnavailableError from None
        child = self._child
        if child is None or self._closing:
            raise UpstreamUnavailableError
        return child

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def forward_request(
        self, session: Session, message: Message, sink: RequestSink | None
    ) -> None:
        """Send a client's request to the child; the answer will reach ``sink``.

        With ``sink=None`` (legacy SSE) every message about the request goes to the session's
        stream. Raises UpstreamUnavailableError when the child stays down too long.
        """
        child = await self._ready_child()
        await self._forward(child, session, message, sink, is_init=False)

    async def _forward(
        self,
        child: ChildProcess,
        session: Session,
        message: Message,
        sink: RequestSink | None,
        *,
        is_init: bool,
    ) -> None:
        upstream_id = self._new_id()
        client_id = message["id"]
        method = message["method"]
        pending = Pending(
            upstream_id, client_id, session, sink, is_init=is_init, asks_back=method in _ASKS_BACK
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
            if method == "resources/subscribe" and isinstance(params.get("uri"), str):
                session.subscriptions.add(params["uri"])
            elif method == "resources/unsubscribe":
                session.subscriptions.discard(params.get("uri"))
        message["id"] = upstream_id
        self._pending[upstream_id] = pending
        session.inflight[client_id] = pending
        try:
            child.write(jsonrpc.dumps(message))
            await child.drain()
        except ConnectionError:
            if self._pending.pop(upstream_id, None) is pending:
                self._forget(pending)
                self._finish(pending, self._error_for(pending, "the MCP server is not running"))

    async def initialize(
        self, session: Session, message: Message, sink: RequestSink | None
    ) -> None:
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
                    asyncio.shield(self._init_wait), self._config.unavailable_timeout
                )
            except TimeoutError:
                raise UpstreamUnavailableError from None
        self._init_wait = asyncio.get_running_loop().create_future()
        try:
            child = await self._ready_child()
            await self._forward(child, session, message, sink, is_init=True)
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
            pending = _lookup(session.inflight, params.get("requestId"))
            if pending is None:
                return
            params["requestId"] = pending.upstream_id
            self._cancelled(pending)
        child = await self._ready_child()
        child.write(jsonrpc.dumps(message))
        await child.drain()

    def _cancelled(self, pending: Pending) -> None:
        """The client gave up on a request: end its HTTP exchange now, forget it.

        The child is told (the caller forwards the notification) and may or may not answer;
        a late answer finds no pending entry and is dropped. The POST still waiting gets an
        error response at once instead of hanging until the child or the session ends; a
        legacy SSE client gets nothing (a cancelled request has no response).
        """
        if self._pending.pop(pending.upstream_id, None) is not pending:
            return
        self._forget(pending)
        if pending.is_init:
            self._release_init_wait()
        if pending.sink is not None:
            text = "request cancelled by the client"
            self._finish(pending, jsonrpc.error(pending.client_id, jsonrpc.REQUEST_CANCELLED, text))

    async def forward_response(self, session: Session, message: Message) -> None:
        """Send a client's answer to a server→client request, if that session was asked."""
        request_id = message.get("id")
        asked = _lookup(self._server_requests, request_id)
        if asked is None or asked[0] is not session:
            log.debug("[%s] dropped an answer to a request it was not asked", session.tag)
            return
        del self._server_requests[request_id]
        answered(asked[1])
        child = await self._ready_child()
        child.write(jsonrpc.dumps(message))
        await child.drain()

    async def probe(self) -> bool:
        """Whether the child is answering: it said something recently, or answers a ``ping``.

        Recent output counts so that a server busy with a long call (one that handles a request
        at a time cannot answer a ping meanwhile) is not reported unready while it works.
        """
        if not self._up.is_set() or self._closing:
            return False
        if time.monotonic() - self._last_heard < _RECENTLY:
            return True
        try:
            await self._internal_request("ping", None, _PROBE_TIMEOUT)
        except (TimeoutError, ConnectionError):
            return False
        return True

    async def _internal_request(self, method: str, params: Any, timeout: float) -> Message:
        child = self._child
        if child is None:
            raise ConnectionResetError("no child")
        upstream_id = self._new_id()
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[upstream_id] = Pending(upstream_id, None, None, None, future=future)
        message: Message = {"jsonrpc": "2.0", "id": upstream_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            child.write(jsonrpc.dumps(message))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(upstream_id, None)

    def _send_to_child(self, message: Message) -> None:
        if self._child is None:
            return
        with contextlib.suppress(ConnectionError):
            self._child.write(jsonrpc.dumps(message))

    # ----------------------------------------------------------------- child → client

    def _on_child_message(self, message: Any) -> None:
        self._last_heard = time.monotonic()
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
        pending = _lookup(self._pending, message["id"])
        if pending is None:
            log.debug("[%s] answer to an unknown id %r", self.label, message["id"])
            return
        del self._pending[pending.upstream_id]
        self._forget(pending)
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
            self._send_to_child({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self._release_init_wait()

    def _on_server_request(self, message: Message) -> None:
        owner = self._owner(asking=jsonrpc.dumps(message))
        if isinstance(owner, Unattributed):
            if message["method"] == "ping":  # carries nothing a client could leak; we are alive
                self._send_to_child({"jsonrpc": "2.0", "id": message["id"], "result": {}})
                return
            why = f"{owner.why}, so this {message['method']} request cannot be routed"
            if len(self.sessions) > 1:
                log.warning("[%s] refused %s: %s", self.label, message["method"], owner.why)
                why += _USE_STATEFUL
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
        log.debug("[%s] server request %r routed to [%s]", self.label, message["id"], session.tag)
        if not self._deliver_interim(session, pending, jsonrpc.dumps(message)):
            del self._server_requests[message["id"]]
            answered(pending)
            self._refuse_server_request(message["id"], "the client has no open stream")

    def _on_notification(self, method: str, message: Message) -> None:
        params = message.get("params")
        if method == "notifications/progress":
            token = params.get("progressToken") if isinstance(params, dict) else None
            pending = _lookup(self._progress, token)
            if pending is None or pending.session is None or not isinstance(params, dict):
                return
            params["progressToken"] = pending.token
            self._deliver_interim(pending.session, pending, jsonrpc.dumps(message))
            return
        if method == "notifications/cancelled":
            request_id = params.get("requestId") if isinstance(params, dict) else None
            asked = _lookup(self._server_requests, request_id)
            if asked is not None:
                del self._server_requests[request_id]
                owner, pending = asked
                answered(pending)
                self._deliver_interim(owner, pending or _latest(owner), jsonrpc.dumps(message))
            return
        payload = jsonrpc.dumps(message)
        if method.endswith("/list_changed") or method == "notifications/resources/updated":
            targets = list(self.sessions.values())
            uri = params.get("uri") if isinstance(params, dict) else None
            if method == "notifications/resources/updated" and isinstance(uri, str):
                subscribed = [s for s in targets if uri in s.subscriptions]
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
        return current_owner(self._pending.values(), self.sessions.values(), asking, self._askers)

    def _deliver_interim(self, session: Session, pending: Pending | None, payload: bytes) -> bool:
        if pending is not None:
            sink = pending.sink
            if sink is not None and sink.streaming and sink.put(payload, final=False):
                return True
        return session.push(payload)

    def _deliver_final(
        self, session: Session | None, sink: RequestSink | None, payload: bytes
    ) -> None:
        if sink is not None:
            if not sink.put(payload, final=True):
                log.debug("[%s] client left before its answer arrived", self.label)
            return
        if session is not None and not session.push(payload):
            log.debug("[%s] no stream to deliver an answer to", session.tag)

    def _finish(self, pending: Pending, message: Message) -> None:
        self._deliver_final(pending.session, pending.sink, jsonrpc.dumps(message))

    def _refuse_server_request(self, request_id: Any, why: str) -> None:
        self._send_to_child(jsonrpc.error(request_id, jsonrpc.INTERNAL_ERROR, f"bridge: {why}"))

    def _forget(self, pending: Pending) -> None:
        if pending.has_token:
            self._progress.pop(pending.upstream_id, None)
        session = pending.session
        if session is not None and _lookup(session.inflight, pending.client_id) is pending:
            del session.inflight[pending.client_id]

    def _error_for(self, pending: Pending, text: str) -> Message:
        return jsonrpc.error(pending.client_id, jsonrpc.SERVER_UNAVAILABLE, text)

    def _fail_all(self, text: str) -> None:
        pending_all = list(self._pending.values())
        self._pending.clear()
        self._progress.clear()
        self._server_requests.clear()
        for pending in pending_all:
            self._forget(pending)
            if pending.future is not None:
                if not pending.future.done():
                    pending.future.set_exception(ConnectionResetError(text))
                continue
            if pending.is_init:
                self._release_init_wait()
            self._finish(pending, self._error_for(pending, text))


def _lookup(table: Mapping[Any, Any], key: Any) -> Any:
    """``table.get(key)`` that treats unhashable keys (hostile ids) as absent."""
    try:
        return table.get(key)
    except TypeError:
        return None


def _latest(session: Session) -> Pending | None:
    for pending in reversed(session.inflight.values()):
        return pending
    return None
