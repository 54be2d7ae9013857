"""Where a spawned upstream comes from: a stdio command, or a bundle run by the loader library.

A ``bundle`` upstream is fetched, verified against its sha256, extracted into the cache and
planned exactly as the base images' loader does (:func:`mcpb.loader.obtain`,
:func:`mcpb.loader.plan_launch`). A ``server_json`` upstream names the bundle indirectly: its
``mcpb`` package for this machine's architecture, with the digest the document gives, and the
tags and categories of its ``_meta``. A bundle whose runtime this machine lacks (a Node bundle
in the Python-based aggregator image) is refused here, when the configuration is loaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpb.aggregator.config import AggregatorConfig, UpstreamConfig
from mcpb.aggregator.errors import UpstreamError
from mcpb.bundle.errors import McpbError
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object
from mcpb.loader.compat import Machine
from mcpb.loader.config import LoaderConfig
from mcpb.loader.fetch import FetchOptions, fetch, redact
from mcpb.loader.launch import HTTP_TRANSPORT, plan_launch
from mcpb.loader.obtain import obtain

#: The largest server.json read, bytes.
MAX_SERVER_JSON = 1 << 20
NIMBLETOOLS_META = "ai.nimbletools.mcp/v1"
#: The base image that has a runtime, for the refusal message.
_RUNTIME_IMAGES = {
    "node": "mcpb-node:20",
    "python": "mcpb-python:3.13",
    "python3": "mcpb-python:3.13",
}


@dataclass(frozen=True)
class SpawnPlan:
    """How to start a stdio upstream, and what its source says about it."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


def plan_spawn(name: str, upstream: UpstreamConfig, cache_dir: Path) -> SpawnPlan:
    """The launch plan of a ``stdio``, ``bundle`` or ``server_json`` upstream (may download)."""
    env = {**os.environ, **upstream.env}
    if upstream.kind == "stdio":
        cwd = Path(upstream.cwd) if upstream.cwd else Path.cwd()
        return SpawnPlan(upstream.command, env, cwd)
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    if upstream.kind == "server_json":
        assert upstream.server_json is not None
        document = read_server_json(name, upstream.server_json, cache_dir)
        url, sha256 = pick_package(name, document, str(Machine.current().platform.arch))
        tags, categories = labels(document)
    else:
        assert upstream.bundle is not None and upstream.sha256 is not None
        url, sha256 = upstream.bundle, upstream.sha256
    config = LoaderConfig(
        bundle_url=url,
        sha256=sha256.lower(),
        cache_dir=cache_dir,
        user_config=dict(upstream.user_config),
    )
    try:
        bundle = obtain(config)
        spec = plan_launch(config, bundle, environ=env)
    except McpbError as err:
        raise UpstreamError(f"upstream {name}: {err}") from None
    if spec.transport == HTTP_TRANSPORT:
        raise UpstreamError(
            f"upstream {name}: {spec.name} is an HTTP server bundle; run it in its base image "
            "(docker run … BUNDLE_URL=…) and add it as a url upstream"
        )
    require_runtime(name, spec.command[0], spec.env, bundle.meta.runtime if bundle.meta else None)
    return SpawnPlan(spec.command, spec.env, spec.cwd, tags, categories)


def plan_changes(
    old: AggregatorConfig | None, new: AggregatorConfig, cache_dir: Path
) -> dict[str, SpawnPlan]:
    """Launch plans of ``new``'s spawned upstreams that ``old`` lacks or configures otherwise
    (bundles are fetched and verified now: a configuration that cannot run is refused whole)."""
    plans = {}
    for name, upstream in new.upstreams.items():
        if upstream.kind in ("url", "sse"):
            continue
        if old is not None and old.upstreams.get(name) == upstream:
            continue
        plans[name] = plan_spawn(name, upstream, cache_dir)
    return plans


def require_runtime(
    name: str, program: str, env: Mapping[str, str], runtime: str | None = None
) -> None:
    """Refuse a bundle whose interpreter (``node``, ``python3``…) this machine lacks, naming
    the base image of the bundle's recorded ``runtime`` (``node:22`` → ``mcpb-node:22``)."""
    if Path(program).is_absolute():
        if os.access(program, os.X_OK):
            return
    elif shutil.which(program, path=env.get("PATH")) is not None:
        return
    image = f"mcpb-{runtime}" if runtime else None
    image = image or _RUNTIME_IMAGES.get(Path(program).name, "its base image")
    raise UpstreamError(
        f"upstream {name}: this machine has no {Path(program).name} runtime to run the bundle; "
        f"serve it with {image} and add it as a url upstream"
    )


def read_server_json(name: str, location: str, cache_dir: Path) -> dict[str, Any]:
    """A server.json from a path or URL (bounded, a JSON object); a registry API answer
    (``{"server": {...}, "_meta": ...}``, as ``…/versions/latest`` gives) is unwrapped."""
    options = FetchOptions(max_size=MAX_SERVER_JSON)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as work:
        dest = Path(work) / "server.json"
        try:
            fetch(location, dest, options=options)
            document = parse_json_object(dest.read_bytes(), max_size=MAX_SERVER_JSON)
            inner = document.get("server")
            return inner if isinstance(inner, dict) and "packages" in inner else document
        except McpbError as err:
            raise UpstreamError(f"upstream {name}: {err}") from None
        except (JsonDocumentError, OSError) as err:
            raise UpstreamError(f"upstream {name}: {redact(location)}: {err}") from None


def pick_package(name: str, document: Mapping[str, Any], arch: str) -> tuple[str, str]:
    """``(identifier, fileSha256)`` of the ``mcpb`` package built for ``arch``."""
    packages = document.get("packages")
    found = []
    for package in packages if isinstance(packages, list) else []:
        if not isinstance(package, dict) or package.get("registryType") != "mcpb":
            continue
        identifier, digest = package.get("identifier"), package.get("fileSha256")
        if isinstance(identifier, str) and isinstance(digest, str):
            found.append((identifier, digest))
    for identifier, digest in found:
        if identifier.rsplit("/", 1)[-1].endswith(f"-linux-{arch}.mcpb"):
            return identifier, digest
    if len(found) == 1 and "-linux-" not in found[0][0].rsplit("/", 1)[-1]:
        return found[0]  # one package, not built per architecture
    names = ", ".join(i.rsplit("/", 1)[-1] for i, _ in found) or "none"
    raise UpstreamError(
        f"upstream {name}: the server.json has no mcpb package for linux/{arch} "
        f"(mcpb packages with a fileSha256: {names})"
    )


def labels(document: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Tags and categories from NimbleTools' ``_meta`` (``display`` or ``registry`` form)."""
    meta = document.get("_meta")
    block = meta.get(NIMBLETOOLS_META) if isinstance(meta, dict) else None
    if not isinstance(block, dict):
        return (), ()
    tags: list[str] = []
    categories: list[str] = []
    for part in ("display", "registry"):
        section = block.get(part)
        if not isinstance(section, dict):
            continue
        tags += [t for t in _strings(section.get("tags")) if t not in tags]
        for key in ("category", "categories"):
            categories += [c for c in _strings(section.get(key)) if c not in categories]
    return tuple(tags), tuple(categories)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def with_labels(upstream: UpstreamConfig, plan: SpawnPlan) -> UpstreamConfig:
    """``upstream`` with the source's tags and categories added to its own."""
    if not plan.tags and not plan.categories:
        return upstream
    tags = list(dict.fromkeys([*upstream.tags, *plan.tags]))
    categories = list(dict.fromkeys([*upstream.categories, *plan.categories]))
    return upstream.model_copy(update={"tags": tags, "categories": categories})
