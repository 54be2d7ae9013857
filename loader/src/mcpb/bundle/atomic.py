"""Write a file so that it appears whole or not at all.

Every output of this project (bundles, manifests, SHA256SUMS, keys) goes through here: a new
temp file beside the target (same filesystem, so the rename is atomic), renamed over the target
only when the writer finished cleanly, and removed on any failure.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _create_sibling(target: Path) -> tuple[Path, BinaryIO]:
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return tmp, os.fdopen(fd, "w+b")
    raise FileExistsError(f"{target}: no free temporary name beside it")


@contextlib.contextmanager
def atomic_output(target: Path, *, mode: int | None = None) -> Iterator[BinaryIO]:
    """Yield a readable, seekable temp file that replaces ``target`` if the block succeeds.

    ``mode`` sets the permission bits; by default they follow the umask like any new file.
    OS errors propagate unchanged so callers can word them for their own users.
    """
    tmp, f = _create_sibling(target)
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            tmp.chmod(mode)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(target: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``target`` with ``data`` atomically."""
    with atomic_output(target, mode=mode) as f:
        f.write(data)
