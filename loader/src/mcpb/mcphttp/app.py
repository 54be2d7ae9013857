"""The ASGI application: routes, guards, lifespan, and the one place errors are rendered.

:class:`McpHttpApp` maps paths to small endpoint objects (streamable HTTP, the legacy pair,
``/health``, ``/ready``), checks Host and Origin before any MCP endpoint runs, answers CORS
preflights, and turns every :class:`~mcpb.mcphttp.errors.HTTPError` raised below into its
response. Mounted under a prefix (``scope["root_path"]``, e.g. ``/vmcp/dev``) it matches paths
relative to the prefix. With CORS origins configured, requests pass through
:class:`~mcpb.mcphttp.cors.CorsMiddleware` on the way in.
"""

from __future__ import annotations

import logging

from mcpb.mcphttp.asgi import TEXT, ASGIApp, Receive, Scope, Send, respond
from mcpb.mcphttp.cors import PREFLIGHT_HEADERS, CorsMiddleware
from mcpb.mcphttp.errors import DisconnectedError, HTTPError
from mcpb.mcphttp.guard import RequestGuard
from mcpb.mcphttp.health import HealthEndpoint, Readiness, ReadyEndpoint
from mcpb.mcphttp.legacy import LegacyMessageEndpoint, LegacyStreamEndpoint
from mcpb.mcphttp.sessions import SessionTable
from mcpb.mcphttp.settings import HttpSettings
from mcpb.mcphttp.streamable import StreamableEndpoint

log = logging.getLogger("mcpb.http")


class McpHttpApp:
    """Serves one session table (and so its backends) over streamable HTTP and legacy SSE."""

    def __init__(self, settings: HttpSettings, sessions: SessionTable) -> None:
        self.settings = settings
        self.sessions = sessions
        self._guard = RequestGuard(settings)
        self._started = False
        self._open: dict[str, ASGIApp] = {settings.ready_path: ReadyEndpoint(self.readiness)}
        health = HealthEndpoint()  # alive whenever it can answer
        for path in settings.health_paths:
            self._open[path] = health
        self._streamable = StreamableEndpoint(sessions, settings)
        self._guarded: dict[str, ASGIApp] = {
            settings.mcp_path: self._streamable,
            settings.sse_path: LegacyStreamEndpoint(sessions, settings),
            settings.message_path: LegacyMessageEndpoint(sessions, settings),
        }
        self._handle: ASGIApp = self._http
        if settings.cors_origins:
            self._handle = CorsMiddleware(self._http, settings.cors_origins)

    async def startup(self) -> None:
        """Start the session table (and a shared backend); idempotent."""
        if not self._started:
            self._started = True
            await self.sessions.start()

    async def shutdown(self) -> None:
        """End every session and close every backend."""
        self._streamable.close()
        await self.sessions.close()

    async def readiness(self) -> Readiness:
        """Ready when a shared backend answers, or (one backend per session) below the limit."""
        shared = self.sessions.shared
        count = len(self.sessions)
        if shared is not None:
            problem = await shared.check()
            return Readiness(problem is None, count, problem)
        if self.sessions.full:
            return Readiness(False, count, "the session limit is reached")
        return Readiness(True, count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._handle(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as err:
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        try:
            endpoint = self._guarded.get(path)
            if endpoint is not None:
                self._guard.check(scope["headers"])
                if scope["method"] == "OPTIONS":
                    await respond(send, 204, b"", TEXT, PREFLIGHT_HEADERS)
                    return
            else:
                endpoint = self._open.get(path)
                if endpoint is None:
                    raise HTTPError(404, "not found", plain=True)
            await endpoint(scope, receive, send)
        except HTTPError as err:
            await _render(send, err)
        except DisconnectedError:
            return


async def _render(send: Send, err: HTTPError) -> None:
    content_type, body = err.body()
    await respond(send, err.status, body, content_type, err.headers)
