"""What one vMCP serves right now: merged, filtered, namespaced lists and the routes behind them.

A :class:`View` is computed from the vMCP's configuration and its upstreams' catalogs whenever
one of them changes, never per request: ``tools/list`` answers from the pre-encoded first page,
and routing a call is one dictionary lookup. Routes keep the tools of upstreams that are down
(a call to one is refused as *unavailable*, not as unknown) while the lists leave them out.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from mcpb.aggregator.catalog import LISTS, Catalog
from mcpb.aggregator.config import VmcpConfig
from mcpb.aggregator.names import namespaced, namespaced_uri
from mcpb.aggregator.selection import may_select, selected
from mcpb.aggregator.upstream import UP, Upstream
from mcpb.bundle.meta import META_KEY
from mcpb.mcphttp import jsonrpc

log = logging.getLogger("mcpb.aggregator")

#: list method → the kind of item whose names are namespaced (None: URIs).
_NAMED = {"tools/list": "tool", "prompts/list": "prompt"}


@dataclass(frozen=True, slots=True)
class Route:
    """Where a served name or URI leads: an upstream and the upstream's own name for it."""

    upstream: str
    name: str


@dataclass
class View:
    """One vMCP's served lists and routes (see the module docstring)."""

    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    routes: dict[str, dict[str, Route]] = field(default_factory=dict)
    conflicts: dict[str, dict[str, str]] = field(default_factory=dict)
    #: URI token → upstream, for namespaced URIs.
    uri_tokens: dict[str, str] = field(default_factory=dict)
    #: Upstreams whose URIs are served unchanged (no prefix), in configuration order.
    plain_uris: list[str] = field(default_factory=list)
    templates: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    upstreams: list[str] = field(default_factory=list)
    capabilities: dict[str, Any] = field(default_factory=dict)
    instructions: str | None = None
    #: Digest of each list as served: what decides whether a change is announced.
    digests: dict[str, str] = field(default_factory=dict)
    _first_pages: dict[str, bytes] = field(default_factory=dict)
    _read_only: frozenset[str] | None = None

    def read_only_tools(self) -> frozenset[str]:
        """Served tool names whose annotations say ``readOnlyHint: true``."""
        if self._read_only is None:
            self._read_only = frozenset(
                str(tool.get("name"))
                for tool in self.lists.get("tools/list", [])
                if isinstance(tool.get("annotations"), dict)
                and tool["annotations"].get("readOnlyHint") is True
            )
        return self._read_only

    def token_of(self, upstream: str) -> str:
        """The URI token this vMCP gives ``upstream``'s URIs ("" when served unchanged)."""
        return next((t for t, name in self.uri_tokens.items() if name == upstream), "")

    def count(self, method: str) -> int:
        """Items in one list."""
        return len(self.lists.get(method, ()))

    def page(
        self, method: str, cursor: Any, size: int, keep: Callable[[str], bool] | None = None
    ) -> bytes | None:
        """The encoded ``result`` of one list page, or None for a cursor that is not ours.

        ``keep`` (given the original ``UPSTREAM/NAME``) narrows the list for one caller; its
        pages are cut from the narrowed list, so cursors stay consistent for that caller.
        """
        items = self.lists.get(method, [])
        if keep is not None:
            routes = self.routes.get(method, {})
            items = [i for i in items if keep(_original(routes.get(str(i.get("name")))))]
            if cursor is None:
                return _encode_page(method, items, 0, size)
        elif cursor is None:
            cached = self._first_pages.get(method)
            if cached is None:
                cached = self._first_pages[method] = _encode_page(method, items, 0, size)
            return cached
        if not isinstance(cursor, str) or not cursor.isdigit() or len(cursor) > 9:
            return None
        start = int(cursor)
        if start > len(items):
            return None
        return _encode_page(method, items, start, size)


def _original(route: Route | None) -> str:
    return f"{route.upstream}/{route.name}" if route is not None else ""


def _encode_page(method: str, items: list[dict[str, Any]], start: int, size: int) -> bytes:
    key = LISTS[method][0]
    result: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        result["nextCursor"] = str(start + size)
    return jsonrpc.dumps(result)


