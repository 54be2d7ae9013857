"""The source registry: ``servers/<namespace>/<name>/server.json``, one entry per server.

A server named ``io.github.acme/time`` lives at ``servers/io.github.acme/time/server.json``;
its path and its name must agree. Entries are checked like any server.json
(:func:`mcpb.bundler.release.server_json.check_document`); the registry keeps the latest version
of each server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpb.bundle.atomic import write_atomic
from mcpb.bundle.errors import McpbError, UsageError
from mcpb.bundler.builder.serverjson import dump_server_json
from mcpb.bundler.release.server_json import check_document, read_document

NIMBLETOOLS_KEY = "ai.nimbletools.mcp/v1"


class RegistryError(McpbError):
    """A registry entry is invalid or misplaced (every problem is listed)."""


@dataclass(frozen=True)
class Entry:
    """One server of the registry: where it is and its document."""

    path: Path
    doc: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.doc.get("name", ""))

    @property
    def version(self) -> str:
        return str(self.doc.get("version", ""))

    def summary(self) -> dict[str, Any]:
        """The entry's line in a site's ``index.json`` (what search reads)."""
        tags, categories = self.labels()
        return {
            "name": self.name,
            "title": self.doc.get("title"),
            "description": self.doc.get("description"),
            "version": self.version,
            "tags": tags,
            "categories": categories,
        }

    def labels(self) -> tuple[list[str], list[str]]:
        """Tags and categories from NimbleTools' ``_meta`` (both spellings)."""
        meta = self.doc.get("_meta")
        block = meta.get(NIMBLETOOLS_KEY) if isinstance(meta, dict) else None
        tags: list[str] = []
        categories: list[str] = []
        if isinstance(block, dict):
            for part in ("display", "registry"):
                section = block.get(part)
                if not isinstance(section, dict):
                    continue
                tags += [t for t in section.get("tags", []) if isinstance(t, str) and t not in tags]
                for key in ("category", "categories"):
                    value = section.get(key)
                    values = [value] if isinstance(value, str) else value or []
                    categories += [c for c in values if isinstance(c, str) and c not in categories]
        return tags, categories


def entry_path(root: Path, name: str) -> Path:
    """Where the entry of server ``name`` lives under registry ``root``."""
    namespace, _, short = name.partition("/")
    if not namespace or not short or "/" in short or namespace in (".", ".."):
        raise UsageError(f"server name {name!r}: expected NAMESPACE/NAME")
    return root / "servers" / namespace / short / "server.json"


def read_entries(root: Path) -> list[Entry]:
    """Every entry of registry ``root``, sorted by name (unreadable ones raise)."""
    servers = root / "servers"
    if not servers.is_dir():
        raise UsageError(f"{root}: not a registry (no servers/ folder)")
    entries = []
    for path in sorted(servers.glob("*/*/server.json")):
        entries.append(Entry(path, read_document(path)))
    return sorted(entries, key=lambda e: e.name)


def problems(root: Path, entry: Entry) -> list[str]:
    """What is wrong with one entry (its schema and rules, and its place)."""
    found = [f"{entry.path}: {p}" for p in check_document(entry.doc).errors]
    if entry.name and entry.path != entry_path(root, entry.name):
        found.append(
            f"{entry.path}: the server {entry.name!r} belongs at {entry_path(root, entry.name)}"
        )
    return found


def validate_registry(root: Path) -> list[Entry]:
    """The entries of ``root``; RegistryError listing every problem when any is invalid."""
    entries = read_entries(root)
    found = [problem for entry in entries for problem in problems(root, entry)]
    if found:
        raise RegistryError(f"{root}: {len(found)} problem(s): " + "; ".join(found[:10]))
    return entries


def add_entry(root: Path, source: Path) -> Path:
    """Check ``source`` and write it as its server's entry (replacing an older version)."""
    doc = read_document(source)
    errors = check_document(doc).errors
    if errors:
        raise RegistryError(f"{source}: " + "; ".join(str(e) for e in errors[:5]))
    target = entry_path(root, str(doc.get("name", "")))
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, dump_server_json(doc))
    return target
