"""Remove what a vendored dependency tree does not need at run time, and what varies per build.

Only things that are safe to drop are removed: byte-code caches (regenerated on demand), the
``bin/`` console-script wrappers uv writes into a ``--target`` directory (their shebang names the
build machine's interpreter, so they are neither runnable on the target nor reproducible), and
``tests``/``test`` directories *nested inside* a third-party package (never imported by the
package itself; a top-level package of that name is left alone because something may import it).
``RECORD`` files are rewritten to list only what remains, so they stay truthful.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

TEST_DIRS = frozenset({"tests", "test"})
CACHE_SUFFIXES = (".pyc", ".pyo")


@dataclass
class PruneReport:
    """What was removed, for the build summary."""

    files: int = 0
    bytes: int = 0
    paths: list[str] = field(default_factory=list)

    def add(self, path: Path, root: Path) -> None:
        for f in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
            self.files += 1
            self.bytes += f.lstat().st_size
        self.paths.append(path.relative_to(root).as_posix())


def prune_site_packages(root: Path) -> PruneReport:
    """Prune a ``uv pip install --target`` directory in place."""
    report = PruneReport()
    doomed: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in list(dirnames):
            path = base / name
            if (
                (base == root and name == "bin")
                or name == "__pycache__"
                or (name in TEST_DIRS and _inside_package(path, root))
            ):
                doomed.append(path)
                dirnames.remove(name)  # do not descend into what goes anyway
        doomed.extend(base / f for f in filenames if f.endswith(CACHE_SUFFIXES))
    for path in doomed:
        report.add(path, root)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    _rewrite_records(root)
    return report


def _inside_package(path: Path, root: Path) -> bool:
    """True for ``pkg/tests`` (a sub-directory of an importable package), not for ``tests``."""
    parent = path.parent
    return parent != root and (parent / "__init__.py").is_file()


def _rewrite_records(root: Path) -> None:
    """Drop RECORD lines whose file no longer exists (paths are relative to ``root``)."""
    for record in sorted(root.glob("*.dist-info/RECORD")):
        lines = record.read_text(encoding="utf-8").splitlines()
        kept = []
        for line in lines:
            name = line.split(",", 1)[0]
            if not name or name.endswith("RECORD") or (root / name).exists():
                kept.append(line)
        if len(kept) != len(lines):
            # Replace, never write through: installed files may be hard links into uv's cache.
            tmp = record.with_name(".RECORD.tmp")
            tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
            tmp.replace(record)
