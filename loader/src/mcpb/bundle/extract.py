"""Safe extraction of a bundle into a new directory: all or nothing.

Everything :func:`mcpb.bundle.reader.open_bundle` checks is checked first (names, types,
duplicates, sizes, ratios); then files are written into a temporary sibling directory that is
renamed into place only when every entry was written and matched the per-file SHA256 record.

Decisions:

- Entry modes are never copied: files become 0644, or 0755 when the entry has any exec bit;
  directories 0755. No setuid/setgid/sticky, nothing world-writable, and the umask does not
  matter.
- Names differing only in case are allowed (bundles target Linux, whose file systems are
  case-sensitive); every file is created with ``O_EXCL | O_NOFOLLOW``, so on a case-insensitive
  file system the second one fails as a collision instead of overwriting the first.
- Nothing but regular files and directories is ever created, inside a fresh private directory,
  so no entry can be written through a link.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpb.bundle.archive import EXEC_MODE, FILE_MODE, MANIFEST_NAME, SIDECAR_NAME
from mcpb.bundle.errors import ArchiveError, IntegrityError, UnsafeArchiveError
from mcpb.bundle.meta import BundleMeta
from mcpb.bundle.reader import DEFAULT_LIMITS, Bundle, EntryInfo, Limits, open_bundle

__all__ = ["Bundle", "EntryInfo", "ExtractResult", "Limits", "open_bundle", "safe_extract"]


@dataclass(frozen=True)
class ExtractResult:
    """What :func:`safe_extract` produced; ``verified`` is true when a record was checked."""

    dest: Path
    file_count: int
    total_size: int
    verified: bool
    meta: BundleMeta | None
    manifest_data: dict[str, Any]


def safe_extract(
    path: Path, dest: Path, *, limits: Limits = DEFAULT_LIMITS, verify_record: bool = True
) -> ExtractResult:
    """Extract a bundle into ``dest``, which must not exist; all or nothing.

    Files go into a temporary sibling directory that is renamed to ``dest`` only when every
    entry was written and (``verify_record``) matched the per-file SHA256 record. Missing
    parent directories are created, and removed again on failure.
    """
    path, dest = Path(path), Path(dest)
    if os.path.lexists(dest):
        raise ArchiveError(f"{dest}: already exists")
    created = _make_parents(dest.parent)
    tmp: Path | None = None
    try:
        with open_bundle(path, limits=limits) as bundle:
            tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
            result = _extract_into(bundle, tmp, dest, verify_record)
            tmp.chmod(0o755)
            if os.path.lexists(dest):
                raise ArchiveError(f"{dest}: appeared while extracting")
            tmp.rename(dest)
            return result
    except BaseException as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        for parent in reversed(created):
            try:
                parent.rmdir()
            except OSError:
                break
        if isinstance(exc, OSError):
            raise ArchiveError(f"{path}: extract to {dest} failed ({exc.strerror or exc})") from exc
        raise


def _make_parents(parent: Path) -> list[Path]:
    missing: list[Path] = []
    p = parent.absolute()
    while not p.exists():
        missing.append(p)
        p = p.parent
    created: list[Path] = []
    try:
        for d in reversed(missing):
            d.mkdir()
            created.append(d)
    except OSError as exc:
        for d in reversed(created):
            d.rmdir()
        raise ArchiveError(f"{parent}: cannot create ({exc.strerror})") from None
    return created


def _extract_into(bundle: Bundle, root: Path, dest: Path, verify_record: bool) -> ExtractResult:
    """Write every entry under ``root`` (a fresh private directory); describe it as ``dest``."""
    record: dict[str, str] | None = None
    src = bundle.source
    if verify_record and bundle.meta is not None:
        record = bundle.meta.files
        missing = sorted(set(record) - set(bundle.names()))
        if missing:
            raise IntegrityError(
                f"{src}: entry {missing[0]!r}: listed in the SHA256 record but not in the bundle"
            )
    made: set[str] = set()
    count = 0
    total = 0

    def ensure_dir(rel: str) -> None:
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in made:
                target = root / sub
                try:
                    target.mkdir(0o755)
                except FileExistsError:
                    if target.is_symlink() or not target.is_dir():
                        raise UnsafeArchiveError(
                            f"{src}: entry {rel!r}: collides with another entry"
                        ) from None
                target.chmod(0o755)
                made.add(sub)

    for entry in bundle.entries:
        if entry.is_dir:
            ensure_dir(entry.name)
            continue
        where = f"{src}: entry {entry.name!r}"
        want: str | None = None
        if record is not None and entry.name not in (MANIFEST_NAME, SIDECAR_NAME):
            want = record.get(entry.name)
            if want is None:
                raise IntegrityError(f"{where}: not in the bundle's SHA256 record")
        head, _, _ = entry.name.rpartition("/")
        if head:
            ensure_dir(head)
        digest = hashlib.sha256() if want is not None else None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(root / entry.name, flags, 0o600)
        except FileExistsError:
            raise UnsafeArchiveError(f"{where}: collides with another entry") from None
        with os.fdopen(fd, "wb") as out:
            # the SHA256 record, when it covers this file, makes the CRC-32 redundant
            for chunk in bundle.stream(entry.name, check_crc=want is None):
                total += len(chunk)
                if total > bundle.limits.max_total_size:
                    raise UnsafeArchiveError(f"{where}: total size passes the limit")
                if digest is not None:
                    digest.update(chunk)
                out.write(chunk)
            os.fchmod(fd, EXEC_MODE if entry.is_executable else FILE_MODE)
        count += 1
        if digest is not None and (got := digest.hexdigest()) != want:
            raise IntegrityError(f"{where}: SHA256 mismatch: record says {want}, got {got}")
    return ExtractResult(
        dest=dest,
        file_count=count,
        total_size=total,
        verified=record is not None,
        meta=bundle.meta,
        manifest_data=bundle.manifest_data,
    )
