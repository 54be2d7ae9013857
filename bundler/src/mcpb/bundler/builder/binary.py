"""Per-platform executables of a ``server.type: "binary"`` bundle.

The author supplies one executable per platform, on the command line
(``--binary linux/amd64=build/amd64/server``) or in the manifest under our ``_meta`` key
(``"binaries": {"linux/amd64": "build/amd64/server"}``). Each platform's bundle gets its own
executable at the manifest's ``server.entry_point`` and none of the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mcpb.bundle.errors import BuildError, UsageError
from mcpb.bundle.platform import Platform, parse_platform

META_BINARIES = "binaries"


def parse_binary_options(values: Iterable[str], root: Path) -> dict[Platform, Path]:
    """``PLATFORM=PATH`` pairs from ``--binary``; paths relative to the project ``root``."""
    result: dict[Platform, Path] = {}
    for value in values:
        plat_text, sep, path_text = value.partition("=")
        if not sep or not path_text.strip():
            raise UsageError(f"--binary {value!r}: expected PLATFORM=PATH, e.g. linux/amd64=bin/x")
        platform = parse_platform(plat_text)
        if platform in result:
            raise UsageError(f"--binary: {platform} given twice")
        result[platform] = _resolve(root, path_text.strip())
    return result


def binaries_from_meta(
    manifest: Mapping[str, Any], meta_key: str, root: Path
) -> dict[Platform, Path]:
    """The ``_meta[meta_key].binaries`` mapping of a manifest, if any."""
    meta = manifest.get("_meta")
    ours = meta.get(meta_key) if isinstance(meta, dict) else None
    mapping = ours.get(META_BINARIES) if isinstance(ours, dict) else None
    if mapping is None:
        return {}
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise UsageError(
            f"manifest.json: _meta.{meta_key}.{META_BINARIES} must map platforms to paths"
        )
    return {parse_platform(k): _resolve(root, v) for k, v in mapping.items()}


def _resolve(root: Path, text: str) -> Path:
    path = Path(text)
    return path if path.is_absolute() else root / path


def select_binary(binaries: Mapping[Platform, Path], platform: Platform) -> Path:
    """The executable for ``platform``; a clear error when it is missing or not a file."""
    path = binaries.get(platform)
    if path is None:
        known = ", ".join(str(p) for p in sorted(binaries)) or "none"
        raise BuildError(
            f"no executable for {platform} (have: {known}); pass --binary {platform}=PATH"
        )
    if not path.is_file():
        raise BuildError(f"--binary {platform}: {path} is not a file")
    return path


def entry_point_of(manifest: Mapping[str, Any]) -> str:
    """``server.entry_point`` of a binary manifest: where the executable goes in the bundle."""
    server = manifest.get("server")
    entry = server.get("entry_point") if isinstance(server, dict) else None
    if not isinstance(entry, str) or not entry.strip():
        raise BuildError("manifest.json: server.entry_point is required for a binary server")
    return entry.strip().removeprefix("./")
