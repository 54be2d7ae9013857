"""The aggregator's ASGI application: one router in front of every vMCP's transport app.

``/vmcp/{name}/…`` goes to that vMCP's :class:`~mcpb.mcphttp.McpHttpApp`, mounted under the
prefix (so its streamable endpoint is ``/vmcp/{name}/mcp`` and its legacy pair
``/vmcp/{name}/sse`` + ``/vmcp/{name}/message``); the vMCP is looked up per request, so one
created or deleted through the admin API is served, or answers 404, from that moment on.
Also here: ``GET /vmcps`` (discovery), ``/health``, ``/ready`` (per-upstream states), each
vMCP's RFC 9728 metadata under ``/.well-known/oauth-protected-resource/vmcp/{name}/mcp`` and the
admin API. A vMCP's clients are authenticated here, before its app sees the request
(:mod:`mcpb.aggregator.authn`). Host and Origin are checked as for the MCP endpoints before
anything but the health endpoints answers; every refusal is rendered here, once.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson

from mcpb.aggregator.admin import AdminApi
from mcpb.aggregator.authn import (
    WELL_KNOWN,
    AuthHTTPError,
    current_identity,
    identity_name,
    request_base,
)
from mcpb.aggregator.exchange import current_exchange, open_exchange
from mcpb.aggregator.gateway import Gateway, Vmcp
from mcpb.aggregator.metrics import CONTENT_TYPE, Metrics
from mcpb.aggregator.tracing import Tracing
from mcpb.aggregator.upstream import UP
from mcpb.mcphttp.asgi import JSON, Receive, Scope, Send, respond
from mcpb.mcphttp.errors import DisconnectedError, HTTPError
from mcpb.mcphttp.guard import RequestGuard
from mcpb.mcphttp.health import HealthEndpoint, Readiness, ReadyEndpoint

_PREFIX = "/vmcp/"


class AggregatorApp:
    """Routes requests to the vMCPs, discovery, health and the admin API."""

    def __init__(
        self,
        gateway: Gateway,
        admin: AdminApi,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.gateway = gateway
        self.admin = admin
        self.metrics = metrics or gateway_metrics(gateway)
        self.tracing = tracing
        self._guard = RequestGuard(gateway.http)
        self._health = HealthEndpoint()
        self._ready = ReadyEndpoint(self.readiness)

    async def readiness(self) -> Readiness:
        """Ready once configured and serving, whatever the upstreams' states (listed)."""
        sessions = sum(len(v.app.sessions) for v in self.gateway.vmcps.values())
        return Readiness(True, sessions, None, self.gateway.status())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        try:
            if path.startswith(_PREFIX):
                name, slash, _ = path[len(_PREFIX) :].partition("/")
                vmcp = self.gateway.vmcps.get(name) if slash else None
                if vmcp is not None:
                    await self._serve_vmcp(vmcp, name, scope, receive, send)
                    return
            if path == "/health":
                await self._health(scope, receive, send)
            elif path == "/ready":
                await self._ready(scope, receive, send)
            elif path == self.gateway.config.metrics.path:
                await self._metrics(scope, send)
            elif path.startswith(WELL_KNOWN + _PREFIX):
                await self._resource_metadata(path[len(WELL_KNOWN) :], scope, send)
            else:
                self._guard.check(scope["headers"])
                if path == "/vmcps":
                    await self._discovery(scope, send)
                elif path.startswith("/admin/"):
                    await self.admin(scope, receive, send)
                else:
                    raise HTTPError(404, "not found", plain=True)
        except HTTPError as err:
            content_type, body = err.body()
            await respond(send, err.status, body, content_type, err.headers)
        except DisconnectedError:
            return

    async def _serve_vmcp(
        self, vmcp: Vmcp, name: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Authenticate (after the Host/Origin check), then hand over to the vMCP's app; the
        caller's identity travels in the scope's ``state``. Every request is counted and
        logged once it ends (:class:`~mcpb.aggregator.exchange.Exchange`)."""
        exchange = open_exchange(name, scope["headers"], scope["method"])
        span = self.tracing.start(exchange) if self.tracing is not None else None
        opened = current_exchange.set(exchange)

        async def send_status(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            await send(message)

        try:
            if scope["method"] != "OPTIONS":  # CORS preflights carry no credentials
                self._guard.check(scope["headers"])
                identity = await vmcp.auth.identify(scope)
                exchange.client = identity_name(identity)
                exchange.session_id = _require_owner(vmcp, scope, exchange.client)
            else:
                identity = None
            # "principal" binds 2026 calls waiting for input to their client (transport core)
            state = {**scope.get("state", {}), "identity": identity}
            state["principal"] = identity_name(identity)
            mounted = {
                **scope,
                "root_path": scope.get("root_path", "") + _PREFIX + name,
                "state": state,
            }
            token = current_identity.set(identity)
            try:
                await vmcp.app(mounted, receive, send_status)
            finally:
                current_identity.reset(token)
        except HTTPError as err:
            exchange.status = err.status
            exchange.reason = err.reason if isinstance(err, AuthHTTPError) else None
            raise
        finally:
            current_exchange.reset(opened)
            config = self.gateway.config
            self.metrics.record(exchange, count=config.metrics.enabled, log=config.access_log)
            if span is not None and self.tracing is not None:
                self.tracing.end(span, exchange)

    async def _resource_metadata(self, resource_path: str, scope: Scope, send: Send) -> None:
        """RFC 9728 metadata of ``/vmcp/NAME/mcp``, for vMCPs that take JWTs; no credentials."""
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPError(405, "method not allowed", plain=True, headers=[(b"allow", b"GET")])
        name, _, rest = resource_path[len(_PREFIX) :].partition("/")
        vmcp = self.gateway.vmcps.get(name)
        base = request_base(scope, self.gateway.config.public_url)
        document = vmcp.auth.metadata(base) if vmcp is not None and rest == "mcp" else None
        if document is None:
            raise HTTPError(404, "no protected-resource metadata here", plain=True)
        await respond(send, 200, orjson.dumps(document), JSON)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        """The Prometheus exposition; behind the admin token when ``metrics.auth: admin``."""
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPError(405, "method not allowed", plain=True, headers=[(b"allow", b"GET")])
        if self.gateway.config.metrics.auth == "admin":
            self.admin.require_token(scope)
        await respond(send, 200, self.metrics.render(), CONTENT_TYPE)

    async def _discovery(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPError(405, "method not allowed", plain=True, headers=[(b"allow", b"GET")])
        listing: dict[str, Any] = {"vmcps": [v.summary() for v in self.gateway.vmcps.values()]}
        await respond(send, 200, orjson.dumps(listing), JSON)


def _require_owner(vmcp: Vmcp, scope: Scope, caller: str) -> str | None:
    """A session id is not a credential: every request naming a session (header, or the legacy
    ``sessionId`` query) must come from the identity that opened it. Returns the session id."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    raw = next((v for k, v in headers if k == b"mcp-session-id"), None)
    session_id = raw.decode("latin-1") if raw is not None else None
    if session_id is None and scope.get("query_string"):
        ids = parse_qs(scope["query_string"].decode("latin-1")).get("sessionId")
        session_id = ids[0] if ids else None
    if session_id is None:
        return None
    owner = vmcp.backend.owner_of(session_id)
    if owner is not None and owner != caller:
        raise AuthHTTPError(
            "session_owner", 403, f"vmcp {vmcp.name}: this session belongs to another identity"
        )
    return session_id


def gateway_metrics(gateway: Gateway) -> Metrics:
    """Metrics whose gauges read ``gateway`` at scrape time."""

    def vmcps() -> list[tuple[str, int, int]]:
        return [
            (name, len(v.app.sessions), v.app.sessions.streams_open())
            for name, v in gateway.vmcps.items()
        ]

    def upstreams() -> list[tuple[str, bool]]:
        return [(name, u.state == UP) for name, u in gateway.upstreams.items()]

    return Metrics(vmcps, upstreams, lambda: frozenset(gateway.config.clients))
