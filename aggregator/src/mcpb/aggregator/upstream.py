"""One upstream at run time: its backend(s), its catalog, its health, its client relays.

Every upstream kind is a transport :class:`~mcpb.mcphttp.backend.Backend`: a stdio command or
a bundle is the stdio bridge's :class:`~mcpb.loader.bridge.StdioBackend` (one shared child with
id remapping and the bridge's attribution rules, or one child per client session), a
streamable-HTTP server is an :class:`~mcpb.aggregator.http_upstream.HttpUpstream`, a legacy
SSE server an :class:`~mcpb.aggregator.sse_upstream.SseUpstream`.

The aggregator holds one session of its own at each upstream (the *catalog session*): it
initializes, lists, receives ``list_changed`` and is pinged by the health checks. A client
session reaches an upstream through a :class:`~mcpb.aggregator.relay.Relay`, opened on the
client's first request that needs the upstream and initialized with the client's own
``initialize`` parameters (so the upstream sees the client's capabilities).

States: ``starting`` → ``up`` ⇄ ``down``. Down (unreachable, failing its check, or its process
restarting), its tools leave every list; checks with exponential backoff bring it back, then
it is listed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcpb.aggregator.ask import UpstreamRefusedError, ask, request
from mcpb.aggregator.catalog import LISTS, Catalog
from mcpb.aggregator.config import UpstreamConfig
from mcpb.aggregator.credentials import upstream_headers
from mcpb.aggregator.http_upstream import HttpUpstream
from mcpb.aggregator.names import uri_token
from mcpb.aggregator.relay import ClientState, Relay
from mcpb.aggregator.slots import Slots
from mcpb.aggregator.sources import SpawnPlan
from mcpb.aggregator.sse_upstream import SseUpstream
from mcpb.bundle.errors import McpbError
from mcpb.loader.bridge import StdioBackend, StdioSettings
from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.backend import Backend, BackendUnavailableError
from mcpb.mcphttp.session import Session, Undelivered
from mcpb.mcphttp.versions import LATEST_PROTOCOL_VERSION

log = logging.getLogger("mcpb.aggregator")

#: What the aggregator declares to upstreams for its own session: everything it relays.
CLIENT_CAPABILITIES = {"roots": {"listChanged": True}, "sampling": {}, "elicitation": {}}
CLIENT_INFO = {"name": "mcpb-aggregator", "version": "0.1.0"}
#: Client sessions that may each have a child of their own, per upstream.
MAX_OWN_CHILDREN = 64

STARTING, UP, DOWN = "starting", "up", "down"
_CHANGED_LISTS = {
    "notifications/tools/list_changed": ("tools/list",),
    "notifications/prompts/list_changed": ("prompts/list",),
    "notifications/resources/list_changed": ("resources/list", "resources/templates/list"),
}


@dataclass(frozen=True)
class UpstreamSettings:
    """How upstreams are watched. Times are in seconds."""

    request_timeout: float | None = 600.0
    check_interval: float = 5.0
    backoff_min: float = 0.5
    backoff_max: float = 30.0


class _CatalogSession(Session):
    """The aggregator's own session at an upstream: it hears ``list_changed`` and nothing else."""

    __slots__ = ("upstream",)

    def __init__(self, upstream: Upstream) -> None:
        super().__init__(f"catalog-{upstream.name}", False, f"{upstream.name}:catalog")
        self.upstream = upstream

    def push(self, payload: bytes, undelivered: Undelivered | None = None) -> bool:
        if b"list_changed" not in payload:
            return False  # a question for nobody: the upstream is told at once
        message = jsonrpc.loads(payload)
        method = message.get("method") if isinstance(message, dict) else None
        methods = _CHANGED_LISTS.get(method) if isinstance(method, str) else None
        if methods:
            self.upstream.lists_changed(methods)
        return True


