"""Cached root filesystem tarballs, keyed by their inputs, outside the clone.

Bootstrapping a root costs tens of seconds and network; the same inputs always give the same
root, so the tarball is kept under ``<cache>/rootfs/<key>.tar`` and reused until an input
changes (suite, architecture, package list, the archive's Release date, the recipe). A file
lock per key means two builds at once bootstrap once. The cache lives outside the clone
(``MCPB_IMAGE_CACHE``, else ``$XDG_CACHE_HOME/mcpb/images``, else ``~/.cache/mcpb/images``) so
a fresh checkout in CI still finds it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from mcpb.bundle.errors import BuildError


def default_cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Where image build inputs are cached."""
    if env.get("MCPB_IMAGE_CACHE"):
        return Path(env["MCPB_IMAGE_CACHE"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "mcpb" / "images"
    return Path.home() / ".cache" / "mcpb" / "images"


class RootfsCache:
    """``<root>/rootfs/<key>.tar`` files, created once per key under a lock."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """The tarball for ``key`` (it may not exist yet)."""
        return self.root / "rootfs" / f"{key}.tar"

    def get(self, key: str, build: Callable[[Path], object]) -> tuple[Path, bool]:
        """The tarball for ``key`` and whether it was already cached; ``build(path)`` writes a
        missing one (it must write atomically: temp file, then rename)."""
        tarball = self.path(key)
        if tarball.is_file():
            return tarball, True
        try:
            tarball.parent.mkdir(parents=True, exist_ok=True)
            lock_file = tarball.with_suffix(".lock").open("w")
        except OSError as err:
            raise BuildError(f"image cache {self.root}: {err.strerror}") from None
        with lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            if tarball.is_file():
                return tarball, True
            build(tarball)
            if not tarball.is_file():
                raise BuildError(f"root filesystem {tarball.name} was not written")
            return tarball, False
