"""The running gateway: upstreams and vMCPs built from one configuration, changed in place.

:class:`Gateway` is the one place the configuration becomes running parts, at start and on
every change (admin API, file reload): :meth:`apply` takes a complete, validated
:class:`~mcpb.aggregator.config.AggregatorConfig` whose spawned upstreams are already planned,
starts what is new, stops what is gone, restarts what changed, and recomputes the views of the
vMCPs concerned — announcing ``list_changed`` only to sessions whose visible lists changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcpb.aggregator.authn import Authenticator, require_auth_off_loopback
from mcpb.aggregator.config import AggregatorConfig, LimitsConfig, VmcpConfig
from mcpb.aggregator.credentials import check_upstream_credentials, client_keys
from mcpb.aggregator.limits import Limiter, Rate
from mcpb.aggregator.result_cache import ResultCache
from mcpb.aggregator.selection import may_select
from mcpb.aggregator.sources import SpawnPlan, with_labels
from mcpb.aggregator.upstream import Upstream, UpstreamSettings
from mcpb.aggregator.view import build_view
from mcpb.aggregator.vmcp import VmcpBackend
from mcpb.mcphttp.app import McpHttpApp
from mcpb.mcphttp.sessions import SessionTable
from mcpb.mcphttp.settings import HttpSettings

log = logging.getLogger("mcpb.aggregator")


@dataclass
class Vmcp:
    """One served vMCP: its configuration, its backend and the transport app in front."""

    name: str
    config: VmcpConfig
    backend: VmcpBackend
    app: McpHttpApp
    auth: Authenticator

    @property
    def endpoint(self) -> str:
        """The path of its streamable-HTTP endpoint."""
        return f"/vmcp/{self.name}/mcp"

    def summary(self) -> dict[str, Any]:
        """Its entry in ``GET /vmcps``."""
        view = self.backend.view
        return {
            "name": self.name,
            "title": self.config.title,
            "endpoint": self.endpoint,
            "tools": view.count("tools/list"),
            "upstreams": list(view.upstreams),
        }


@dataclass
class Gateway:
    """Upstreams and vMCPs of the current configuration (module docstring)."""

    config: AggregatorConfig
    http: HttpSettings
    settings: UpstreamSettings = field(default_factory=UpstreamSettings)
    upstreams: dict[str, Upstream] = field(default_factory=dict)
    vmcps: dict[str, Vmcp] = field(default_factory=dict)
    _closing: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self, plans: Mapping[str, SpawnPlan]) -> None:
        """Start every upstream (in the background) and serve every vMCP."""
        await self.apply(self.config, plans, initial=True)

    async def apply(
        self, config: AggregatorConfig, plans: Mapping[str, SpawnPlan], *, initial: bool = False
    ) -> None:
        """Make the running parts match ``config`` (module docstring).

        ``plans`` holds the launch plans of the spawned upstreams that are new or changed
        (:func:`~mcpb.aggregator.sources.plan_changes`); the others keep running.
        """
        # what may refuse the configuration, before anything changes
        auths = self.authenticators(config)
        check_upstream_credentials(config)
        old = self.config
        self.config = config
        changed: set[str] = set()
        for name in list(self.upstreams):
            if name not in config.upstreams or old.upstreams.get(name) != config.upstreams[name]:
                upstream = self.upstreams.pop(name)
                changed.add(name)
                for served in self.vmcps.values():
                    served.backend.drop_relays(name)
                self._later(upstream.close())
        for name, upstream_config in config.upstreams.items():
            if name in self.upstreams:
                continue
            upstream = Upstream(
                name,
                with_labels(upstream_config, plans[name]) if name in plans else upstream_config,
                config.prefix_of(name),
                plans.get(name),
                self.settings,
                self._upstream_changed,
            )
            self.upstreams[name] = upstream
            changed.add(name)
            await upstream.start()
        for name in list(self.vmcps):
            if name not in config.vmcps:
                self.remove_vmcp(name)
        refresh_all = not initial and (changed or old.separator != config.separator)
        for name, vmcp_config in config.vmcps.items():
            current = self.vmcps.get(name)
            if current is None:
                await self._add_vmcp(name, vmcp_config, auths[name])
                continue
            current.auth = auths[name]
            if current.config.limits != vmcp_config.limits:
                current.backend.limiter = limiter_for(name, vmcp_config.limits)
            current.backend.access = access_of(vmcp_config)
            if current.config.cache != vmcp_config.cache:
                current.backend.cache = cache_of(vmcp_config)
            if current.config != vmcp_config:
                # Same endpoint, same sessions: they see the new selection (list_changed).
                current.config = vmcp_config
                current.backend.title = vmcp_config.title
                self._refresh(current)
            elif refresh_all:
                self._refresh(current)

    def authenticators(self, config: AggregatorConfig) -> dict[str, Authenticator]:
        """Each vMCP's authentication, from ``config`` and the keys it names; refuses a vMCP
        without authentication off loopback and an unreadable key or secret."""
        require_auth_off_loopback(config, self.http.host)
        keys = client_keys(config)
        return {
            name: Authenticator(name, vmcp, keys, config.public_url)
            for name, vmcp in config.vmcps.items()
        }

    async def _add_vmcp(self, name: str, config: VmcpConfig, auth: Authenticator) -> None:
        backend = VmcpBackend(
            name,
            config.title,
            self.upstreams,
            page_size=self.config.page_size,
            limiter=limiter_for(name, config.limits),
        )
        backend.access = access_of(config)
        backend.cache = cache_of(config)
        backend.view = build_view(config, self.config.separator, self.upstreams)
        sessions = SessionTable(self.http, lambda _label: backend, shared=True)
        app = McpHttpApp(self.http, sessions)
        await app.startup()
        self.vmcps[name] = Vmcp(name, config, backend, app, auth)
        log.info(
            "vMCP %s serves %d tools at /vmcp/%s/mcp", name, backend.view.count("tools/list"), name
        )

    def remove_vmcp(self, name: str) -> None:
        """Stop serving a vMCP now; its sessions are ended in the background."""
        vmcp = self.vmcps.pop(name, None)
        if vmcp is not None:
            self._later(vmcp.app.shutdown())

    def _upstream_changed(self, upstream: Upstream) -> None:
        if self.upstreams.get(upstream.name) is not upstream:
            return  # replaced or removed meanwhile
        for vmcp in self.vmcps.values():
            if may_select(vmcp.config, upstream.name, upstream.config):
                self._refresh(vmcp)

    def _refresh(self, vmcp: Vmcp) -> None:
        view = build_view(vmcp.config, self.config.separator, self.upstreams)
        sent = vmcp.backend.set_view(view)
        for method, conflicts in view.conflicts.items():
            for text in conflicts.values():
                log.error("vMCP %s: %s (%s)", vmcp.name, text, method)
        if sent:
            log.info("vMCP %s: %s", vmcp.name, ", ".join(sent))

    def _later(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """End every session, stop every upstream (and every process), wait for all of it."""
        for name in list(self.vmcps):
            self.remove_vmcp(name)
        for upstream in self.upstreams.values():
            self._later(upstream.close())
        self.upstreams.clear()
        while self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)

    def status(self) -> dict[str, Any]:
        """Per upstream: state, last error, tools; per vMCP: sessions and tools."""
        return {
            "upstreams": {name: u.status() for name, u in self.upstreams.items()},
            "vmcps": {
                name: {"sessions": len(v.app.sessions), "tools": v.backend.view.count("tools/list")}
                for name, v in self.vmcps.items()
            },
        }


def limiter_for(name: str, limits: LimitsConfig) -> Limiter:
    """A vMCP's :class:`~mcpb.aggregator.limits.Limiter` from its ``limits`` (fresh counters)."""

    def rate(text: str | None) -> Rate | None:
        return Rate.parse(text) if text else None

    return Limiter(
        name,
        rate=rate(limits.rate),
        tools={pattern: Rate.parse(text) for pattern, text in limits.tools.items()},
        quota=rate(limits.quota),
        total=rate(limits.total),
    )


def access_of(vmcp: VmcpConfig) -> dict[str, tuple[str, ...]]:
    """Per identity, the tool globs of ``access`` (the backend's form)."""
    return {identity: tuple(entry.tools) for identity, entry in vmcp.access.items()}


def cache_of(vmcp: VmcpConfig) -> ResultCache | None:
    """A fresh result cache for ``vmcp.cache`` (``None``: results are never reused)."""
    settings = vmcp.cache
    if settings is None:
        return None
    return ResultCache(settings.ttl, settings.max_entries, settings.max_bytes)
