"""A legacy HTTP+SSE MCP server (protocol 2024-11-05) as a ``Backend``.

Each attached session that initializes gets its own SSE connection (a *link*): ``GET`` the
stream, wait for the ``endpoint`` event naming where to ``POST``, then every answer,
notification and server→client request arrives on that stream. Ids are remapped per link so
the aggregator's own requests and a client's can never collide; a link whose stream ends
fails what it had in flight and is opened again (and re-initialized) on the next request. An
``endpoint`` on another origin than the stream's is refused (a server must not redirect what
the aggregator posts elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any
from urllib.parse import urljoin

from mcpb.aggregator.exchange import current_exchange
from mcpb.aggregator.http_client import HttpClientError, HttpPool, Origin
from mcpb.aggregator.http_upstream import MAX_MESSAGE, describe
from mcpb.aggregator.sse_reader import EventTooLargeError, events
from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.backend import BackendUnavailableError
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.session import Session, deliver_final
from mcpb.mcphttp.sink import Sink

log = logging.getLogger("mcpb.aggregator")


class _Call:
    """A request in flight on a link (also the record in ``session.inflight``)."""

    __slots__ = ("client_id", "link_id", "sink", "token")

    def __init__(self, client_id: Any, link_id: int, sink: Sink | None, token: Any = None) -> None:
        self.client_id = client_id
        self.link_id = link_id
        self.sink = sink
        self.token = token


class _Link:
    __slots__ = ("calls", "endpoint", "ids", "init", "reader", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.endpoint: asyncio.Future[str] | None = None
        self.reader: asyncio.Task[None] | None = None
        self.calls: dict[int, _Call] = {}
        self.ids = itertools.count(1)
        self.init: Message | None = None

    @property
    def alive(self) -> bool:
        return self.reader is not None and not self.reader.done()


class SseUpstream:
    """A :class:`~mcpb.mcphttp.backend.Backend` that is a remote legacy HTTP+SSE server."""

    def __init__(
        self, url: str, label: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0
    ) -> None:
        self.url = url
        self.label = label
        self._headers = {k.lower(): v for k, v in (headers or {}).items()}
        self._timeout = timeout
        self._client: HttpPool | None = None
        self._links: dict[str, _Link] = {}
        self._background: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        """Create the connection pool (nothing is connected yet)."""
        self._client = HttpPool(self.url, connect_timeout=self._timeout)

    async def close(self) -> None:
        """Close every stream and the pool."""
        for link in list(self._links.values()):
            self._end(link, "the aggregator is shutting down")
        self._links.clear()
        if self._client is not None:
            await self._client.aclose()

    async def check(self) -> str | None:
        """Whether the oldest link's stream is still open."""
        link = next(iter(self._links.values()), None)
        if link is None or not link.alive:
            return "the SSE stream is closed"
        return None

    def attach(self, session: Session) -> None:
        """Remember the session; its stream opens with its ``initialize``."""
        self._links[session.id] = _Link(session)

    def detach(self, session: Session) -> None:
        """Close the session's stream."""
        link = self._links.pop(session.id, None)
        if link is not None:
            self._end(link, "the session ended")

    def listen(self, session: Session) -> None:
        """Nothing to do: a legacy stream always carries everything."""

    async def initialize(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Open the session's stream and initialize on it."""
        link = self._link(session)
        link.init = dict(message)
        await self._open(link)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        await self._send_request(link, message, _FutureCall(message["id"], future))
        try:
            payload = await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            raise BackendUnavailableError(
                f"upstream {self.label} did not answer initialize in time"
            ) from None
        await self._post(link, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        deliver_final(session, sink, payload)

    async def forward_request(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Post a request on the session's stream (re-opened if it ended)."""
        link = self._link(session)
        if not link.alive:
            if link.init is None:
                raise BackendUnavailableError(f"upstream {self.label}: not initialized")
            await self.initialize(session, dict(link.init, id=f"re-{next(link.ids)}"), None)
        call = _Call(message["id"], 0, sink, jsonrpc.progress_token(message))
        session.inflight[message["id"]] = call
        await self._send_request(link, message, call)

    async def forward_notification(self, session: Session, message: Message) -> None:
        """Post a notification; a cancel carries the link's id for the request."""
        link = self._links.get(session.id)
        if link is None or not link.alive:
            return
        if message.get("method") == "notifications/cancelled":
            params = message.get("params")
            if not isinstance(params, dict):
                return
            call = _pop_call(session, params.get("requestId"))
            if call is None:
                return
            link.calls.pop(call.link_id, None)
            message = {**message, "params": {**params, "requestId": call.link_id}}
        await self._post(link, message)

    async def forward_response(self, session: Session, message: Message) -> None:
        """Post a client's answer to a server→client request."""
        link = self._links.get(session.id)
        if link is not None and link.alive:
            await self._post(link, message)

    def abandon(self, session: Session, request_id: object, reason: str) -> None:
        """Forget a request and tell the upstream it is cancelled."""
        link = self._links.get(session.id)
        call = _pop_call(session, request_id)
        if link is None or call is None:
            return
        link.calls.pop(call.link_id, None)
        params = {"requestId": call.link_id, "reason": reason}
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
        task = asyncio.ensure_future(self._post(link, cancel))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ----------------------------------------------------------------- the stream

    def _link(self, session: Session) -> _Link:
        link = self._links.get(session.id)
        if link is None:
            raise BackendUnavailableError(f"upstream {self.label}: the session is not attached")
        return link

    @property
    def _pool(self) -> HttpPool:
        if self._client is None:
            raise BackendUnavailableError(f"upstream {self.label} is not started")
        return self._client

    async def _open(self, link: _Link) -> None:
        if link.alive:
            return
        link.endpoint = asyncio.get_running_loop().create_future()
        link.reader = asyncio.create_task(self._read(link))
        try:
            await asyncio.wait_for(asyncio.shield(link.endpoint), self._timeout)
        except TimeoutError:
            link.reader.cancel()
            raise BackendUnavailableError(
                f"upstream {self.label} sent no endpoint event in time"
            ) from None
        except BackendUnavailableError:
            raise

    async def _read(self, link: _Link) -> None:
        why = "closed its stream"
        try:
            headers = {**self._headers, "accept": "text/event-stream"}
            response = await self._pool.request("GET", headers)
            try:
                if response.status != 200:
                    why = f"answered GET with HTTP {response.status}"
                    return
                async for kind, data in events(response.chunks(), MAX_MESSAGE):
                    if kind == "endpoint":
                        self._on_endpoint(link, data.strip())
                    elif kind == "message" and data:
                        self._on_message(link, data.encode())
            finally:
                response.close()
        except (HttpClientError, EventTooLargeError) as err:
            why = f"is unreachable: {describe(err)}"
        finally:
            text = f"upstream {self.label} {why}"
            if link.endpoint is not None and not link.endpoint.done():
                link.endpoint.set_exception(BackendUnavailableError(text))
            self._fail(link, text)

    def _on_endpoint(self, link: _Link, location: str) -> None:
        if link.endpoint is None or link.endpoint.done():
            return
        url = urljoin(self.url, location)
        try:
            parsed, mine = Origin.parse(url), self._pool.origin
            same = (parsed.secure, parsed.host, parsed.port) == (mine.secure, mine.host, mine.port)
        except HttpClientError:
            same = False
        if not same:
            text = f"upstream {self.label} named an endpoint on another origin: {url}"
            link.endpoint.set_exception(BackendUnavailableError(text))
            return
        link.endpoint.set_result(Origin.parse(url).target)

    def _on_message(self, link: _Link, payload: bytes) -> None:
        try:
            message = jsonrpc.loads(payload)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if "method" not in message and "id" in message:
            try:
                call = link.calls.pop(message["id"], None)
            except TypeError:
                return
            if call is None:
                return
            message["id"] = call.client_id
            if isinstance(call, _FutureCall):
                if not call.future.done():
                    call.future.set_result(jsonrpc.dumps(message))
                return
            inflight = link.session.inflight
            if inflight.get(call.client_id) is call:
                del inflight[call.client_id]
            deliver_final(link.session, call.sink, jsonrpc.dumps(message))
            return
        self._interim(link, message, payload)

    def _interim(self, link: _Link, message: Message, payload: bytes) -> None:
        """A message about a request goes on that request's stream when it can be told which:
        progress by its token, anything else to the link's newest request (the link serves one
        client session, so no other client can receive it); else the session's stream."""
        calls = [c for c in link.calls.values() if not isinstance(c, _FutureCall)]
        target = calls[-1] if calls else None
        if message.get("method") == "notifications/progress":
            params = message.get("params")
            token = params.get("progressToken") if isinstance(params, dict) else None
            target = next((c for c in calls if c.token is not None and c.token == token), None)
        sink = target.sink if target is not None else None
        if sink is not None and sink.streaming and sink.put(payload, final=False):
            return
        link.session.push(payload)

    async def _send_request(self, link: _Link, message: Message, call: _Call) -> None:
        call.link_id = next(link.ids)
        link.calls[call.link_id] = call
        await self._post(link, {**message, "id": call.link_id}, call)

    async def _post(self, link: _Link, message: Message, call: _Call | None = None) -> None:
        assert link.endpoint is not None
        try:
            target = link.endpoint.result()
            headers = {**self._headers, "content-type": "application/json"}
            exchange = current_exchange.get()  # the client request this is sent for, if any
            if exchange is not None:
                headers.update(exchange.upstream_headers())
            response = await self._pool.request("POST", headers, jsonrpc.dumps(message), target)
            status = response.status
            await response.read(MAX_MESSAGE)
        except (HttpClientError, asyncio.InvalidStateError) as err:
            status, why = 0, describe(err)
        else:
            why = f"answered HTTP {status}"
        if status in (200, 202) or call is None:
            return
        link.calls.pop(call.link_id, None)
        text = f"upstream {self.label} {why}"
        self._answer_error(link, call, text)

    def _answer_error(self, link: _Link, call: _Call, text: str) -> None:
        payload = jsonrpc.error_bytes(call.client_id, jsonrpc.SERVER_UNAVAILABLE, text)
        if isinstance(call, _FutureCall):
            if not call.future.done():
                call.future.set_result(payload)
            return
        inflight = link.session.inflight
        if inflight.get(call.client_id) is call:
            del inflight[call.client_id]
        deliver_final(link.session, call.sink, payload)

    def _fail(self, link: _Link, text: str) -> None:
        calls, link.calls = link.calls, {}
        for call in calls.values():
            self._answer_error(link, call, text)

    def _end(self, link: _Link, why: str) -> None:
        if link.reader is not None:
            link.reader.cancel()
        self._fail(link, f"upstream {self.label}: {why}")


class _FutureCall(_Call):
    """A request of the backend's own (``initialize``): its answer resolves a future."""

    __slots__ = ("future",)

    def __init__(self, client_id: Any, future: asyncio.Future[bytes]) -> None:
        super().__init__(client_id, 0, None)
        self.future = future


def _pop_call(session: Session, request_id: Any) -> _Call | None:
    with contextlib.suppress(TypeError):
        call = session.inflight.get(request_id)
        if isinstance(call, _Call):
            del session.inflight[request_id]
            return call
    return None
