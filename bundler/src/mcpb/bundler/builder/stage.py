"""Turn a staged directory tree into archive entries, and place finished files atomically."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mcpb.bundle.archive import Entry
from mcpb.bundle.errors import BuildError

SKIP_DIRS = frozenset({".bin", ".cache"})  # inside node_modules: link farms and tool caches


def tree_entries(root: Path, prefix: str = "") -> list[Entry]:
    """Every regular file under ``root`` as an entry named ``prefix + relative path``.

    Symlinks to files inside ``root`` are stored as regular files; any other link is an error
    naming it, because the bundle would not work (or would leak the build machine's files).
    """
    entries: list[Entry] = []
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        in_modules = base.name == "node_modules"
        dirnames[:] = sorted(d for d in dirnames if not (in_modules and d in SKIP_DIRS))
        for name in list(dirnames):
            if (base / name).is_symlink():
                dirnames.remove(name)
                filenames.append(name)
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                target = path.resolve()
                if not target.is_file() or not target.is_relative_to(real_root):
                    raise BuildError(
                        f"{prefix}{rel}: symlink leaving the staged tree or not a file"
                    )
                path = target
            elif not path.is_file():
                raise BuildError(f"{prefix}{rel}: not a regular file")
            entries.append(Entry.from_file(prefix + rel, path))
    return entries


def entry_head(entry: Entry, size: int = 20) -> bytes:
    """The first bytes of an entry's content (for ELF detection)."""
    if entry.data is not None:
        return entry.data[:size]
    if entry.source is None:
        return b""
    with entry.source.open("rb") as f:
        return f.read(size)


def without(entries: Iterable[Entry], names: Iterable[str], prefixes: Iterable[str]) -> list[Entry]:
    """Entries minus exact ``names`` and anything under the directory ``prefixes``."""
    drop = set(names)
    heads = tuple(p.rstrip("/") + "/" for p in prefixes if p)
    return [e for e in entries if e.name not in drop and not e.name.startswith(heads)]