class Upstream:
    """A configured upstream, running."""

    def __init__(
        self,
        name: str,
        config: UpstreamConfig,
        prefix: str,
        plan: SpawnPlan | None,
        settings: UpstreamSettings,
        on_change: Callable[[Upstream], None],
    ) -> None:
        self.name = name
        self.config = config
        self.prefix = prefix
        self.uri_token = uri_token(prefix) if prefix else ""
        self.plan = plan
        self.settings = settings
        self.state = STARTING
        self.slots = (
            Slots(name, config.max_concurrency, config.queue, config.queue_timeout)
            if config.max_concurrency
            else None
        )
        self.last_error: str | None = None
        self.catalog: Catalog | None = None
        self._on_change = on_change
        self._shared: Backend | None = None
        self._own: dict[str, Backend] = {}
        self._catalog_session = _CatalogSession(self)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stale: set[str] = set()
        self._refresher: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Future[None]] = set()
        self._closed = False

    @property
    def tool_count(self) -> int:
        """Tools the upstream lists now (0 when down)."""
        if self.state != UP or self.catalog is None:
            return 0
        return len(self.catalog.items.get("tools/list", ()))

    def status(self) -> dict[str, Any]:
        """The upstream's line in ``/ready``."""
        return {
            "state": self.state,
            "kind": self.config.kind,
            "error": self.last_error,
            "tools": self.tool_count,
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start connecting in the background (the gateway serves meanwhile)."""
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop watching and release every backend (children are stopped and reaped)."""
        self._closed = True
        for task in (self._task, self._refresher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        backends = [*self._own.values(), *([self._shared] if self._shared else [])]
        self._own.clear()
        self._shared = None
        await asyncio.gather(*(b.close() for b in backends), *self._closing, return_exceptions=True)

    def _make_backend(self, label: str) -> Backend:
        config = self.config
        kind = config.kind
        if kind == "url":
            assert config.url is not None
            return HttpUpstream(
                config.url,
                self.name,
                headers=upstream_headers(self.name, config),
                timeout=config.timeout,
                on_unreachable=self.unreachable,
            )
        if kind == "sse":
            assert config.sse is not None
            return SseUpstream(
                config.sse,
                self.name,
                headers=upstream_headers(self.name, config),
                timeout=config.timeout,
            )
        assert self.plan is not None
        settings = StdioSettings(
            request_timeout=self.settings.request_timeout,
            crash_limit=0,
            stateful_hint="process: per-session in the upstream's configuration",
        )
        return StdioBackend(
            self.plan.command, self.plan.env, self.plan.cwd, f"{self.name}:{label}", settings
        )

    async def _run(self) -> None:
        delay = self.settings.backoff_min
        while not self._closed:
            try:
                await self._connect()
                delay = self.settings.backoff_min
                await self._watch()
            except (
                BackendUnavailableError,
                UpstreamRefusedError,
                TimeoutError,
                OSError,
                McpbError,
            ) as err:
                self._set_down(str(err) or type(err).__name__)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            delay = min(delay * 2, self.settings.backoff_max)

    async def _connect(self) -> None:
        backend = self._shared
        if backend is None:
            backend = self._make_backend("catalog")
            await backend.start()
            backend.attach(self._catalog_session)
            self._shared = backend
        params = {
            "protocolVersion": LATEST_PROTOCOL_VERSION,
            "capabilities": CLIENT_CAPABILITIES,
            "clientInfo": CLIENT_INFO,
        }
        timeout = self.config.timeout
        result = await ask(backend, self._catalog_session, request("initialize", params), timeout)
        catalog = Catalog.from_initialize(result)
        await catalog.refresh(self._asker)
        if isinstance(backend, HttpUpstream | SseUpstream):
            backend.listen(self._catalog_session)
        self.catalog = catalog
        self.last_error = None
        self.state = UP
        log.info(
            "upstream %s is up: %d tools (%s %s)",
            self.name,
            self.tool_count,
            catalog.server_info.get("name", "?"),
            catalog.version or "",
        )
        self._on_change(self)

    async def _watch(self) -> None:
        assert self._shared is not None
        while True:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.check_interval)
            problem = await self._shared.check()
            if problem is not None:
                raise BackendUnavailableError(problem)

    def _set_down(self, why: str) -> None:
        was = self.state
        self.state = DOWN
        self.last_error = why
        if was != DOWN:
            log.warning("upstream %s is down: %s", self.name, why)
            self._on_change(self)

    def unreachable(self, why: str) -> None:
        """A call found the upstream unreachable: check it now instead of at the next tick."""
        log.debug("upstream %s unreachable: %s", self.name, why)
        self._wake.set()

    async def _asker(self, method: str, params: Any) -> Any:
        assert self._shared is not None
        message = request(method, params)
        return await ask(self._shared, self._catalog_session, message, self.config.timeout)

    def lists_changed(self, methods: tuple[str, ...]) -> None:
        """The upstream said some lists changed: re-read them (coalesced), then tell the gateway."""
        self._stale.update(methods)
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh())

    async def _refresh(self) -> None:
        while self._stale and self.catalog is not None and self.state == UP:
            methods = tuple(m for m in LISTS if m in self._stale)
            self._stale.clear()
            try:
                await self.catalog.refresh(self._asker, methods)
            except (BackendUnavailableError, UpstreamRefusedError, TimeoutError) as err:
                log.warning("upstream %s: re-listing failed: %s", self.name, err)
                return
            self._on_change(self)

    # ----------------------------------------------------------------- client relays

    async def open_relay(self, client: ClientState, uri_token: str) -> Relay:
        """The client's stand-in here, attached and initialized with the client's parameters;
        ``uri_token`` is how the client's vMCP namespaces this upstream's URIs."""
        relay = Relay(client, self.name, uri_token)
        backend = await self._backend_for_new(client.session.id)
        backend.attach(relay)
        try:
            params = dict(client.init_params)
            params.setdefault("protocolVersion", LATEST_PROTOCOL_VERSION)
            params.setdefault("capabilities", {})
            params.setdefault("clientInfo", CLIENT_INFO)
            timeout = self.config.timeout
            await ask(backend, relay, request("initialize", params), timeout)
        except BaseException:
            self.release(relay)
            raise
        return relay

    async def _backend_for_new(self, client_id: str) -> Backend:
        if self.config.process != "per-session":
            if self._shared is None:
                raise BackendUnavailableError(f"upstream {self.name} is not connected")
            return self._shared
        if len(self._own) >= MAX_OWN_CHILDREN:
            raise BackendUnavailableError(
                f"upstream {self.name} runs {MAX_OWN_CHILDREN} per-session processes already"
            )
        backend = self._make_backend(f"s{len(self._own) + 1}")
        self._own[client_id] = backend
        try:
            await backend.start()
        except BaseException:
            self._own.pop(client_id, None)
            raise
        return backend

    def backend_of(self, relay: Relay) -> Backend:
        """The backend a relay is attached to."""
        backend = self._own.get(relay.client.session.id) or self._shared
        if backend is None:
            raise BackendUnavailableError(f"upstream {self.name} is not connected")
        return backend

    def release(self, relay: Relay) -> None:
        """The client session ended: detach its relay (and stop a child of its own)."""
        relay.close()
        own = self._own.pop(relay.client.session.id, None)
        backend = own or self._shared
        if backend is not None:
            backend.detach(relay)
        if own is not None:
            task = asyncio.ensure_future(own.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
