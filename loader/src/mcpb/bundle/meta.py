"""Our extra data in a bundle (target platform, runtime, per-file SHA256 record) and packing.

Where it lives, so that every MCPB consumer (the reference validator included) still accepts
the bundle: manifest_version 0.3 and later allow vendor data under ``_meta`` keyed by reverse
DNS, so it goes in ``manifest["_meta"]["io.github.mcpb-toolchain"]``; 0.1 and 0.2 (and the
``dxt_version`` spelling) reject unknown keys, so it goes in a sidecar file
``.mcpb-toolchain.json`` at the archive root instead. Both hold the same JSON object:
``{"platform": "linux/amd64", "runtime": "python:3.13", "python": "3.13", "files": {path: sha256}}``
(the first three, and ``transport``, only when known). ``files`` covers every file except
``manifest.json`` and the sidecar, which cannot list their own digests. ``dependencies``, when a
build vendored any, maps each vendored package to the version that was resolved
(``{"mcp": "1.9.4"}``; several versions of one npm package are joined by ``", "``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpb.bundle.archive import (
    MANIFEST_NAME,
    SIDECAR_NAME,
    ArchiveInfo,
    Entry,
    entry_order,
    finish_info,
    open_archive,
)
from mcpb.bundle.errors import ArchiveError, Issue, ManifestError
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object

META_KEY = "io.github.mcpb-toolchain"
__all__ = ["META_KEY", "SIDECAR_NAME", "BundleMeta", "pack_bundle", "read_meta", "uses_meta_key"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"(\d+)\.(\d+)")


@dataclass
class BundleMeta:
    """Our data about a bundle; every field is optional except the (possibly empty) record."""

    platform: str | None = None
    runtime: str | None = None
    python: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    # "streamable-http": the server listens on $PORT itself (the loader proxies it); else stdio
    transport: str | None = None
    dependencies: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in the bundle; unknown fields are left out, files sorted."""
        out: dict[str, Any] = {}
        for key in ("platform", "runtime", "python", "transport"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.dependencies:
            out["dependencies"] = dict(sorted(self.dependencies.items()))
        out["files"] = dict(sorted(self.files.items()))
        return out

    @classmethod
    def from_json(cls, data: object, *, source: str) -> BundleMeta:
        """Parse the stored object; tolerate unknown keys (newer writers), reject wrong types."""
        if not isinstance(data, dict):
            raise ArchiveError(f"{source}: expected a JSON object")
        values: dict[str, str | None] = {}
        for key in ("platform", "runtime", "python", "transport"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise ArchiveError(f"{source}: {key}: expected a string")
            values[key] = value
        files = data.get("files", {})
        if not isinstance(files, dict):
            raise ArchiveError(f"{source}: files: expected an object")
        for name, digest in files.items():
            if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
                raise ArchiveError(f"{source}: files[{name!r}]: expected 64 lowercase hex digits")
        dependencies = data.get("dependencies", {})
        if not isinstance(dependencies, dict) or not all(
            isinstance(v, str) for v in dependencies.values()
        ):
            raise ArchiveError(f"{source}: dependencies: expected an object of version strings")
        return cls(files=dict(files), dependencies=dict(dependencies), **values)


def manifest_version(manifest_data: dict[str, Any]) -> tuple[int, int]:
    """``manifest_version`` (or the deprecated ``dxt_version``) as a comparable pair."""
    raw = manifest_data.get("manifest_version", manifest_data.get("dxt_version"))
    m = _VERSION.fullmatch(raw) if isinstance(raw, str) else None
    if m is None:
        raise ManifestError(
            MANIFEST_NAME,
            [Issue("manifest_version", f"expected a version like '0.3', got {raw!r}")],
        )
    return int(m.group(1)), int(m.group(2))


def uses_meta_key(manifest_data: dict[str, Any]) -> bool:
    """Whether this manifest's version carries our data under ``_meta`` (0.3+) or a sidecar."""
    return manifest_version(manifest_data) >= (0, 3)


def read_meta(
    manifest_data: dict[str, Any], sidecar: bytes | None, *, source: str = "bundle"
) -> BundleMeta | None:
    """Our data from a bundle's manifest or sidecar; ``None`` when the bundle has none.

    The ``_meta`` key wins when both are present (a 0.3+ bundle ignores stray sidecars).
    """
    meta = manifest_data.get("_meta")
    if isinstance(meta, dict) and META_KEY in meta:
        return BundleMeta.from_json(meta[META_KEY], source=f"{source}: _meta[{META_KEY!r}]")
    if sidecar is None:
        return None
    where = f"{source}: {SIDECAR_NAME}"
    try:
        data = parse_json_object(sidecar)
    except JsonDocumentError as exc:
        raise ArchiveError(f"{where}: {exc}") from None
    return BundleMeta.from_json(data, source=where)


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def pack_bundle(
    manifest_data: dict[str, Any],
    files: Iterable[Entry],
    out: Path,
    *,
    platform: str | None = None,
    runtime: str | None = None,
    python: str | None = None,
    epoch: int | None = None,
    compresslevel: int = 6,
    transport: str | None = None,
    manifest_bytes: bytes | None = None,
    dependencies: dict[str, str] | None = None,
) -> ArchiveInfo:
    """Write a bundle: ``files`` sorted, then our data, then ``manifest.json`` last.

    ``manifest_bytes``, the author's file as read, is stored unchanged when nothing must be added
    to the manifest (a 0.1/0.2 manifest, whose record goes to the sidecar); otherwise the
    manifest is written from ``manifest_data``.

    Each file is read once: its SHA256 is taken while it is compressed, and the manifest (or
    sidecar) carrying the record is written after them. ``manifest_data`` is not validated here
    (the caller does that) and is not modified; its key order is kept, ``_meta`` extended in
    place of any previous record of ours. Entries named ``manifest.json`` or the sidecar in
    ``files`` are ignored (repacking an unpacked bundle must not store stale copies).
    """
    in_meta = uses_meta_key(manifest_data)
    ordered = sorted(
        (e for e in files if e.name not in (MANIFEST_NAME, SIDECAR_NAME)),
        key=lambda e: entry_order(e.name),
    )
    if transport is None:  # an author may declare it in manifest.json (0.3+): keep it
        given = manifest_data.get("_meta")
        declared = given.get(META_KEY) if isinstance(given, dict) else None
        value = declared.get("transport") if isinstance(declared, dict) else None
        transport = value if isinstance(value, str) else None
    meta = BundleMeta(
        platform=platform,
        runtime=runtime,
        python=python,
        transport=transport,
        dependencies=dict(dependencies or {}),
    )
    manifest = dict(manifest_data)
    with open_archive(out, epoch=epoch, compresslevel=compresslevel) as writer:
        for entry in ordered:
            meta.files[entry.name] = writer.add(entry)
        if in_meta:
            existing = manifest.get("_meta")
            ours = dict(existing) if isinstance(existing, dict) else {}
            ours[META_KEY] = meta.to_json()
            manifest["_meta"] = ours
        else:
            writer.add(Entry.from_bytes(SIDECAR_NAME, _json_bytes(meta.to_json())))
        kept = manifest_bytes if manifest_bytes is not None and not in_meta else None
        writer.add(Entry.from_bytes(MANIFEST_NAME, kept or _json_bytes(manifest)))
    return finish_info(out, writer)