def build_view(
    vmcp: VmcpConfig,
    separator: str,
    upstreams: Mapping[str, Upstream],
) -> View:
    """The view of ``vmcp`` over ``upstreams`` (configuration order decides ``first``)."""
    view = View()
    chosen = [u for name, u in upstreams.items() if may_select(vmcp, name, u.config)]
    view.upstreams = [u.name for u in chosen]
    prefixing = vmcp.namespace == "prefix" or (vmcp.namespace == "conditional" and len(chosen) > 1)
    versions = {u.name: (u.catalog.version if u.catalog else "") for u in chosen}
    for method in LISTS:
        served: dict[str, tuple[dict[str, Any], Upstream]] = {}
        routes: dict[str, Route] = {}
        conflicts: dict[str, str] = {}
        for upstream in chosen:
            catalog = upstream.catalog
            if catalog is None:
                continue
            prefix = upstream.prefix if prefixing else ""
            for item in catalog.items.get(method, ()):
                entry = _serve(method, item, upstream, prefix, separator, vmcp)
                if entry is None:
                    continue
                key, original, shown = entry
                taken = routes.get(key)
                if taken is not None:
                    if not _wins(vmcp.conflicts, upstream.name, taken.upstream, versions):
                        _conflict(conflicts, vmcp, method, key, taken.upstream, upstream.name)
                        continue
                    _conflict(conflicts, vmcp, method, key, taken.upstream, upstream.name)
                routes[key] = Route(upstream.name, original)
                served[key] = (shown, upstream)
        if vmcp.conflicts == "error":
            for key in conflicts:
                routes.pop(key, None)
                served.pop(key, None)
        else:
            conflicts = {}
        view.routes[method] = routes
        view.conflicts[method] = conflicts
        view.lists[method] = [item for item, u in served.values() if u.state == UP]
        view.digests[method] = _digest(view.lists[method])
    for upstream in chosen:
        if prefixing and upstream.uri_token:
            view.uri_tokens[upstream.uri_token] = upstream.name
        else:
            view.plain_uris.append(upstream.name)
    for key, route in view.routes["resources/templates/list"].items():
        if route.upstream in view.plain_uris:
            view.templates.append((_template_pattern(key), route.upstream))
    view.capabilities = _capabilities(chosen)
    view.instructions = _instructions(vmcp, chosen)
    return view


def _serve(
    method: str,
    item: dict[str, Any],
    upstream: Upstream,
    prefix: str,
    separator: str,
    vmcp: VmcpConfig,
) -> tuple[str, str, dict[str, Any]] | None:
    """``(served key, original key, served item)`` of one listed item, or None if not selected."""
    kind = _NAMED.get(method)
    name = item.get("name")
    if not isinstance(name, str):
        return None
    is_tool = kind == "tool"
    if not selected(
        vmcp, upstream.name, upstream.config, name, item.get("annotations"), is_tool=is_tool
    ):
        return None
    if kind is not None:
        key = namespaced(prefix, separator, name)
        if key == name:
            return key, name, item
        shown = {**item, "name": key}
        if key != f"{prefix}{separator}{name}":
            meta = dict(item.get("_meta") or {}) if isinstance(item.get("_meta"), dict) else {}
            meta[META_KEY] = {"upstream": upstream.name, "name": name}
            shown["_meta"] = meta
        return key, name, shown
    field_name = "uri" if method == "resources/list" else "uriTemplate"
    uri = item.get(field_name)
    if not isinstance(uri, str):
        return None
    token = upstream.uri_token if prefix else ""
    key = namespaced_uri(token, uri)
    return key, uri, item if key == uri else {**item, field_name: key}


def _wins(policy: str, challenger: str, holder: str, versions: Mapping[str, str]) -> bool:
    """Whether ``challenger`` takes a name ``holder`` already serves."""
    if policy != "highest-version":
        return False
    return _version(versions.get(challenger, "")) > _version(versions.get(holder, ""))


def _version(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def _conflict(
    conflicts: dict[str, str], vmcp: VmcpConfig, method: str, key: str, first: str, second: str
) -> None:
    what = "URI" if method.startswith("resources") else _NAMED[method]
    text = f"the {what} {key!r} is offered by upstreams {first!r} and {second!r}"
    if vmcp.conflicts == "error":
        text += "; neither serves it (set conflicts: first or highest-version, or prefixes)"
    conflicts[key] = text


def _digest(items: Sequence[dict[str, Any]]) -> str:
    return hashlib.sha256(jsonrpc.dumps(items)).hexdigest()


def _template_pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching the URIs a (level 1) URI template describes."""
    parts = re.split(r"(\{[^}]*\})", template)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


def _capabilities(chosen: Sequence[Upstream]) -> dict[str, Any]:
    offered: dict[str, Any] = {}
    for upstream in chosen:
        if upstream.catalog is not None:
            for key, value in upstream.catalog.capabilities.items():
                offered.setdefault(key, value)
    caps: dict[str, Any] = {"tools": {"listChanged": True}}
    if "prompts" in offered:
        caps["prompts"] = {"listChanged": True}
    if "resources" in offered:
        subscribe = any(
            isinstance(u.catalog.capabilities.get("resources"), dict)
            and u.catalog.capabilities["resources"].get("subscribe") is True
            for u in chosen
            if u.catalog is not None
        )
        caps["resources"] = {"listChanged": True, "subscribe": subscribe}
    for key in ("logging", "completions"):
        if key in offered:
            caps[key] = {}
    return caps


def _instructions(vmcp: VmcpConfig, chosen: Sequence[Upstream]) -> str | None:
    parts = [vmcp.instructions] if vmcp.instructions else []
    for upstream in chosen:
        catalog: Catalog | None = upstream.catalog
        if catalog is not None and catalog.instructions:
            parts.append(f"{upstream.name}: {catalog.instructions}")
    return "\n\n".join(parts) or None
