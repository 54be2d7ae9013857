"""The bundle cache: one downloaded file and one extracted tree per SHA-256, shared safely.

Layout under the cache root (``MCPB_CACHE_DIR``)::

    bundles/<sha256>.mcpb   the verified bundle file
    trees/<sha256>/         its extracted tree
    locks/<sha256>.lock     flock(2) target serialising work on one digest
    staging/                temporary downloads (same filesystem, so rename is atomic)

Entries appear only by ``rename`` of a complete, verified temp file or directory, so a reader
never sees a half-written entry, and an exclusive ``flock`` per digest means two loaders starting
at once on the same cache do the work once: the second waits, then finds it done. Locks are
released by the kernel when a process dies, so a crash cannot wedge the cache. The content of
an entry is trusted once it is in place: the digest is the key, checked before the rename.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mcpb.bundle.digest import normalize_sha256
from mcpb.bundle.errors import McpbError

STALE_STAGING_SECONDS = 24 * 3600


class CacheError(McpbError):
    """The cache directory cannot be created, locked or written."""

    service_exit_code = 73


class BundleCache:
    """A cache root; all paths are derived from a normalised SHA-256.

    The root is made absolute: a tree's path becomes the server's ``${__dirname}``, and the
    server runs with the tree as its working directory, where a relative path means another place.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    def bundle_path(self, sha256: str) -> Path:
        """Where the verified bundle file for ``sha256`` lives (it may not exist yet)."""
        return self.root / "bundles" / f"{normalize_sha256(sha256)}.mcpb"

    def tree_path(self, sha256: str) -> Path:
        """Where the extracted tree for ``sha256`` lives (it may not exist yet)."""
        return self.root / "trees" / normalize_sha256(sha256)

    @property
    def staging(self) -> Path:
        """A directory for downloads whose digest is not known yet."""
        return self._dir("staging")

    def has_tree(self, sha256: str) -> bool:
        """True when a complete extracted tree is in place (trees appear only by rename)."""
        return self.tree_path(sha256).is_dir()

    def has_bundle(self, sha256: str) -> bool:
        """True when the verified bundle file is in place."""
        return self.bundle_path(sha256).is_file()

    @contextmanager
    def lock(self, sha256: str) -> Iterator[None]:
        """Hold the exclusive lock of one digest (blocking until another holder is done)."""
        path = self._dir("locks") / f"{normalize_sha256(sha256)}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise CacheError(f"cache {self.root}: cannot open lock {path.name}: {err}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def prepare_dirs(self) -> None:
        """Create the layout; raise :class:`CacheError` naming the root when it is unusable."""
        for name in ("bundles", "trees", "locks", "staging"):
            self._dir(name)

    def sweep_staging(self, max_age: float = STALE_STAGING_SECONDS) -> int:
        """Remove staging leftovers of crashed loaders older than ``max_age``; return the count."""
        removed = 0
        cutoff = time.time() - max_age
        for entry in self.staging.iterdir():
            try:
                if entry.lstat().st_mtime >= cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed += 1
            except OSError:
                continue
        return removed

    def _dir(self, name: str) -> Path:
        path = self.root / name
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CacheError(f"cache {self.root}: cannot create {name}/: {err.strerror}") from None
        return path
