"""Pinning a server's dependencies (``--with``, ``--constraint``, ``--override``) and recording
what was resolved.

Published servers often allow any later version of what they depend on (``mcp>=1.0``) and break
when it moves. The flags use the installers' own mechanisms rather than a resolver of ours:

* Python: ``--with REQ`` is installed together with the server, so the resolver must satisfy
  both (``--with 'mcp<1.10'`` pins a transitive dependency); ``--constraint FILE`` and
  ``--override FILE`` are uv's options of the same names (requirements-format files).
* Node: ``--with NAME@RANGE`` and ``--override FILE`` (a JSON object) become npm ``overrides``
  in the staging ``package.json``, npm's way of forcing a version anywhere in the tree;
  ``--constraint`` has no npm counterpart and is refused for Node sources.

Whatever was resolved is recorded in the bundle (``dependencies`` in our ``_meta`` record), so
``mcpb info`` shows what a bundle really contains.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from mcpb.bundle.errors import BuildError, UsageError
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object
from mcpb.bundler.builder.derive import normalize_dist_name
from mcpb.bundler.builder.source import split_npm_spec

_MAX_OVERRIDES = 1 << 20


@dataclass(frozen=True)
class Pins:
    """The pinning flags, checked: files exist and are readable, requirements parse."""

    with_: tuple[str, ...] = ()
    constraint: Path | None = None
    override: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.with_ or self.constraint or self.override)

    def uv_arguments(self) -> list[str]:
        """The options ``uv pip install`` gets (``--with`` requirements go with the server)."""
        args: list[str] = []
        if self.constraint is not None:
            args += ["--constraint", str(self.constraint)]
        if self.override is not None:
            args += ["--override", str(self.override)]
        return args


def parse_pins(with_: tuple[str, ...], constraint: Path | None, override: Path | None) -> Pins:
    """Check the files once at the edge; the kind of source decides how they are read later."""
    for flag, path in (("--constraint", constraint), ("--override", override)):
        if path is not None and not path.is_file():
            raise UsageError(f"{flag} {path}: no such file")
    return Pins(
        tuple(with_),
        constraint.resolve() if constraint else None,
        override.resolve() if override else None,
    )


def python_requirements(pins: Pins) -> list[str]:
    """``--with`` values as PEP 508 requirements (refused with the flag's name otherwise)."""
    for text in pins.with_:
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            raise UsageError(f"--with {text!r}: not a Python requirement: {exc}") from None
    return list(pins.with_)


def npm_overrides(pins: Pins) -> dict[str, Any]:
    """npm ``overrides`` from ``--override FILE`` (JSON) and ``--with NAME@RANGE``."""
    if pins.constraint is not None:
        raise UsageError(
            f"--constraint {pins.constraint}: npm has no constraints; use --with NAME@RANGE "
            "or --override FILE (npm overrides, JSON) for Node sources"
        )
    overrides: dict[str, Any] = {}
    if pins.override is not None:
        try:
            overrides = parse_json_object(pins.override.read_bytes(), max_size=_MAX_OVERRIDES)
        except (OSError, JsonDocumentError) as exc:
            raise UsageError(f"--override {pins.override}: {exc}") from None
    for text in pins.with_:
        spec = split_npm_spec(text)
        if spec is None or spec[1] is None:
            raise UsageError(f"--with {text!r}: expected NAME@VERSION for a Node source")
        overrides[spec[0]] = spec[1]
    return overrides


def add_npm_overrides(package_json: Path, overrides: dict[str, Any]) -> None:
    """Merge ``overrides`` into the staging copy of ``package.json`` (never the author's)."""
    if not overrides:
        return
    data = json.loads(package_json.read_text(encoding="utf-8"))
    merged = dict(data.get("overrides") or {})
    merged.update(overrides)
    data["overrides"] = merged
    package_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def python_versions(site: Path) -> dict[str, str]:
    """``{name: version}`` of every distribution installed in ``site`` (``*.dist-info``)."""
    found: dict[str, str] = {}
    for dist_info in sorted(site.glob("*.dist-info")):
        stem = dist_info.name[: -len(".dist-info")]
        name, _, version = stem.rpartition("-")
        if name and version:
            found[normalize_dist_name(name)] = version
    return found


def node_versions(modules: Path) -> dict[str, str]:
    """``{name: version}`` of every package under ``node_modules`` (nested ones included)."""
    lock = modules / ".package-lock.json"
    if not lock.exists():
        return {}  # nothing was installed
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuildError(f"{lock}: cannot read what npm installed: {exc}") from None
    versions: dict[str, set[str]] = {}
    packages = data.get("packages") if isinstance(data, dict) else None
    for path, info in (packages or {}).items():
        if not isinstance(info, dict) or info.get("link") or "node_modules/" not in path:
            continue
        name = path.rsplit("node_modules/", 1)[1]
        version = info.get("version")
        if isinstance(version, str):
            versions.setdefault(name, set()).add(version)
    return {name: ", ".join(sorted(v)) for name, v in sorted(versions.items())}
