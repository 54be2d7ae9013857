"""The aggregator's ASGI application: one router in front of every vMCP's transport app.

``/vmcp/{name}/…`` goes to that vMCP's :class:`~mcpb.mcphttp.McpHttpApp`, mounted under the
prefix (so its streamable endpoint is ``/vmcp/{name}/mcp`` and its legacy pair
``/vmcp/{name}/sse`` + ``/vmcp/{name}/message``); the vMCP is looked up per request, so one
created or deleted through the admin API is served, or answers 404, from that moment on.
Also here: ``GET /vmcps`` (discovery), ``/health``, ``/ready`` (per-upstream states) and the
admin API. Host and Origin are checked as for the MCP endpoints before anything but the
health endpoints answers; every refusal is rendered here, once.
"""

from __future__ import annotations

from typing import Any

import orjson

from mcpb.aggregator.admin import AdminApi
from mcpb.aggregator.gateway import Gateway
from mcpb.mcphttp.asgi import JSON, Receive, Scope, Send, respond
from mcpb.mcphttp.errors import DisconnectedError, HTTPError
from mcpb.mcphttp.guard import RequestGuard
from mcpb.mcphttp.health import HealthEndpoint, Readiness, ReadyEndpoint

_PREFIX = "/vmcp/"


class AggregatorApp:
    """Routes requests to the vMCPs, discovery, health and the admin API."""

    def __init__(self, gateway: Gateway, admin: AdminApi) -> None:
        self.gateway = gateway
        self.admin = admin
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
        if path.startswith(_PREFIX):
            name, slash, _ = path[len(_PREFIX) :].partition("/")
            vmcp = self.gateway.vmcps.get(name) if slash else None
            if vmcp is not None:
                mounted = {**scope, "root_path": scope.get("root_path", "") + _PREFIX + name}
                await vmcp.app(mounted, receive, send)
                return
        try:
            if path == "/health":
                await self._health(scope, receive, send)
            elif path == "/ready":
                await self._ready(scope, receive, send)
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

    async def _discovery(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPError(405, "method not allowed", plain=True, headers=[(b"allow", b"GET")])
        listing: dict[str, Any] = {"vmcps": [v.summary() for v in self.gateway.vmcps.values()]}
        await respond(send, 200, orjson.dumps(listing), JSON)
