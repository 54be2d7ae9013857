"""Opening a bundle: the validated central directory, the manifest, our data, entry streams.

A bundle is hostile until checked. :func:`open_bundle` validates the whole central directory
before any byte is inflated: names (see :func:`mcpb.bundle.archive.name_problem`), entry types,
duplicates, declared sizes and ratios, overlapping data. Inflation is done here rather than by
:mod:`zipfile` so the real output is counted: an entry that inflates past its declared size is
refused as soon as it does, instead of being silently cut at the declared size.

Decisions:

- Symbolic link entries are refused outright, even ones pointing inside the bundle. Our writer
  never stores links and the reference CLI follows links when packing, so a link in a bundle
  comes from elsewhere; proving a link harmless needs the whole tree (a later entry can write
  through an earlier directory link), and refusing costs legitimate bundles nothing.
- Device, FIFO and socket entries are refused. Entries without a file type in their mode (the
  reference CLI stores permission bits only; DOS tools store nothing) are regular files, or
  directories when the name ends in ``/``.
- Exact duplicate names are refused; names differing only in case are allowed (see
  :mod:`mcpb.bundle.extract` for how extraction stays safe on case-insensitive file systems).
- Only stored and deflated entries are read; encrypted entries are refused.
- The archive must be exactly what its central directory describes, so that one file cannot
  read as two different archives to two readers: the end-of-central-directory record ends the
  zip (trailing bytes are refused), the first local header is at offset 0 (nothing prepended,
  not even a whole second archive), and the local entries follow one another without gaps up
  to the central directory (no entry hidden where the directory does not look).

Signed bundles: the signature block (``mcpb.bundle.sigblock``) is cut off by reading the zip
through a view of its first ``zip_length`` bytes, so bundles signed by us (end-of-central-
directory comment length covering the block) and by the reference CLI (length not updated)
both open. A :class:`Bundle` is not thread-safe (one file position).
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from mcpb.bundle.archive import MANIFEST_NAME, SIDECAR_NAME, name_problem
from mcpb.bundle.errors import ArchiveError, UnsafeArchiveError
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object
from mcpb.bundle.meta import BundleMeta, read_meta
from mcpb.bundle.sigblock import SignatureBlock, find_block

CHUNK = 1 << 20
MAX_MANIFEST = 16 << 20
_EOCD = b"PK\x05\x06"
_LOCAL = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
_DESCRIPTOR = b"PK\x07\x08"
_MIN_CD_ENTRY = 46


@dataclass(frozen=True)
class Limits:
    """Bounds on what a bundle may expand to.

    Ratios (uncompressed / compressed, per entry and for the whole archive) are only checked
    above ``ratio_floor`` bytes: small files of zeros compress a thousandfold legitimately.
    """

    max_entries: int = 100_000
    max_total_size: int = 4 << 30
    max_entry_size: int = 2 << 30
    max_ratio: int = 200
    ratio_floor: int = 1 << 20


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class EntryInfo:
    """One member as the central directory declares it (``mode``: permission bits stored)."""

    name: str
    size: int
    compressed_size: int
    mode: int
    is_executable: bool
    is_dir: bool


class _View(io.RawIOBase):
    """A read-only window onto the first ``length`` bytes of a file."""

    def __init__(self, f: BinaryIO, length: int) -> None:
        super().__init__()
        self._f = f
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._length}[whence]
        self._pos = max(0, min(base + offset, self._length))
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        left = self._length - self._pos
        n = left if size is None or size < 0 else min(size, left)
        if n <= 0:
            return b""
        self._f.seek(self._pos)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class Bundle:
    """An open, validated bundle; use as a context manager (see :func:`open_bundle`)."""

    def __init__(self, path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = path
        self.limits = limits
        self.source = str(path)
        try:
            self._file: BinaryIO = path.open("rb")
        except OSError as exc:
            raise ArchiveError(f"{path}: cannot open ({exc.strerror})") from None
        try:
            self._open()
        except BaseException:
            self._file.close()
            raise

    def _open(self) -> None:
        size = os.fstat(self._file.fileno()).st_size
        self.signature: SignatureBlock | None = find_block(self._file, size, source=self.source)
        self.zip_length = self.signature.zip_length if self.signature else size
        self._view = _View(self._file, self.zip_length)
        self._check_end_record()
        try:
            self._zip = zipfile.ZipFile(self._view)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            raise ArchiveError(f"{self.source}: not a readable zip ({exc})") from None
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self.entries: list[EntryInfo] = self._check_entries(self._zip.infolist())
        if MANIFEST_NAME not in self._infos:
            raise ArchiveError(f"{self.source}: no {MANIFEST_NAME} at the archive root")
        self.manifest_data: dict[str, Any] = self._read_manifest()
        sidecar = self.read(SIDECAR_NAME) if SIDECAR_NAME in self._infos else None
        self.meta: BundleMeta | None = read_meta(self.manifest_data, sidecar, source=self.source)

    def _check_end_record(self) -> None:
        """The end-of-central-directory record must end the zip: no trailing bytes, count in
        bounds (checked before :mod:`zipfile` parses the central directory into memory)."""
        tail_len = min(self.zip_length, 0xFFFF + 22)
        self._view.seek(self.zip_length - tail_len)
        tail = self._view.read(tail_len)
        at = tail.rfind(_EOCD)
        if at < 0 or at + 22 > len(tail):
            raise ArchiveError(f"{self.source}: not a zip, or truncated (no end record)")
        _, _, _, count, cd_size, cd_offset, comment_len = struct.unpack_from("<4H2IH", tail, at + 4)
        self._cd_offset = cd_offset
        end = self.zip_length - tail_len + at + 22 + comment_len
        allowed = {self.zip_length}
        if self.signature is not None:
            allowed.add(self.signature.end)
        if end not in allowed:
            raise ArchiveError(
                f"{self.source}: unexpected bytes after the zip (truncated or corrupt)"
            )
        eocd_at = self.zip_length - tail_len + at
        if count == 0xFFFF and eocd_at >= 20:
            count = self._zip64_count(eocd_at)
        max_entries = self.limits.max_entries
        if count > max_entries:
            raise UnsafeArchiveError(
                f"{self.source}: {count} entries, more than the limit of {max_entries}"
            )
        if cd_size != 0xFFFFFFFF and cd_size > max_entries * (_MIN_CD_ENTRY + 0xFFFF):
            raise UnsafeArchiveError(
                f"{self.source}: central directory too large ({cd_size} bytes)"
            )

    def _zip64_count(self, eocd_at: int) -> int:
        """The entry count from the zip64 end record, found through its locator."""
        self._view.seek(eocd_at - 20)
        locator = self._view.read(20)
        if not locator.startswith(b"PK\x06\x07"):
            return 0xFFFF
        (record_at,) = struct.unpack_from("<Q", locator, 8)
        self._view.seek(record_at)
        record = self._view.read(56)
        if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
            raise ArchiveError(f"{self.source}: zip64 end record missing (truncated or corrupt)")
        (count,) = struct.unpack_from("<Q", record, 32)
        (self._cd_offset,) = struct.unpack_from("<Q", record, 48)
        return int(count)

    def _check_entries(self, infos: list[zipfile.ZipInfo]) -> list[EntryInfo]:
        lim = self.limits
        if len(infos) > lim.max_entries:
            raise UnsafeArchiveError(
                f"{self.source}: {len(infos)} entries, more than the limit of {lim.max_entries}"
            )
        entries: list[EntryInfo] = []
        files: set[str] = set()
        dirs: set[str] = set()
        total = 0
        for info in infos:
            entry = self._check_entry(info)
            where = f"{self.source}: entry {entry.name!r}"
            if entry.name in self._infos:
                raise UnsafeArchiveError(f"{where}: duplicate entry")
            parts = entry.name.split("/")
            for i in range(1, len(parts)):
                prefix = "/".join(parts[:i])
                if prefix in files:
                    raise UnsafeArchiveError(f"{where}: {prefix!r} is a file")
                dirs.add(prefix)
            if entry.is_dir:
                if entry.name in files:
                    raise UnsafeArchiveError(f"{where}: also a file")
                dirs.add(entry.name)
            else:
                if entry.name in dirs:
                    raise UnsafeArchiveError(f"{where}: also a directory")
                files.add(entry.name)
            total += entry.size
            if total > lim.max_total_size:
                raise UnsafeArchiveError(
                    f"{where}: total uncompressed size passes the limit of {lim.max_total_size}"
                )
            self._infos[entry.name] = info
            entries.append(entry)
        if total > lim.ratio_floor and total > lim.max_ratio * max(self.zip_length, 1):
            raise UnsafeArchiveError(
                f"{self.source}: expands {total // max(self.zip_length, 1)}x, "
                f"more than the limit of {lim.max_ratio}x (zip bomb?)"
            )
        self._check_layout(infos)
        return entries

    def _check_entry(self, info: zipfile.ZipInfo) -> EntryInfo:
        raw = info.orig_filename
        is_dir = raw.endswith("/")
        name = raw[:-1] if is_dir else raw
        where = f"{self.source}: entry {raw!r}"
        problem = name_problem(name)
        if problem is not None:
            raise UnsafeArchiveError(f"{where}: {problem}")
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise UnsafeArchiveError(f"{where}: symbolic links are not allowed")
        if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
            raise UnsafeArchiveError(f"{where}: device, FIFO or socket entry")
        expected = stat.S_IFDIR if is_dir else stat.S_IFREG
        if kind not in (0, expected):  # 0: no type stored (the reference CLI, DOS tools)
            raise UnsafeArchiveError(f"{where}: unsupported file type {oct(kind)}")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{where}: encrypted entries are not supported")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveError(f"{where}: unsupported compression method {info.compress_type}")
        lim = self.limits
        if is_dir and info.file_size:
            raise UnsafeArchiveError(f"{where}: directory entry with content")
        if info.file_size > lim.max_entry_size:
            raise UnsafeArchiveError(
                f"{where}: {info.file_size} bytes, more than the limit of {lim.max_entry_size}"
            )
        if info.file_size > lim.ratio_floor and info.file_size > lim.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            raise UnsafeArchiveError(
                f"{where}: compression ratio {ratio}x passes the limit of {lim.max_ratio}x "
                "(zip bomb?)"
            )
        perms = mode & 0o7777
        return EntryInfo(
            name=name,
            size=info.file_size,
            compressed_size=info.compress_size,
            mode=perms,
            is_executable=bool(perms & 0o111),
            is_dir=is_dir,
        )

    def _check_layout(self, infos: list[zipfile.ZipInfo]) -> None:
        """The local entries tile the file from offset 0 to the central directory.

        Overlapping data is the shape of non-recursive zip bombs; bytes before the first entry
        (a prepended archive, a self-extractor stub) or in a gap between entries are what
        makes one file read differently to different readers. All three are refused.
        """
        start_dir = self._zip.start_dir
        if start_dir != self._cd_offset:
            raise UnsafeArchiveError(
                f"{self.source}: {start_dir - self._cd_offset} bytes before the archive "
                "(prepended data or a second archive)"
            )
        at = 0
        before: zipfile.ZipInfo | None = None
        for info in sorted(infos, key=lambda i: i.header_offset):
            if info.header_offset < at and before is not None:
                raise UnsafeArchiveError(
                    f"{self.source}: entry {before.orig_filename!r} overlaps entry "
                    f"{info.orig_filename!r} (zip bomb?)"
                )
            if info.header_offset > at:
                raise UnsafeArchiveError(
                    f"{self.source}: {info.header_offset - at} unlisted bytes before entry "
                    f"{info.orig_filename!r} (hidden data)"
                )
            at = self._entry_end(info)
            before = info
        if at > start_dir:
            raise ArchiveError(
                f"{self.source}: the last entry runs into the central directory (corrupt)"
            )
        if at < start_dir:
            raise UnsafeArchiveError(
                f"{self.source}: {start_dir - at} unlisted bytes before the central directory "
                "(hidden data)"
            )

    def _entry_end(self, info: zipfile.ZipInfo) -> int:
        """Where an entry's local record ends: header, name, extra, data, data descriptor."""
        view = self._view
        view.seek(info.header_offset)
        header = view.read(_LOCAL_HEADER.size)
        where = f"{self.source}: entry {info.orig_filename!r}"
        if len(header) != _LOCAL_HEADER.size or not header.startswith(_LOCAL):
            raise ArchiveError(f"{where}: bad local header (truncated or corrupt)")
        fields = _LOCAL_HEADER.unpack(header)
        name_len, extra_len = fields[9], fields[10]
        end: int = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        end += info.compress_size
        if not fields[2] & 0x08:  # no data descriptor
            return end
        view.seek(info.header_offset + _LOCAL_HEADER.size + name_len)
        extra = view.read(extra_len)
        zip64 = _has_zip64_extra(extra)
        view.seek(end)
        signed = view.read(4) == _DESCRIPTOR
        return end + (4 if signed else 0) + (20 if zip64 else 12)

    def _read_manifest(self) -> dict[str, Any]:
        info = self._infos[MANIFEST_NAME]
        if info.file_size > MAX_MANIFEST:
            raise ArchiveError(
                f"{self.source}: {MANIFEST_NAME} is larger than {MAX_MANIFEST} bytes"
            )
        try:
            return parse_json_object(self.read(MANIFEST_NAME), max_size=MAX_MANIFEST)
        except JsonDocumentError as err:
            raise ArchiveError(f"{self.source}: {MANIFEST_NAME}: {err}") from None

    def names(self) -> list[str]:
        """Names of the file (not directory) entries, in archive order."""
        return [e.name for e in self.entries if not e.is_dir]

    def read(self, name: str) -> bytes:
        """The whole content of one file entry (use :meth:`stream` for large ones)."""
        return b"".join(self.stream(name))

    def stream(self, name: str, *, check_crc: bool = True) -> Iterator[bytes]:
        """Inflate one entry in bounded chunks, checking its real size and CRC-32.

        ``check_crc=False`` is for callers that check a stronger digest of the same bytes
        (extraction against the SHA256 record); sizes are always checked.
        """
        info = self._infos.get(name)
        if info is None or info.orig_filename.endswith("/"):
            raise ArchiveError(f"{self.source}: no file entry {name!r}")
        where = f"{self.source}: entry {name!r}"
        try:
            yield from self._inflate(info, where, check_crc)
        except zlib.error as exc:
            raise ArchiveError(f"{where}: corrupt compressed data ({exc})") from None
        except OSError as exc:
            raise ArchiveError(f"{where}: read failed ({exc.strerror or exc})") from None

    def _inflate(self, info: zipfile.ZipInfo, where: str, check_crc: bool) -> Iterator[bytes]:
        view = self._view
        view.seek(info.header_offset)
        header = view.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or not header.startswith(_LOCAL):
            raise ArchiveError(f"{where}: bad local header (truncated or corrupt)")
        fields = _LOCAL_HEADER.unpack(header)
        name_len, extra_len = fields[9], fields[10]
        raw_name = view.read(name_len)
        encoding = "utf-8" if fields[2] & 0x800 else "cp437"
        if raw_name.decode(encoding, "replace") != info.orig_filename:
            raise UnsafeArchiveError(f"{where}: local header names a different file")
        view.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        declared = info.file_size
        inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        left = info.compress_size
        produced = 0
        crc = 0
        done = inflater is None and left == 0
        while left > 0 and not done:
            data = view.read(min(CHUNK, left))
            if not data:
                raise ArchiveError(f"{where}: data truncated")
            left -= len(data)
            while data:
                if inflater is None:
                    out, data = data, b""
                else:
                    out = inflater.decompress(data, CHUNK)
                    data = inflater.unconsumed_tail
                produced += len(out)
                if produced > declared:
                    raise UnsafeArchiveError(
                        f"{where}: inflates past its declared size of {declared} bytes "
                        "(lying header, zip bomb?)"
                    )
                if check_crc:
                    crc = zlib.crc32(out, crc)
                if out:
                    yield out
                if inflater is not None and inflater.eof:
                    done = True
                    break
        empty = info.compress_size == 0 and declared == 0
        if inflater is not None and not inflater.eof and not empty:
            raise ArchiveError(f"{where}: compressed data truncated or corrupt")
        if produced != declared:
            raise ArchiveError(f"{where}: {produced} bytes, header declares {declared}")
        if check_crc and crc != info.CRC:
            raise ArchiveError(f"{where}: CRC-32 mismatch (corrupt archive)")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_bundle(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> Bundle:
    """Open and validate a bundle (signed or not); raises before returning anything unsafe."""
    return Bundle(Path(path), limits)


def _has_zip64_extra(extra: bytes) -> bool:
    """Whether a local header's extra field carries a zip64 record (id 0x0001)."""
    at = 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack_from("<2H", extra, at)
        if kind == 0x0001:
            return True
        at += 4 + size
    return False
