"""Which of an upstream's tools, prompts and resources a vMCP serves.

An item is selected when one of the vMCP's selectors selects it and no ``exclude`` glob
matches it. Globs (``fnmatch``, case-sensitive) match ``UPSTREAM/NAME`` with the upstream's
configured name and the item's original name, never the namespaced one, so renaming a prefix
never changes what a vMCP serves.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from mcpb.aggregator.config import Selector, UpstreamConfig, VmcpConfig


def upstream_matches(selector: Selector, name: str, upstream: UpstreamConfig) -> bool:
    """Whether the upstream-level conditions of ``selector`` hold for upstream ``name``."""
    if selector.upstreams is not None and name not in selector.upstreams:
        return False
    tags = set(upstream.tags)
    if selector.tags is not None and not tags.intersection(selector.tags):
        return False
    if selector.all_tags is not None and not tags.issuperset(selector.all_tags):
        return False
    return not (
        selector.categories is not None
        and not set(upstream.categories).intersection(selector.categories)
    )


def may_select(vmcp: VmcpConfig, name: str, upstream: UpstreamConfig) -> bool:
    """Whether any selector could select something of upstream ``name``."""
    return any(upstream_matches(selector, name, upstream) for selector in vmcp.select)


def selected(
    vmcp: VmcpConfig,
    name: str,
    upstream: UpstreamConfig,
    item: str,
    annotations: Any = None,
    *,
    is_tool: bool,
) -> bool:
    """Whether item ``item`` (a tool when ``is_tool``) of upstream ``name`` is served."""
    path = f"{name}/{item}"
    if any(fnmatchcase(path, glob) for glob in vmcp.exclude):
        return False
    for selector in vmcp.select:
        if not upstream_matches(selector, name, upstream):
            continue
        if selector.tools is not None and not any(fnmatchcase(path, g) for g in selector.tools):
            continue
        if selector.annotations is not None and not (
            is_tool and _annotations_hold(selector.annotations, annotations)
        ):
            continue
        return True
    return False


#: The spec's defaults for tool annotation hints a tool leaves out.
HINT_DEFAULTS = {
    "readOnlyHint": False,
    "destructiveHint": True,
    "idempotentHint": False,
    "openWorldHint": True,
}


def _annotations_hold(wanted: dict[str, bool], annotations: Any) -> bool:
    have = annotations if isinstance(annotations, dict) else {}
    return all(have.get(key, HINT_DEFAULTS.get(key)) is value for key, value in wanted.items())
