"""A vMCP as a ``Backend`` of the transport core: it answers what it can, routes the rest.

The transport (:class:`~mcpb.mcphttp.McpHttpApp` at ``/vmcp/{name}``) hands every client
message to :class:`VmcpBackend`. Answered here, from the current
:class:`~mcpb.aggregator.view.View`: ``initialize`` (the vMCP's own name, the capabilities
its selection needs, the upstreams' instructions), ``ping``, the four lists (paged across
upstreams) and ``logging/setLevel`` (fanned out). Routed by namespaced name or URI to one
upstream: ``tools/call``, ``prompts/get``,
``resources/read``, ``resources/(un)subscribe``, ``completion/complete``. A name outside the
selection is refused exactly like an unknown one (-32602 naming it); a selected tool whose
upstream is down gets an error naming the upstream as unavailable.

Answers of routed requests go straight from the upstream into the client's sink (through a
:class:`~mcpb.aggregator.relay.RelaySink`), unparsed unless they carry something to rewrite.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Callable, Mapping
from typing import Any

from mcpb.aggregator.ask import UpstreamRefusedError, ask, request
from mcpb.aggregator.authn import current_identity, identity_name
from mcpb.aggregator.exchange import Exchange, current_exchange
from mcpb.aggregator.limits import Limiter, RateLimitedError
from mcpb.aggregator.names import split_uri
from mcpb.aggregator.relay import ClientState, Relay, RelaySink, uris_toward_client, with_params
from mcpb.aggregator.result_cache import ResultCache
from mcpb.aggregator.upstream import UP, Upstream
from mcpb.aggregator.view import Route, View
from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.backend import BackendUnavailableError
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.modern.facts import CLIENT_CAPABILITIES
from mcpb.mcphttp.session import Session, deliver_final
from mcpb.mcphttp.sink import Sink
from mcpb.mcphttp.versions import (
    LATEST_PROTOCOL_VERSION,
    MODERN_PROTOCOL_VERSIONS,
    NEGOTIABLE_PROTOCOL_VERSIONS,
)

log = logging.getLogger("mcpb.aggregator")

#: The spec's code for a resource that does not exist.
RESOURCE_NOT_FOUND = -32002
SERVER_VERSION = "0.1.0"

_LISTS = ("tools/list", "prompts/list", "resources/list", "resources/templates/list")
_LIST_CHANGED = {
    "tools/list": "notifications/tools/list_changed",
    "prompts/list": "notifications/prompts/list_changed",
    "resources/list": "notifications/resources/list_changed",
    "resources/templates/list": "notifications/resources/list_changed",
}


class Routed:
    """A client request routed to an upstream (the record in the client's ``inflight``)."""

    __slots__ = ("held", "relay", "sink", "upstream")

    def __init__(self, sink: Sink | None, upstream: Upstream, relay: Relay) -> None:
        self.sink = sink
        self.upstream = upstream
        self.relay = relay
        self.held = False  # a slot of the upstream's concurrency limit

    def release(self) -> None:
        """Give back the slot this call holds (once, whichever way it ends)."""
        if self.held and self.upstream.slots is not None:
            self.held = False
            self.upstream.slots.release()


class _RefusedError(Exception):
    """A request answered with a JSON-RPC error by the vMCP itself."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class VmcpBackend:
    """The :class:`~mcpb.mcphttp.backend.Backend` of one vMCP (shared by all its sessions)."""

    def __init__(
        self,
        name: str,
        title: str | None,
        upstreams: Mapping[str, Upstream],
        *,
        page_size: int,
        view: View | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.page_size = page_size
        self.view = view or View()
        self._upstreams = upstreams
        self.clients: dict[str, ClientState] = {}
        self.limiter = limiter or Limiter(name)
        #: identity → globs over UPSTREAM/TOOL it may use (absent: every selected tool)
        self.access: dict[str, tuple[str, ...]] = {}
        self.cache: ResultCache | None = None
        self._opening: dict[tuple[str, str], asyncio.Future[Relay]] = {}
        #: What 2026-07-28 requests share: they have no session, so one set of relays (one
        #: upstream session per upstream) serves them all.
        self._stateless: ClientState | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Nothing to start: upstreams belong to the gateway."""

    async def close(self) -> None:
        """Release every client's relays."""
        for client in list(self.clients.values()):
            self._release(client)
        self.clients.clear()
        self._stateless = None

    async def check(self) -> str | None:
        """Always ready once configured: a vMCP serves whatever of its upstreams is up."""
        return None

    def attach(self, session: Session) -> None:
        """A new client session, bound to the identity that opens it; nothing upstream until it
        needs an upstream."""
        client = ClientState(session, identity_name(current_identity.get()))
        if session.stateless:  # a 2026-07-28 listener: no initialize, notified all the same
            client.init_params = {"protocolVersion": MODERN_PROTOCOL_VERSIONS[-1]}
        self.clients[session.id] = client

    def detach(self, session: Session) -> None:
        """A client session ended: its relays (and per-session children) go with it."""
        client = self.clients.pop(session.id, None)
        for record in list(session.inflight.values()):  # calls that will never be answered
            if isinstance(record, Routed):
                record.release()
        if client is not None:
            self._release(client)

    def _client(self, session: Session) -> ClientState | None:
        """The client state a session's messages use: its own, or for a 2026-07-28 request
        (never attached) the shared stateless one."""
        client = self.clients.get(session.id)
        if client is not None or not session.stateless:
            return client
        if self._stateless is None:
            own = Session(f"stateless-{self.name}", False, f"{self.name}-2026", stateless=True)
            self._stateless = ClientState(own, "stateless")
            self._stateless.init_params = {  # each request's own capabilities are checked later
                "protocolVersion": LATEST_PROTOCOL_VERSION,
                "capabilities": CLIENT_CAPABILITIES,
                "clientInfo": {"name": f"mcpb-vmcp-{self.name}", "version": SERVER_VERSION},
            }
            self.clients[own.id] = self._stateless
        return self._stateless

    def _release(self, client: ClientState) -> None:
        for upstream_name, relay in client.relays.items():
            upstream = self._upstreams.get(upstream_name)
            if upstream is not None:
                upstream.release(relay)
        client.relays.clear()
        client.session.inflight.clear()

    def drop_relays(self, upstream: str) -> None:
        """An upstream was replaced or removed: its relays belong to the old one (closing);
        a client's next request opens a relay at the new one."""
        for client in self.clients.values():
            relay = client.relays.pop(upstream, None)
            if relay is not None:
                relay.close()

    def set_view(self, view: View) -> list[str]:
        """Serve ``view`` from now on; the ``list_changed`` notifications sent, if any."""
        old, self.view = self.view, view
        sent: list[str] = []
        for method in _LISTS:
            note = _LIST_CHANGED[method]
            if old.digests.get(method) != view.digests.get(method) and note not in sent:
                sent.append(note)
        if sent and old.digests:
            for note in sent:
                payload = jsonrpc.dumps({"jsonrpc": "2.0", "method": note})
                for client in list(self.clients.values()):
                    if client.init_params and client is not self._stateless:
                        client.session.push(payload)
        return sent if old.digests else []

    # ----------------------------------------------------------------- client → vMCP

    async def initialize(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Answer ``initialize`` as the vMCP itself."""
        exchange = current_exchange.get()
        if exchange is not None:
            exchange.method = "initialize"
        client = self.clients.get(session.id)
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        asked = params.get("protocolVersion")
        version = asked if asked in NEGOTIABLE_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION
        if client is not None:
            client.init_params = {
                "protocolVersion": version,
                "capabilities": params.get("capabilities")
                if isinstance(params.get("capabilities"), dict)
                else {},
                "clientInfo": params.get("clientInfo")
                if isinstance(params.get("clientInfo"), dict)
                else {"name": "unknown", "version": "0"},
            }
        info: dict[str, Any] = {"name": self.name, "version": SERVER_VERSION}
        if self.title:
            info["title"] = self.title
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": self.view.capabilities or {"tools": {"listChanged": True}},
            "serverInfo": info,
        }
        if self.view.instructions:
            result["instructions"] = self.view.instructions
        deliver_final(
            session, sink, jsonrpc.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result})
        )

    async def forward_request(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Answer or route one client request (see the module docstring)."""
        request_id = message["id"]
        method = message["method"]
        client = identity_name(current_identity.get())  # the session's owner (router)
        exchange = current_exchange.get() or Exchange(self.name, "")  # none outside a request
        exchange.method = method
        try:
            if method in _LISTS:
                keep = self._tool_filter(client) if method == "tools/list" else None
                params = message.get("params")
                self._answer_list(session, sink, request_id, method, params, keep)
                exchange.outcome = "cached"
            elif method == "ping":
                deliver_final(session, sink, _result(request_id, b"{}"))
            elif method == "logging/setLevel":
                await self._set_level(session, message)
                deliver_final(session, sink, _result(request_id, b"{}"))
            else:
                await self._call(session, message, sink, client, exchange)
        except _RefusedError as refusal:
            unavailable = refusal.code == jsonrpc.SERVER_UNAVAILABLE
            exchange.outcome = "unavailable" if unavailable else "refused"
            deliver_final(
                session, sink, jsonrpc.error_bytes(request_id, refusal.code, refusal.text)
            )

    async def _call(
        self, session: Session, message: Message, sink: Sink | None, client: str, exchange: Exchange
    ) -> None:
        """A routed request: the caller's tool access, its limits, the result cache, then the
        upstream."""
        request_id, method = message["id"], message["method"]
        route, routed, final = self._route(method, message)
        target = f"{route.upstream}/{route.name}" if method == "tools/call" else None
        keep = self._tool_filter(client) if target else None
        if keep is not None and target and not keep(target):  # hidden is refused too
            name = message.get("params", {}).get("name")
            raise _RefusedError(jsonrpc.INVALID_PARAMS, f"Unknown tool: {name}")
        exchange.upstream, exchange.tool = route.upstream, target
        try:
            self.limiter.admit(client, method, target, request_id)
        except RateLimitedError:
            exchange.outcome = "rate_limited"
            raise
        cached, final = self._cached(client, method, message, final)
        if cached is not None:
            deliver_final(session, sink, _result(request_id, cached))
            exchange.outcome = "cached"
            return
        await self._forward(session, route, routed, sink, final)

    def owner_of(self, session_id: str) -> str | None:
        """The identity that opened a session (``None``: no such session here)."""
        state = self.clients.get(session_id)
        return state.identity if state is not None else None

    def _cached(
        self,
        client: str,
        method: str,
        message: Message,
        final: Callable[[Relay, bytes], bytes] | None,
    ) -> tuple[bytes | None, Callable[[Relay, bytes], bytes] | None]:
        """A fresh cached result of this read-only call, else the ``final`` rewrite that also
        keeps the answer (module :mod:`~mcpb.aggregator.result_cache`)."""
        cache = self.cache
        params = message.get("params")
        if cache is None or method != "tools/call" or not isinstance(params, dict):
            return None, final
        name = params.get("name")
        if name not in self.view.read_only_tools():
            return None, final
        key = cache.key(client, str(name), params.get("arguments"))
        if key is None:
            return None, final
        hit = cache.get(key)
        if hit is not None:
            return hit, final

        def keep(relay: Relay, payload: bytes) -> bytes:
            answer = final(relay, payload) if final is not None else payload
            cache.put_answer(key, answer)
            return answer

        return None, keep

    def _tool_filter(self, client: str) -> Callable[[str], bool] | None:
        """Which tools ``client`` may see and call here (``None``: every selected one)."""
        globs = self.access.get(client)
        if globs is None:
            return None
        return lambda original: any(fnmatch.fnmatchcase(original, g) for g in globs)

    def _answer_list(
        self,
        session: Session,
        sink: Sink | None,
        request_id: Any,
        method: str,
        params: Any,
        keep: Callable[[str], bool] | None = None,
    ) -> None:
        cursor = params.get("cursor") if isinstance(params, dict) else None
        page = self.view.page(method, cursor, self.page_size, keep)
        if page is None:
            raise _RefusedError(jsonrpc.INVALID_PARAMS, f"invalid cursor {cursor!r}")
        deliver_final(session, sink, _result(request_id, page))

    def _route(
        self, method: str, message: Message
    ) -> tuple[Route, Message, Callable[[Relay, bytes], bytes] | None]:
        """Which upstream serves ``message``, the message as it will see it, and how its
        answer is rewritten."""
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "tools/call":
            route = self._named("tools/list", params.get("name"), "tool")
            return route, with_params(message, name=route.name), uris_toward_client
        if method == "prompts/get":
            route = self._named("prompts/list", params.get("name"), "prompt")
            return route, with_params(message, name=route.name), uris_toward_client
        if method in ("resources/read", "resources/subscribe", "resources/unsubscribe"):
            route = self._resource(params.get("uri"))
            final = uris_toward_client if method == "resources/read" else None
            return route, with_params(message, uri=route.name), final
        if method == "completion/complete":
            ref = params.get("ref")
            ref = ref if isinstance(ref, dict) else {}
            if ref.get("type") == "ref/prompt":
                route = self._named("prompts/list", ref.get("name"), "prompt")
                return route, with_params(message, ref={**ref, "name": route.name}), None
            route = self._resource(ref.get("uri"))
            return route, with_params(message, ref={**ref, "uri": route.name}), None
        raise _RefusedError(jsonrpc.METHOD_NOT_FOUND, f"Method not found: {method}")

    def _named(self, method: str, name: Any, what: str) -> Route:
        if not isinstance(name, str):
            raise _RefusedError(jsonrpc.INVALID_PARAMS, f"a {what} name is required")
        route = self.view.routes.get(method, {}).get(name)
        if route is None:
            conflict = self.view.conflicts.get(method, {}).get(name)
            raise _RefusedError(jsonrpc.INVALID_PARAMS, conflict or f"Unknown {what}: {name}")
        return route

    def _resource(self, uri: Any) -> Route:
        if not isinstance(uri, str):
            raise _RefusedError(jsonrpc.INVALID_PARAMS, "a resource URI is required")
        view = self.view
        for key in ("resources/list", "resources/templates/list"):
            route = view.routes.get(key, {}).get(uri)
            if route is not None:
                return route
        tagged = split_uri(uri)
        if tagged is not None:
            upstream = view.uri_tokens.get(tagged[0])
            if upstream is not None:
                return Route(upstream, tagged[1])
        for pattern, upstream in view.templates:
            if pattern.match(uri):
                return Route(upstream, uri)
        offering = [u for u in view.plain_uris if self._offers_resources(u)]
        if len(offering) == 1:
            return Route(offering[0], uri)
        raise _RefusedError(RESOURCE_NOT_FOUND, f"Resource not found: {uri}")

    def _offers_resources(self, name: str) -> bool:
        upstream = self._upstreams.get(name)
        return bool(upstream and upstream.catalog and "resources" in upstream.catalog.capabilities)

    async def _forward(
        self,
        session: Session,
        route: Route,
        message: Message,
        sink: Sink | None,
        final: Callable[[Relay, bytes], bytes] | None,
    ) -> None:
        upstream = self._upstreams.get(route.upstream)
        if upstream is None or upstream.state != UP:
            raise _RefusedError(
                jsonrpc.SERVER_UNAVAILABLE, f"upstream {route.upstream} is unavailable"
            )
        client = self._client(session)
        if client is None:
            raise _RefusedError(jsonrpc.INVALID_REQUEST, "the session is not attached")
        try:
            relay = await self._relay(client, upstream)
        except (BackendUnavailableError, UpstreamRefusedError, TimeoutError, OSError) as err:
            raise _RefusedError(
                jsonrpc.SERVER_UNAVAILABLE, f"upstream {upstream.name} is unavailable: {err}"
            ) from None
        request_id = message["id"]
        record = Routed(sink, upstream, relay)
        if upstream.slots is not None:
            await upstream.slots.acquire(request_id)
            record.held = True
        inflight = session.inflight

        def done() -> None:
            record.release()
            if inflight.get(request_id) is record:
                del inflight[request_id]

        inflight[request_id] = record
        relay_sink = RelaySink(relay, sink, done, final)
        try:
            await upstream.backend_of(relay).forward_request(relay, message, relay_sink)
        except BackendUnavailableError as err:
            done()
            raise _RefusedError(jsonrpc.SERVER_UNAVAILABLE, str(err)) from None

    async def _relay(self, client: ClientState, upstream: Upstream) -> Relay:
        relay = client.relays.get(upstream.name)
        if relay is not None:
            return relay
        key = (client.session.id, upstream.name)
        opening = self._opening.get(key)
        if opening is not None:
            return await asyncio.shield(opening)
        future: asyncio.Future[Relay] = asyncio.get_running_loop().create_future()
        self._opening[key] = future
        try:
            relay = await upstream.open_relay(client, self.view.token_of(upstream.name))
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            self._opening.pop(key, None)
        if client.session.closed or client.session.id not in self.clients:
            upstream.release(relay)
            raise BackendUnavailableError("the session ended")
        client.relays[upstream.name] = relay
        future.set_result(relay)
        if (
            client.log_level is not None
            and upstream.catalog
            and "logging" in upstream.catalog.capabilities
        ):
            message = request("logging/setLevel", {"level": client.log_level})
            await _quietly(ask(upstream.backend_of(relay), relay, message, upstream.config.timeout))
        return relay

    async def _set_level(self, session: Session, message: Message) -> None:
        client = self.clients.get(session.id)
        params = message.get("params")
        level = params.get("level") if isinstance(params, dict) else None
        if client is None or not isinstance(level, str):
            raise _RefusedError(jsonrpc.INVALID_PARAMS, "logging/setLevel needs a level")
        client.log_level = level
        asks = []
        for name, relay in client.relays.items():
            upstream = self._upstreams.get(name)
            if upstream and upstream.catalog and "logging" in upstream.catalog.capabilities:
                ask_level = request("logging/setLevel", {"level": level})
                asks.append(
                    _quietly(
                        ask(upstream.backend_of(relay), relay, ask_level, upstream.config.timeout)
                    )
                )
        await asyncio.gather(*asks)

    async def forward_notification(self, session: Session, message: Message) -> None:
        """Cancels go to the owning upstream; root changes to every upstream the client uses."""
        method = message["method"]
        client = self._client(session)
        if client is None:
            return
        if method == "notifications/cancelled":
            params = message.get("params")
            request_id = params.get("requestId") if isinstance(params, dict) else None
            try:
                record = session.inflight.get(request_id)
            except TypeError:
                return
            if isinstance(record, Routed):
                del session.inflight[request_id]
                backend = record.upstream.backend_of(record.relay)
                await backend.forward_notification(record.relay, message)
        elif method == "notifications/roots/list_changed":
            for name, relay in list(client.relays.items()):
                upstream = self._upstreams.get(name)
                if upstream is not None:
                    await upstream.backend_of(relay).forward_notification(relay, dict(message))

    async def forward_response(self, session: Session, message: Message) -> None:
        """A client's answer to a server→client request goes back to the upstream that asked."""
        client = self._client(session)
        request_id = message.get("id")
        if client is None or not isinstance(request_id, str):
            return
        asked = client.asked.pop(request_id, None)
        upstream = self._upstreams.get(asked.upstream) if asked else None
        if asked is None or upstream is None:
            log.debug("[%s] dropped an answer to a request nobody asked", session.tag)
            return
        answer = {**message, "id": asked.upstream_id}
        await upstream.backend_of(asked.relay).forward_response(asked.relay, answer)

    def abandon(self, session: Session, request_id: object, reason: str) -> None:
        """The client left: the owning upstream cancels the request."""
        try:
            record = session.inflight.pop(request_id, None)
        except TypeError:
            return
        if isinstance(record, Routed):
            record.release()
            record.upstream.backend_of(record.relay).abandon(record.relay, request_id, reason)


def _result(request_id: Any, result: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":' + jsonrpc.dumps(request_id) + b',"result":' + result + b"}"


async def _quietly(work: Any) -> None:
    try:
        await work
    except (BackendUnavailableError, UpstreamRefusedError, TimeoutError) as err:
        log.debug("ignored: %s", err)
