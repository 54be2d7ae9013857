"""Byte-reproducible, streaming, atomic zip writing for bundles.

The same inputs give the same bytes on any machine with the same zlib:

- entries are sorted by name (code point order); ``manifest.json`` and our sidecar always come
  last (see :func:`entry_order`), so a packer can hash every file while writing it and emit the
  manifest carrying those digests afterwards, reading each file once;
- every timestamp is one fixed instant: ``SOURCE_DATE_EPOCH`` when set, else
  :data:`DEFAULT_EPOCH` (1980-01-01 00:00:00). It is read as UTC, clamped to the range a zip
  can hold (1980-01-01 .. 2107-12-31) and rounded *down* to an even second, because DOS time
  stores seconds / 2;
- modes are 0644 or 0755 only (the exec bit comes from the source file or
  :attr:`Entry.executable`), stored as a regular file (``S_IFREG``) with ``create_system`` Unix,
  so umask, uid/gid and mtimes never leak in;
- there are no directory entries: directories are implied by file paths. The reference CLI
  writes none either and its ``unpack`` cannot handle them, and leaving them out removes one
  more thing (directory modes and order) that could vary between machines;
- file data is streamed in 1 MiB chunks, so memory stays bounded however large the tree; the
  deflate stream does not depend on how the input was split (a test checks it), only on the
  level and the zlib implementation (zlib-ng, for one, produces different bytes).

The archive is written to a temporary file in the destination directory and renamed into place
only when complete; on any error the temporary file is removed and the destination untouched.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import os
import re
import stat
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mcpb.bundle.atomic import atomic_output
from mcpb.bundle.digest import sha256_file
from mcpb.bundle.errors import ArchiveError, UsageError

MANIFEST_NAME = "manifest.json"
# Kept here (not in meta.py) so the entry order below needs no import cycle.
SIDECAR_NAME = ".mcpb-toolchain.json"

CHUNK = 1 << 20
DEFAULT_EPOCH = 315_532_800  # 1980-01-01T00:00:00Z, the earliest instant a zip can store
_MIN_EPOCH = DEFAULT_EPOCH
_MAX_EPOCH = 4_354_819_198  # 2107-12-31T23:59:58Z, the latest
FILE_MODE = 0o644
EXEC_MODE = 0o755
_DRIVE = re.compile(r"[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NAME_BYTES = 0xFFFF


@dataclass(frozen=True)
class Entry:
    """One file to store: ``name`` is its posix path inside the archive.

    Exactly one of ``source`` (a file streamed from disk) and ``data`` (bytes in memory) is set.
    The stored mode is 0755 when ``executable`` is true or the source file has any exec bit.
    """

    name: str
    source: Path | None = None
    data: bytes | None = None
    executable: bool = False

    @classmethod
    def from_file(cls, name: str, source: Path, *, executable: bool = False) -> Entry:
        return cls(name=name, source=source, executable=executable)

    @classmethod
    def from_bytes(cls, name: str, data: bytes, *, executable: bool = False) -> Entry:
        return cls(name=name, data=data, executable=executable)


@dataclass(frozen=True)
class ArchiveInfo:
    """What was written: ``compressed_size`` is the size of the archive file itself."""

    path: Path
    sha256: str
    file_count: int
    uncompressed_size: int
    compressed_size: int


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe member path, or ``None`` when it is.

    Shared by the writer (refuse to create such archives) and the reader (refuse to extract):
    absolute paths, drive letters, backslashes, NUL and other control characters, empty, ``.``
    or ``..`` components, and names that are not valid UTF-8 or too long for a zip.
    """
    if not name:
        return "empty name"
    if _CONTROL.search(name):
        return "control character (NUL, newline...) in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE.match(name):
        return "drive letter in name"
    parts = name.split("/")
    if any(p == ".." for p in parts):
        return "'..' in path"
    if any(p in ("", ".") for p in parts):
        return "empty or '.' path component"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8"
    if len(encoded) > _MAX_NAME_BYTES:
        return "name too long"
    return None


def entry_order(name: str) -> tuple[int, str]:
    """Sort key: files by name, then the sidecar, then ``manifest.json`` last."""
    if name == MANIFEST_NAME:
        return (2, name)
    if name == SIDECAR_NAME:
        return (1, name)
    return (0, name)


def resolve_epoch(epoch: int | None = None) -> int:
    """The timestamp to stamp: ``epoch``, else ``SOURCE_DATE_EPOCH``, else the default; clamped."""
    if epoch is None:
        raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
        if raw:
            try:
                epoch = int(raw)
            except ValueError:
                raise UsageError(f"SOURCE_DATE_EPOCH: not an integer: {raw!r}") from None
        else:
            epoch = DEFAULT_EPOCH
    return min(max(epoch, _MIN_EPOCH), _MAX_EPOCH)


def _date_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(epoch)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2)


