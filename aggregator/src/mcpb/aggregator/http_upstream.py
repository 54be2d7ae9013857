"""A streamable-HTTP MCP server as a ``Backend``: the client side of the transport.

Each session attached to it gets its own upstream MCP session (a *link*), opened by
``initialize`` and nothing before: an attached session that never asks holds no connection.
Requests run as tasks, so a slow call never blocks another; their answers (plain JSON or an
SSE stream carrying progress, logging and server→client requests first) go to the request's
sink. An upstream session that expired (404) is re-initialized once, transparently. A
session that subscribes to resources, and any session the aggregator asks to ``listen``, also
holds the upstream's GET stream for what the server says unprompted. HTTP goes through the
lean keep-alive client of :mod:`mcpb.aggregator.http_client` (one pool per upstream).

An upstream that answers ``server/discover`` with 2026-07-28 (probed once, at the first
``initialize``) is spoken to in that revision instead (:mod:`mcpb.aggregator.modern_wire`),
while it still looks like a handshake-era server to everything above: ``initialize`` is
answered from the discover result and opens nothing upstream; each request carries the
``_meta`` envelope (the session's declared capabilities) and the routing headers; an
``input_required`` answer becomes server→client requests on the request's stream, and the
client's answers go back in the retry with the ``requestState``; ``ping`` and
``logging/setLevel`` are answered here, subscriptions become ``subscriptions/listen`` (which
also replaces the GET stream); cancelling a request closes its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from contextvars import Context
from typing import Any

from mcpb.aggregator.exchange import current_exchange
from mcpb.aggregator.http_client import HttpClientError, HttpPool, HttpResponse
from mcpb.aggregator.modern_wire import (
    MODERN,
    REMOVED,
    discover_message,
    enveloped,
    initialize_result,
    input_requests,
    routing_headers_for,
    speaks_modern,
)
from mcpb.aggregator.sse_reader import EventTooLargeError, events
from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.backend import BackendUnavailableError
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.modern.headers import HeaderParam, header_params
from mcpb.mcphttp.session import Session, deliver_final
from mcpb.mcphttp.sink import Sink

log = logging.getLogger("mcpb.aggregator")

#: Largest single message accepted from an upstream, bytes.
MAX_MESSAGE = 16 * 1024 * 1024
#: 2026-07-28: how many ``input_required`` rounds one request may take, and how long the
#: client may take to answer one question.
MAX_INPUT_ROUNDS = 10
INPUT_TIMEOUT = 300.0
#: What a listen stream carries that a handshake-era session wants (not its acknowledgement).
_LIST_OR_UPDATE = re.compile(r'"notifications/(tools|prompts|resources)/(list_changed|updated)"')
_ACCEPT = "application/json, text/event-stream"
_LISTEN_BACKOFF = (0.5, 10.0)


class _Link:
    """One upstream MCP session, serving one attached session (2026-07-28: its settings)."""

    __slots__ = (
        "asked",
        "capabilities",
        "closed",
        "init",
        "listener",
        "log_level",
        "session_id",
        "subscriptions",
        "version",
    )

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.version: str | None = None
        self.init: Message | None = None
        self.listener: asyncio.Task[None] | None = None
        self.closed = False
        self.capabilities: Any = {}
        self.log_level: str | None = None
        self.subscriptions: set[str] = set()
        #: 2026-07-28: questions of the upstream handed to the client, by the id they carry.
        self.asked: dict[Any, asyncio.Future[Message]] = {}


class _Call:
    """A request in flight upstream (the record kept in ``session.inflight``)."""

    __slots__ = ("sink", "task")

    def __init__(self, sink: Sink | None) -> None:
        self.sink = sink
        self.task: asyncio.Task[None] | None = None


class HttpUpstream:
    """A :class:`~mcpb.mcphttp.backend.Backend` that is a remote streamable-HTTP MCP server."""

    def __init__(
        self,
        url: str,
        label: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        on_unreachable: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.label = label
        self._headers = {"accept": _ACCEPT, "content-type": "application/json"}
        self._headers.update({k.lower(): v for k, v in (headers or {}).items()})
        self._timeout = timeout
        self._on_unreachable = on_unreachable
        self._client: HttpPool | None = None
        self._links: dict[str, _Link] = {}
        self._background: set[asyncio.Task[Any]] = set()
        #: The upstream's ``server/discover`` result when it speaks 2026-07-28; None: it does
        #: not (or not yet known: ``_probed``).
        self.discovered: Message | None = None
        self._probed = False
        self._probing: asyncio.Lock | None = None
        #: 2026-07-28: the ``Mcp-Param-*`` headers of each tool, from its ``tools/list``.
        self._tool_headers: dict[str, dict[bytes, HeaderParam]] = {}

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Create the connection pool (nothing is connected yet)."""
        self._client = HttpPool(self.url, connect_timeout=self._timeout)

    async def close(self) -> None:
        """End every upstream session (best effort) and the pool."""
        links = list(self._links.values())
        self._links.clear()
        for link in links:
            self._end_link(link)
        for task in list(self._background):
            task.cancel()
        if links and self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*(self._delete(link) for link in links)), 1.0)
        if self._client is not None:
            await self._client.aclose()

    async def check(self) -> str | None:
        """Whether the upstream answers a ``ping`` on the oldest upstream session
        (2026-07-28: a ``server/discover``)."""
        if self.discovered is not None:
            try:
                async with asyncio.timeout(self._timeout):
                    await self._discover()
            except (HttpClientError, TimeoutError) as err:
                return f"unreachable: {describe(err)}"
            except BackendUnavailableError as err:
                return str(err)
            return None
        link = next((ln for ln in self._links.values() if ln.session_id or ln.init), None)
        if link is None:
            return "not connected"
        ping = {"jsonrpc": "2.0", "id": "mcpb-ping", "method": "ping"}
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._pool.request(
                    "POST", self._request_headers(link), jsonrpc.dumps(ping)
                )
                await response.read(MAX_MESSAGE)
        except (HttpClientError, TimeoutError) as err:
            return f"unreachable: {describe(err)}"
        if response.status == 404 and link.session_id:
            try:
                await self._handshake(link)
            except BackendUnavailableError as err:
                return str(err)
            return None
        if response.status != 200:
            return f"answered ping with HTTP {response.status}"
        return None

    @property
    def _pool(self) -> HttpPool:
        if self._client is None:
            raise BackendUnavailableError(f"upstream {self.label} is not started")
        return self._client

    def attach(self, session: Session) -> None:
        """Remember the session; its upstream session opens with its ``initialize``."""
        self._links[session.id] = _Link()

    def detach(self, session: Session) -> None:
        """Cancel the session's requests and end its upstream session."""
        link = self._links.pop(session.id, None)
        for call in list(session.inflight.values()):
            if isinstance(call, _Call) and call.task is not None:
                call.task.cancel()
        if link is not None:
            self._end_link(link)
            if link.session_id is not None:
                self._spawn(self._delete(link))

    def _end_link(self, link: _Link) -> None:
        link.closed = True
        if link.listener is not None:
            link.listener.cancel()
        for waiting in link.asked.values():
            waiting.cancel()
        link.asked.clear()

    # ----------------------------------------------------------------- messages

    async def initialize(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Open the session's upstream session with ``message``; the answer goes to ``sink``."""
        link = self._link(session)
        link.init = dict(message)
        if not self._probed:
            await self._probe()
        if self.discovered is not None:  # nothing to open upstream: 2026 has no sessions
            params = message.get("params")
            params = params if isinstance(params, dict) else {}
            link.version = MODERN
            link.capabilities = params.get("capabilities") or {}
            # A 2025 server logs without being asked; a 2026 one only when the request asks:
            # ask for everything (a 2026 client's own level filters at the vMCP's edge).
            link.log_level = "debug"
            result = initialize_result(self.discovered, params.get("protocolVersion"))
            answer = {"jsonrpc": "2.0", "id": message["id"], "result": result}
            deliver_final(session, sink, jsonrpc.dumps(answer))
            return
        payload = await self._handshake(link)
        deliver_final(session, sink, payload)

    async def forward_request(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Post a request on the session's upstream session, in a task of its own."""
        link = self._link(session)
        if link.init is None:
            raise BackendUnavailableError(f"upstream {self.label}: the session is not initialized")
        if link.version == MODERN and message["method"] in REMOVED:
            self._answer_removed(session, link, message, sink)
            return
        call = _Call(sink)
        session.inflight[message["id"]] = call
        exchange = self._modern_exchange if link.version == MODERN else self._exchange
        call.task = asyncio.create_task(exchange(session, link, message, call))
        if message.get("method") == "resources/subscribe":
            self.listen(session)

    async def forward_notification(self, session: Session, message: Message) -> None:
        """Post a notification (a cancel also stops waiting for the answer)."""
        link = self._links.get(session.id)
        if link is None or (link.session_id is None and link.init is None):
            return
        if message.get("method") == "notifications/cancelled":
            params = message.get("params")
            request_id = params.get("requestId") if isinstance(params, dict) else None
            self._drop_call(session, request_id)  # 2026-07-28: closing it is the cancel
        if link.version != MODERN:
            await self._post_quietly(link, message)

    async def forward_response(self, session: Session, message: Message) -> None:
        """Post a client's answer to a server→client request."""
        link = self._links.get(session.id)
        if link is None:
            return
        if link.version == MODERN:  # the answer goes into the retry of the call that asked
            waiting = link.asked.get(message.get("id"))
            if waiting is not None and not waiting.done():
                waiting.set_result(message)
            return
        await self._post_quietly(link, message)

    def abandon(self, session: Session, request_id: object, reason: str) -> None:
        """Stop waiting for a request and tell the upstream it is cancelled."""
        link = self._links.get(session.id)
        if not self._drop_call(session, request_id) or link is None or link.version == MODERN:
            return
        params = {"requestId": request_id, "reason": reason}
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
        self._spawn(self._post_quietly(link, cancel))

    def listen(self, session: Session) -> None:
        """Hold the upstream's GET stream for ``session``: unprompted messages reach its push."""
        link = self._links.get(session.id)
        if link is not None and link.listener is None and not link.closed:
            # not on behalf of the request that opened it: no request id or trace context
            listen = self._listen_modern if link.version == MODERN else self._listen
            link.listener = asyncio.create_task(listen(session, link), context=Context())

    # ----------------------------------------------------------------- HTTP

    def _link(self, session: Session) -> _Link:
        link = self._links.get(session.id)
        if link is None:
            raise BackendUnavailableError(f"upstream {self.label}: the session is not attached")
        return link

    def _request_headers(self, link: _Link) -> dict[str, str]:
        headers = dict(self._headers)
        exchange = current_exchange.get()  # the client request this is sent for, if any
        if exchange is not None:
            headers.update(exchange.upstream_headers())
        if link.session_id is not None:
            headers["mcp-session-id"] = link.session_id
        if link.version is not None:
            headers["mcp-protocol-version"] = link.version
        return headers

    async def _handshake(self, link: _Link) -> bytes:
        """``initialize`` (with ``link.init``) and ``notifications/initialized``; the answer."""
        assert link.init is not None
        link.session_id = link.version = None
        try:
            response = await self._pool.request("POST", self._headers, jsonrpc.dumps(link.init))
            if response.status != 200:
                response.close()
                raise BackendUnavailableError(
                    f"upstream {self.label} answered initialize with HTTP {response.status}"
                )
            session_id = response.header(b"mcp-session-id")
            payload, _ = await self._answer(response, link.init["id"], None, None)
        except HttpClientError as err:
            self._unreachable(err)
            raise BackendUnavailableError(
                f"upstream {self.label} is unreachable: {describe(err)}"
            ) from None
        answer = jsonrpc.loads(payload)
        result = answer.get("result") if isinstance(answer, dict) else None
        if isinstance(result, dict):
            link.session_id = session_id
            version = result.get("protocolVersion")
            link.version = version if isinstance(version, str) else None
            await self._post_quietly(
                link, {"jsonrpc": "2.0", "method": "notifications/initialized"}
            )
        return payload

    async def _exchange(self, session: Session, link: _Link, message: Message, call: _Call) -> None:
        client_id = message["id"]
        body = jsonrpc.dumps(message)
        try:
            for attempt in (1, 2):
                response = await self._pool.request("POST", self._request_headers(link), body)
                if response.status == 404 and link.session_id and attempt == 1:
                    await response.read(MAX_MESSAGE)
                    log.info("[%s] upstream session expired: initializing again", self.label)
                    await self._handshake(link)
                    continue
                payload, _ = await self._answer(response, client_id, session, call.sink)
                break
        except HttpClientError as err:
            self._unreachable(err)
            text = f"upstream {self.label} is unavailable: {describe(err)}"
            payload = jsonrpc.error_bytes(client_id, jsonrpc.SERVER_UNAVAILABLE, text)
        except BackendUnavailableError as err:
            payload = jsonrpc.error_bytes(client_id, jsonrpc.SERVER_UNAVAILABLE, str(err))
        if session.inflight.get(client_id) is call:
            del session.inflight[client_id]
            deliver_final(session, call.sink, payload)

    async def _answer(
        self, response: HttpResponse, request_id: Any, session: Session | None, sink: Sink | None
    ) -> tuple[bytes, dict[str, Any] | None]:
        """The answer to ``request_id`` in ``response``, encoded and decoded (None when it is
        an error of our own); interim messages go on as they come."""
        status = response.status
        kind = (response.header(b"content-type") or "").split(";")[0].strip().lower()
        if status == 200 and kind == "text/event-stream":
            try:
                async for event, data in events(response.chunks(), MAX_MESSAGE):
                    if event != "message" or not data:
                        continue
                    payload = data.encode()
                    message = _parse(payload)
                    if message is None:
                        continue
                    if "method" not in message and message.get("id") == request_id:
                        response.close()
                        return payload, message
                    if session is not None:
                        self._interim(session, sink, payload)
            except EventTooLargeError as err:
                response.close()
                return self._error(request_id, str(err)), None
            return self._error(request_id, "closed its stream before answering"), None
        body = await response.read(MAX_MESSAGE)
        if body is None:
            return self._error(request_id, f"sent an answer larger than {MAX_MESSAGE} bytes"), None
        answer = _parse(body) if body else None
        if answer is not None and answer.get("id") == request_id and "method" not in answer:
            return body, answer
        if status == 200:
            return self._error(request_id, "sent no answer"), None
        return self._error(request_id, f"answered HTTP {status}"), None

    def _error(self, request_id: Any, what: str) -> bytes:
        text = f"upstream {self.label} {what}"
        return jsonrpc.error_bytes(request_id, jsonrpc.SERVER_UNAVAILABLE, text)

    async def _listen(self, session: Session, link: _Link) -> None:
        delay = _LISTEN_BACKOFF[0]
        while not link.closed:
            try:
                headers = self._request_headers(link)
                headers["accept"] = "text/event-stream"
                response = await self._pool.request("GET", headers)
                try:
                    if response.status == 405:
                        return  # the upstream offers no GET stream
                    if response.status == 200:
                        delay = _LISTEN_BACKOFF[0]
                        async for event, data in events(response.chunks(), MAX_MESSAGE):
                            if event == "message" and data:
                                session.push(data.encode())
                finally:
                    response.close()
            except (HttpClientError, EventTooLargeError) as err:
                log.debug("[%s] GET stream ended: %s", self.label, describe(err))
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LISTEN_BACKOFF[1])

    # ----------------------------------------------------------------- 2026-07-28

    async def _probe(self) -> None:
        """Learn once whether the upstream speaks 2026-07-28 (its ``server/discover``)."""
        if self._probing is None:
            self._probing = asyncio.Lock()
        async with self._probing:
            if self._probed:
                return
            try:
                async with asyncio.timeout(self._timeout):
                    await self._discover()
            except HttpClientError as err:
                self._unreachable(err)
                raise BackendUnavailableError(
                    f"upstream {self.label} is unreachable: {describe(err)}"
                ) from None
            except (TimeoutError, BackendUnavailableError) as err:
                log.info(
                    "[%s] no answer to server/discover (%s): the 2025 handshake", self.label, err
                )
            self._probed = True
            era = "2026-07-28" if self.discovered is not None else "the 2025 handshake"
            log.info("[%s] speaks %s", self.label, era)

    async def _discover(self) -> None:
        """POST ``server/discover``; ``self.discovered`` is its result when 2026-07-28 is served."""
        probe = discover_message({})
        headers = {**self._headers, **routing_headers_for(probe, {})}
        response = await self._pool.request("POST", headers, jsonrpc.dumps(probe))
        if response.status != 200:
            await response.read(MAX_MESSAGE)
            if self.discovered is not None:
                raise BackendUnavailableError(
                    f"upstream {self.label} answered server/discover with HTTP {response.status}"
                )
            return
        _, answer = await self._answer(response, probe["id"], None, None)
        if speaks_modern(answer):
            assert answer is not None
            self.discovered = answer["result"]

    def _answer_removed(
        self, session: Session, link: _Link, message: Message, sink: Sink | None
    ) -> None:
        """``ping``, ``logging/setLevel`` and (un)subscribe, gone in 2026-07-28: done here."""
        method = message["method"]
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "logging/setLevel" and isinstance(params.get("level"), str):
            link.log_level = params["level"]
        elif method in ("resources/subscribe", "resources/unsubscribe"):
            uri = params.get("uri")
            if isinstance(uri, str):
                if method == "resources/subscribe":
                    link.subscriptions.add(uri)
                else:
                    link.subscriptions.discard(uri)
                if link.listener is not None:  # listen again with the new set
                    link.listener.cancel()
                    link.listener = None
                self.listen(session)
        answer = {"jsonrpc": "2.0", "id": message["id"], "result": {}}
        deliver_final(session, sink, jsonrpc.dumps(answer))

    async def _modern_exchange(
        self, session: Session, link: _Link, message: Message, call: _Call
    ) -> None:
        """One request in 2026-07-28, through as many ``input_required`` rounds as it takes."""
        client_id = message["id"]
        current = message
        payload = b""
        try:
            for _ in range(MAX_INPUT_ROUNDS):
                params = current.get("params")
                name = params.get("name") if isinstance(params, dict) else None
                wanted = {}
                if current["method"] == "tools/call" and isinstance(name, str):
                    wanted = self._tool_headers.get(name, {})
                headers = {**self._request_headers(link), **routing_headers_for(current, wanted)}
                body = jsonrpc.dumps(enveloped(current, link.capabilities, link.log_level))
                response = await self._pool.request("POST", headers, body)
                payload, answer = await self._answer(response, client_id, session, call.sink)
                asked = input_requests(answer)
                if asked is None:
                    self._learn(current["method"], answer)
                    break
                questions, state = asked
                responses = await self._ask_client(session, link, call, questions)
                if isinstance(responses, bytes):  # the client refused a question
                    payload = responses.replace(
                        b'"id":null', b'"id":' + jsonrpc.dumps(client_id), 1
                    )
                    break
                params = dict(current.get("params") or {})
                params["inputResponses"] = responses
                if state is not None:
                    params["requestState"] = state
                current = {**current, "params": params}
            else:
                payload = self._error(
                    client_id, f"asked for input more than {MAX_INPUT_ROUNDS} times"
                )
        except HttpClientError as err:
            self._unreachable(err)
            text = f"upstream {self.label} is unavailable: {describe(err)}"
            payload = jsonrpc.error_bytes(client_id, jsonrpc.SERVER_UNAVAILABLE, text)
        if session.inflight.get(client_id) is call:
            del session.inflight[client_id]
            deliver_final(session, call.sink, payload)

    async def _ask_client(
        self, session: Session, link: _Link, call: _Call, questions: dict[str, Message]
    ) -> dict[str, Any] | bytes:
        """Put the upstream's questions to the client as server→client requests; the answers
        by key, or the error of the first it refused (encoded, id null)."""
        loop = asyncio.get_running_loop()
        pending: list[tuple[str, Any, asyncio.Future[Message]]] = []
        for key, question in questions.items():
            ask_id: Any = key
            serial = 1
            while ask_id in link.asked:
                serial += 1
                ask_id = f"{key}-{serial}"
            waiting: asyncio.Future[Message] = loop.create_future()
            link.asked[ask_id] = waiting
            pending.append((key, ask_id, waiting))
            request = {"jsonrpc": "2.0", "id": ask_id, "method": question["method"]}
            request["params"] = question.get("params") or {}
            self._interim(session, call.sink, jsonrpc.dumps(request))
        try:
            responses: dict[str, Any] = {}
            for key, _, waiting in pending:
                answer = await asyncio.wait_for(waiting, INPUT_TIMEOUT)
                if "result" not in answer:
                    error = answer.get("error")
                    return jsonrpc.dumps({"jsonrpc": "2.0", "id": None, "error": error})
                responses[key] = answer["result"]
            return responses
        except TimeoutError:
            text = f"the client did not answer upstream {self.label}'s question in time"
            return jsonrpc.error_bytes(None, jsonrpc.SERVER_UNAVAILABLE, text)
        finally:
            for _, ask_id, _ in pending:
                link.asked.pop(ask_id, None)

    def _learn(self, method: str, answer: Any) -> None:
        """Remember the ``Mcp-Param-*`` headers of the tools a ``tools/list`` answer names."""
        result = answer.get("result") if isinstance(answer, dict) else None
        if method != "tools/list" or not isinstance(result, dict):
            return
        for tool in result.get("tools") or ():
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                self._tool_headers[tool["name"]] = header_params(tool.get("inputSchema"))

    async def _listen_modern(self, session: Session, link: _Link) -> None:
        """``subscriptions/listen`` for every list and the link's URIs, re-opened if it ends."""
        delay = _LISTEN_BACKOFF[0]
        while not link.closed:
            wanted: dict[str, Any] = {
                "toolsListChanged": True,
                "promptsListChanged": True,
                "resourcesListChanged": True,
            }
            if link.subscriptions:
                wanted["resourceSubscriptions"] = sorted(link.subscriptions)
            listen: Message = {
                "jsonrpc": "2.0",
                "id": "mcpb-listen",
                "method": "subscriptions/listen",
                "params": {"notifications": wanted},
            }
            body = jsonrpc.dumps(enveloped(listen, link.capabilities, None))
            headers = {**self._request_headers(link), **routing_headers_for(listen, {})}
            try:
                response = await self._pool.request("POST", headers, body)
                try:
                    if response.status == 200:
                        delay = _LISTEN_BACKOFF[0]
                        async for event, data in events(response.chunks(), MAX_MESSAGE):
                            if event == "message" and data and _LIST_OR_UPDATE.search(data):
                                session.push(data.encode())
                    elif response.status in (400, 404, 405):
                        return  # the upstream serves no listen (it said so)
                finally:
                    response.close()
            except (HttpClientError, EventTooLargeError) as err:
                log.debug("[%s] listen stream ended: %s", self.label, describe(err))
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LISTEN_BACKOFF[1])

    async def _post_quietly(self, link: _Link, message: Message) -> None:
        try:
            response = await self._pool.request(
                "POST", self._request_headers(link), jsonrpc.dumps(message)
            )
            await response.read(MAX_MESSAGE)
        except HttpClientError as err:
            log.debug("[%s] could not post %s: %s", self.label, message.get("method"), err)

    async def _delete(self, link: _Link) -> None:
        with contextlib.suppress(HttpClientError, BackendUnavailableError):
            response = await self._pool.request("DELETE", self._request_headers(link))
            await response.read(MAX_MESSAGE)

    # ----------------------------------------------------------------- delivery

    def _interim(self, session: Session, sink: Sink | None, payload: bytes) -> None:
        if sink is not None and sink.streaming and sink.put(payload, final=False):
            return
        session.push(payload)

    def _drop_call(self, session: Session, request_id: Any) -> bool:
        try:
            call = session.inflight.get(request_id)
        except TypeError:
            return False
        if not isinstance(call, _Call):
            return False
        del session.inflight[request_id]
        if call.task is not None:
            call.task.cancel()
        return True

    def _unreachable(self, err: BaseException) -> None:
        if self._on_unreachable is not None:
            self._on_unreachable(describe(err))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _parse(payload: bytes) -> dict[str, Any] | None:
    try:
        message = jsonrpc.loads(payload)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def describe(err: BaseException) -> str:
    """A short description of a connection error (some exceptions have empty messages)."""
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
