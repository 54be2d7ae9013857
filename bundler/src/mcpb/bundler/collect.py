"""Collect the files of a project directory that go into a bundle.

The walk is deterministic (names sorted at every level), applies :mod:`mcpb.bundler.ignore`,
prunes excluded directories, and never reads file contents: it returns archive entries that point
at their source files so the writer can stream them.

Symlinks are followed only inside the project: a link whose target (after resolving every hop)
lies outside the project root is an error naming the link, because following it would pack files
the author never meant to publish (``/etc``, ``~/.ssh``) and keeping it as a link would produce a
bundle that does not work elsewhere. A link to a file inside the project is stored as a regular
file with the target's content and exec bit; a link to a directory inside is walked like a
directory (a link back to one of its own ancestors is an error, not an infinite loop). Dangling
links, FIFOs, sockets and devices are errors unless an ignore rule leaves them out first.

The project's root ``manifest.json`` is not collected: the packer writes the manifest itself.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpb.bundle.archive import Entry
from mcpb.bundle.errors import ArchiveError, UsageError
from mcpb.bundler.ignore import IgnoreRules, build_rules

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Collection:
    """The files to pack, sorted by archive name, and what the rules left out."""

    root: Path
    entries: tuple[Entry, ...]
    total_size: int
    excluded: tuple[str, ...]  # top-most excluded paths; directories end with "/"
    vendored_roots: frozenset[str]

    @property
    def names(self) -> list[str]:
        """Archive names of the collected files, in order."""
        return [e.name for e in self.entries]


def collect_files(
    root: Path,
    manifest_data: Mapping[str, Any] | None = None,
    *,
    extra_vendored: Iterable[str] = (),
    rules: IgnoreRules | None = None,
) -> Collection:
    """Walk ``root`` and return every file that belongs in its bundle.

    ``manifest_data`` (the raw manifest) tells which folders are vendored dependencies;
    ``extra_vendored`` adds project-relative folders a build step knows it filled.
    """
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    if rules is None:
        rules = build_rules(root, manifest_data, extra_vendored=extra_vendored)
    walker = _Walker(root.resolve(), rules)
    walker.walk(root, "", frozenset({os.path.realpath(root)}))
    entries = sorted(walker.entries, key=lambda e: e.name)
    return Collection(
        root=root,
        entries=tuple(entries),
        total_size=walker.total_size,
        excluded=tuple(walker.excluded),
        vendored_roots=rules.vendored_roots,
    )


class _Walker:
    """Depth-first, name-sorted walk accumulating entries; one instance per collection."""

    def __init__(self, real_root: Path, rules: IgnoreRules) -> None:
        self.real_root = str(real_root)
        self.rules = rules
        self.entries: list[Entry] = []
        self.excluded: list[str] = []
        self.total_size = 0

    def walk(self, directory: Path, prefix: str, ancestors: frozenset[str]) -> None:
        try:
            names = sorted(p.name for p in directory.iterdir())
        except OSError as err:
            raise ArchiveError(f"cannot read directory {prefix or '.'}: {err.strerror}") from err
        for name in names:
            rel = prefix + name
            if rel == MANIFEST_NAME:
                continue
            self._visit(directory / name, rel, ancestors)

    def _visit(self, path: Path, rel: str, ancestors: frozenset[str]) -> None:
        try:
            st = path.lstat()
            is_link = stat.S_ISLNK(st.st_mode)
            if is_link:
                st = path.stat()  # the final target; ignore rules see the target's kind
        except FileNotFoundError:
            if self.rules.excludes(rel, is_dir=False):
                self.excluded.append(rel)
                return
            raise ArchiveError(
                f"cannot pack {rel}: dangling symlink -> {path.readlink()}"
            ) from None
        except OSError as err:
            raise ArchiveError(f"cannot read {rel}: {err.strerror}") from err
        is_dir = stat.S_ISDIR(st.st_mode)
        if self.rules.excludes(rel, is_dir=is_dir):
            self.excluded.append(rel + "/" if is_dir else rel)
            return
        real = os.path.realpath(path) if is_link or is_dir else ""
        if is_link:
            self._check_inside(path, rel, real)
        if is_dir:
            if real in ancestors:
                raise ArchiveError(
                    f"cannot pack {rel}: symlink loops back to an ancestor directory"
                )
            self.walk(path, rel + "/", ancestors | {real})
            return
        if not stat.S_ISREG(st.st_mode):
            kind = "a symlink to a special file" if is_link else "a special file"
            raise ArchiveError(f"cannot pack {rel}: {kind} (FIFO, socket or device)")
        self.entries.append(Entry.from_file(rel, path, executable=bool(st.st_mode & 0o111)))
        self.total_size += st.st_size

    def _check_inside(self, path: Path, rel: str, real: str) -> None:
        """Refuse a symlink whose final target lies outside the project."""
        try:
            inside = os.path.commonpath([self.real_root, real]) == self.real_root
        except ValueError:
            inside = False
        if not inside:
            raise ArchiveError(
                f"cannot pack {rel}: symlink points outside the project -> {path.readlink()}"
                " (exclude it in .mcpbignore if the bundle does not need it)"
            )