def date_time_epoch(date_time: tuple[int, int, int, int, int, int]) -> int:
    """Inverse of the stamping: a zip ``date_time`` read back as UTC seconds."""
    return calendar.timegm((*date_time, 0, 0, 0))


class ArchiveWriter:
    """Adds entries one by one to an open archive; use :func:`open_archive` to get one.

    Entries are written in the order added; the caller sorts (``write_archive`` does).
    """

    def __init__(self, zf: zipfile.ZipFile, out: Path, epoch: int, compresslevel: int) -> None:
        self._zf = zf
        self._out = out
        self._date_time = _date_time(epoch)
        self._level = compresslevel
        self._names: set[str] = set()
        self._dirs: set[str] = set()
        self.file_count = 0
        self.uncompressed_size = 0

    def _claim(self, name: str) -> None:
        problem = name_problem(name)
        if problem is not None:
            raise ArchiveError(f"{self._out}: entry {name!r}: {problem}")
        if name in self._names:
            raise ArchiveError(f"{self._out}: entry {name!r}: duplicate name")
        if name in self._dirs:
            raise ArchiveError(f"{self._out}: entry {name!r}: also a directory of another entry")
        parts = name.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in self._names:
                raise ArchiveError(f"{self._out}: entry {name!r}: {prefix!r} is a file")
            self._dirs.add(prefix)
        self._names.add(name)

    def add(self, entry: Entry) -> str:
        """Store one entry, streaming its data; return the SHA256 of its content."""
        self._claim(entry.name)
        if (entry.source is None) == (entry.data is None):
            raise ArchiveError(f"{self._out}: entry {entry.name!r}: needs one of source or data")
        if entry.data is not None:
            return self._write(entry.name, entry.executable, len(entry.data), [entry.data])
        assert entry.source is not None
        with _open_regular(entry.source, entry.name) as (f, st):
            executable = entry.executable or bool(st.st_mode & 0o111)
            return self._write(entry.name, executable, st.st_size, _chunks(f), entry.source)

    def _write(
        self,
        name: str,
        executable: bool,
        size: int,
        chunks: Iterable[bytes],
        source: Path | None = None,
    ) -> str:
        info = zipfile.ZipInfo(name, self._date_time)
        info.create_system = 3  # Unix, so readers honour the mode bits
        info.external_attr = (stat.S_IFREG | (EXEC_MODE if executable else FILE_MODE)) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size = size  # lets zipfile choose zip64 up front
        if sys.version_info >= (3, 13):
            info.compress_level = self._level
        else:
            setattr(info, "_compresslevel", self._level)  # noqa: B010 (untyped before 3.13)
        digest = hashlib.sha256()
        written = 0
        with self._zf.open(info, "w") as dst:
            for chunk in chunks:
                written += len(chunk)
                if written > size:
                    break
                digest.update(chunk)
                dst.write(chunk)
        if written != size:
            where = source if source is not None else name
            raise ArchiveError(f"{where}: changed size while being packed")
        self.file_count += 1
        self.uncompressed_size += size
        return digest.hexdigest()


@contextlib.contextmanager
def _open_regular(path: Path, name: str) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """Open a source for reading, refusing anything but a regular file (never block on a FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ArchiveError(f"{path}: not a regular file (entry {name!r})")
    with os.fdopen(fd, "rb") as f:
        yield f, st


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


@contextlib.contextmanager
def open_archive(
    out: Path, *, epoch: int | None = None, compresslevel: int = 6
) -> Iterator[ArchiveWriter]:
    """Yield a writer for a new archive at ``out``; it appears there only if the block succeeds."""
    if not 0 <= compresslevel <= 9:
        raise UsageError(f"compresslevel must be 0..9, got {compresslevel}")
    stamp = resolve_epoch(epoch)
    try:
        with (
            atomic_output(out) as f,
            zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf,
        ):
            yield ArchiveWriter(zf, out, stamp, compresslevel)
    except OSError as exc:
        raise ArchiveError(f"{out}: write failed ({exc.strerror or exc})") from exc
    except (zipfile.LargeZipFile, ValueError) as exc:
        raise ArchiveError(f"{out}: write failed ({exc})") from exc


def write_archive(
    entries: Iterable[Entry], out: Path, *, epoch: int | None = None, compresslevel: int = 6
) -> ArchiveInfo:
    """Write ``entries`` as a reproducible zip at ``out`` (see the module docstring)."""
    ordered = sorted(entries, key=lambda e: entry_order(e.name))
    with open_archive(out, epoch=epoch, compresslevel=compresslevel) as writer:
        for entry in ordered:
            writer.add(entry)
    return finish_info(out, writer)


def finish_info(out: Path, writer: ArchiveWriter) -> ArchiveInfo:
    """Describe a finished archive; the SHA256 is computed from the file just written."""
    return ArchiveInfo(
        path=out,
        sha256=sha256_file(out),
        file_count=writer.file_count,
        uncompressed_size=writer.uncompressed_size,
        compressed_size=out.stat().st_size,
    )
