"""A corpus of hostile and broken bundles, generated on demand.

Each case is a real file on disk plus what a reader must say about it: the exact error class and
a string the one-line message must contain (the entry at fault, or the bundle when no single entry
is). Most archives are assembled byte by byte with :func:`raw_zip`, because well-behaved zip
libraries refuse to write what an attacker would. Reused by the library tests and the CLI tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mcpb.bundle.archive import Entry, write_archive
from mcpb.bundle.errors import (
    ArchiveError,
    IntegrityError,
    McpbError,
    SignatureError,
    UnsafeArchiveError,
)
from mcpb.bundle.extract import Limits
from mcpb.bundle.meta import META_KEY
from mcpb.bundle.sigblock import FOOTER, HEADER

MANIFEST: dict[str, object] = {
    "manifest_version": "0.3",
    "name": "hostile",
    "version": "1.0.0",
    "description": "a bundle that should never be extracted",
    "author": {"name": "mallory"},
    "server": {
        "type": "python",
        "entry_point": "server.py",
        "mcp_config": {"command": "python", "args": ["${__dirname}/server.py"]},
    },
}
MANIFEST_BYTES = json.dumps(MANIFEST).encode()
_DOS_TIME, _DOS_DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00:00


@dataclass(frozen=True)
class RawMember:
    """One member of a hand-made zip; every field an attacker controls can be set."""

    name: str | bytes
    data: bytes = b""
    method: int = zipfile.ZIP_DEFLATED
    mode: int = 0o100644
    declared_size: int | None = None  # lie about the uncompressed size
    crc: int | None = None  # lie about the CRC-32
    payload: bytes | None = None  # the stored bytes, instead of compressing ``data``
    flags: int = 0
    local_name: str | bytes | None = None  # a different name in the local header
    offset: int | None = None  # point the central directory elsewhere (overlaps)
    listed: bool = True  # False: a local entry the central directory does not list (hidden)


def _b(name: str | bytes) -> bytes:
    return name.encode("utf-8") if isinstance(name, str) else name


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def raw_zip(members: Sequence[RawMember], *, comment: bytes = b"") -> bytes:
    """A zip built byte by byte: local headers, central directory, end record (zip64 end
    records only when there are more than 65,535 members)."""
    body = bytearray()
    central = bytearray()
    for m in members:
        name = _b(m.name)
        flags = m.flags | (0x800 if any(c > 127 for c in name) else 0)
        if m.payload is not None:
            payload = m.payload
        else:
            payload = deflate(m.data) if m.method == zipfile.ZIP_DEFLATED else m.data
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        size = len(m.data) if m.declared_size is None else m.declared_size
        offset = len(body)
        local_name = name if m.local_name is None else _b(m.local_name)
        body += struct.pack(
            "<4s5H3I2H",
            b"PK\x03\x04",
            20,
            flags,
            m.method,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            len(payload),
            size,
            len(local_name),
            0,
        )
        body += local_name + payload
        if not m.listed:
            continue
        central += struct.pack(
            "<4s6H3I5H2I",
            b"PK\x01\x02",
            (3 << 8) | 20,
            20,
            flags,
            m.method,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            len(payload),
            size,
            len(name),
            0,
            0,
            0,
            0,
            (m.mode << 16) & 0xFFFFFFFF,
            offset if m.offset is None else m.offset,
        )
        central += name
    count = sum(1 for m in members if m.listed)
    zip64 = b""
    if count > 0xFFFF:  # zip64 end records carry the real count
        at = len(body) + len(central)
        zip64 = struct.pack(
            "<4sQ2H2I4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), len(body)
        ) + struct.pack("<4sIQI", b"PK\x06\x07", 0, at, 1)
        count = 0xFFFF
    end = zip64 + struct.pack(
        "<4s4H2IH",
        b"PK\x05\x06",
        0,
        0,
        count,
        count,
        len(central),
        len(body),
        len(comment),
    )
    return bytes(body + central + end + comment)


def manifest_member() -> RawMember:
    return RawMember("manifest.json", MANIFEST_BYTES)


@dataclass(frozen=True)
class HostileCase:
    """A generated bundle and the verdict a safe reader must reach."""

    name: str
    path: Path
    error: type[McpbError]
    needle: str  # must appear in the message: repr of the entry, or the bundle's file name
    limits: Limits = field(default_factory=Limits)


Builder = Callable[[Path], HostileCase]
CASES: dict[str, Builder] = {}


def case(fn: Builder) -> Builder:
    CASES[fn.__name__] = fn
    return fn


def _raw_case(
    directory: Path,
    label: str,
    members: Sequence[RawMember],
    error: type[McpbError],
    entry: str | None,
    limits: Limits | None = None,
) -> HostileCase:
    path = directory / f"{label}.mcpb"
    path.write_bytes(raw_zip([*members, manifest_member()]))
    needle = repr(entry) if entry is not None else path.name
    return HostileCase(label, path, error, needle, limits or Limits())


def _single(label: str, member: RawMember, error: type[McpbError] = UnsafeArchiveError) -> Builder:
    def build(directory: Path) -> HostileCase:
        name = member.name if isinstance(member.name, str) else member.name.decode()
        return _raw_case(directory, label, [member], error, name)

    build.__name__ = label
    return case(build)


_single("traversal", RawMember("../evil.txt", b"pwned"))
_single("traversal_nested", RawMember("pkg/../../evil.txt", b"pwned"))
_single("traversal_dir_entry", RawMember("../evil/", b"", mode=0o040755))
_single("absolute_path", RawMember("/tmp/evil.txt", b"pwned"))
_single("backslash", RawMember("..\\..\\evil.txt", b"pwned"))
_single("drive_letter", RawMember("C:/evil.txt", b"pwned"))
_single("nul_in_name", RawMember("evil\x00.txt", b"pwned"))
_single("symlink_escape", RawMember("link", b"../../../../etc/passwd", mode=0o120777))
_single("symlink_inside", RawMember("link", b"server.py", mode=0o120777))
_single("char_device", RawMember("tty", b"", mode=0o020666))
_single("block_device", RawMember("sda", b"", mode=0o060660))
_single("fifo", RawMember("pipe", b"", mode=0o010644))
_single("socket", RawMember("sock", b"", mode=0o140755))
_single("encrypted", RawMember("secret.txt", b"x", flags=0x1), ArchiveError)
_single("unsupported_method", RawMember("a.bz2", b"x", method=12, payload=b"x"), ArchiveError)
_single("corrupt_crc", RawMember("server.py", b"print('hi')\n" * 50, crc=0x1234), ArchiveError)
_single("corrupt_deflate", RawMember("server.py", b"x" * 100, payload=b"\xff" * 40), ArchiveError)
_single("size_too_small", RawMember("server.py", b"abc" * 10, declared_size=1000), ArchiveError)
_single(
    "local_name_mismatch", RawMember("server.py", b"x", local_name="../evil.py"), UnsafeArchiveError
)

BOMB_SIZE = 16 << 20


@case
def bomb_ratio(directory: Path) -> HostileCase:
    """16 MiB of zeros deflate to ~16 KiB: a ratio far past any real file."""
    return _raw_case(
        directory,
        "bomb_ratio",
        [RawMember("zeros.bin", bytes(BOMB_SIZE))],
        UnsafeArchiveError,
        "zeros.bin",
    )


@case
def bomb_lying_header(directory: Path) -> HostileCase:
    """Declares 100 bytes (ratio looks harmless) but inflates to 16 MiB."""
    payload = deflate(bytes(BOMB_SIZE))
    member = RawMember("small.txt", bytes(100), payload=payload, declared_size=100)
    return _raw_case(directory, "bomb_lying_header", [member], UnsafeArchiveError, "small.txt")


@case
def bomb_overlap(directory: Path) -> HostileCase:
    """Two central directory entries sharing one local file (the overlapping-files bomb)."""
    data = b"A" * 4000
    members = [RawMember("a.txt", data), RawMember("b.txt", data, local_name="a.txt", offset=0)]
    return _raw_case(directory, "bomb_overlap", members, UnsafeArchiveError, "a.txt")


@case
def hidden_entry(directory: Path) -> HostileCase:
    """A local entry between two listed ones that the central directory does not list."""
    members = [
        RawMember("server.py", GOOD),
        RawMember("evil.py", b"import os; os.system('id')\n", listed=False),
    ]  # the manifest follows
    return _raw_case(directory, "hidden_entry", members, UnsafeArchiveError, "manifest.json")


@case
def hidden_tail(directory: Path) -> HostileCase:
    """An unlisted local entry after the last listed one, before the central directory."""
    path = directory / "hidden_tail.mcpb"
    members = [
        RawMember("server.py", GOOD),
        manifest_member(),
        RawMember("evil.py", b"print('hidden')\n", listed=False),
    ]
    path.write_bytes(raw_zip(members))
    return HostileCase("hidden_tail", path, UnsafeArchiveError, "before the central directory")


@case
def prepended_bytes(directory: Path) -> HostileCase:
    """Bytes before the first local header (a self-extractor stub, or anything)."""
    path = directory / "prepended_bytes.mcpb"
    stub = b"#!/bin/sh\necho hi\nexit 0\n"
    path.write_bytes(stub + raw_zip([RawMember("s.py", GOOD), manifest_member()]))
    return HostileCase("prepended_bytes", path, UnsafeArchiveError, "before the archive")


@case
def prepended_archive(directory: Path) -> HostileCase:
    """A whole second archive in front: one file, two different archives to two readers."""
    path = directory / "prepended_archive.mcpb"
    first = raw_zip([RawMember("evil.py", b"print('first')\n"), manifest_member()])
    second = raw_zip([RawMember("server.py", GOOD), manifest_member()])
    path.write_bytes(first + second)
    return HostileCase("prepended_archive", path, UnsafeArchiveError, "before the archive")


@case
def too_many_entries(directory: Path) -> HostileCase:
    members = [RawMember(f"f{i}.txt", b"", method=zipfile.ZIP_STORED) for i in range(60)]
    return _raw_case(
        directory, "too_many_entries", members, UnsafeArchiveError, None, Limits(max_entries=50)
    )


@case
def too_many_entries_default(directory: Path) -> HostileCase:
    """Past the default limit of 100,000 entries, counted before the directory is parsed."""
    path = directory / "too_many_entries_default.mcpb"
    empty = [RawMember(f"f/{i}", method=zipfile.ZIP_STORED) for i in range(100_001)]
    path.write_bytes(raw_zip([*empty, manifest_member()]))
    return HostileCase("too_many_entries_default", path, UnsafeArchiveError, path.name)


@case
def total_too_large(directory: Path) -> HostileCase:
    members = [RawMember(f"blob{i}.bin", os.urandom(300_000)) for i in range(4)]
    return _raw_case(
        directory,
        "total_too_large",
        members,
        UnsafeArchiveError,
        "blob3.bin",
        Limits(max_total_size=1_000_000),
    )


@case
def entry_too_large(directory: Path) -> HostileCase:
    members = [RawMember("big.bin", os.urandom(600_000))]
    return _raw_case(
        directory,
        "entry_too_large",
        members,
        UnsafeArchiveError,
        "big.bin",
        Limits(max_entry_size=500_000),
    )


@case
def duplicate_entry(directory: Path) -> HostileCase:
    members = [RawMember("server.py", b"good"), RawMember("server.py", b"evil")]
    return _raw_case(directory, "duplicate_entry", members, UnsafeArchiveError, "server.py")


@case
def file_and_directory(directory: Path) -> HostileCase:
    members = [RawMember("pkg", b"a file"), RawMember("pkg/mod.py", b"x")]
    return _raw_case(directory, "file_and_directory", members, UnsafeArchiveError, "pkg/mod.py")


def _valid(
    directory: Path, label: str, files: dict[str, bytes], manifest: dict[str, object]
) -> Path:
    path = directory / f"{label}.mcpb"
    entries = [Entry.from_bytes(n, d) for n, d in files.items()]
    entries.append(Entry.from_bytes("manifest.json", json.dumps(manifest).encode()))
    write_archive(entries, path)
    return path


def _with_record(record: dict[str, str]) -> dict[str, object]:
    return {**MANIFEST, "_meta": {META_KEY: {"platform": "linux/amd64", "files": record}}}


GOOD = b"print('hello')\n"
WRONG_SHA = "ab" * 32  # well-formed, but nobody's digest here


@case
def record_wrong_digest(directory: Path) -> HostileCase:
    record = {"server.py": WRONG_SHA}
    path = _valid(directory, "record_wrong_digest", {"server.py": GOOD}, _with_record(record))
    return HostileCase("record_wrong_digest", path, IntegrityError, repr("server.py"))


@case
def record_missing_file(directory: Path) -> HostileCase:
    record = {"server.py": hashlib.sha256(GOOD).hexdigest(), "gone.py": WRONG_SHA}
    path = _valid(directory, "record_missing_file", {"server.py": GOOD}, _with_record(record))
    return HostileCase("record_missing_file", path, IntegrityError, repr("gone.py"))


@case
def record_unlisted_file(directory: Path) -> HostileCase:
    record = {"server.py": hashlib.sha256(GOOD).hexdigest()}
    files = {"server.py": GOOD, "extra.py": b"import os\n"}
    path = _valid(directory, "record_unlisted_file", files, _with_record(record))
    return HostileCase("record_unlisted_file", path, IntegrityError, repr("extra.py"))


def _mutate(directory: Path, label: str, change: Callable[[bytes], bytes]) -> Path:
    path = directory / f"{label}.mcpb"
    good = raw_zip([RawMember("server.py", GOOD * 20), manifest_member()])
    path.write_bytes(change(good))
    return path


@case
def truncated(directory: Path) -> HostileCase:
    path = _mutate(directory, "truncated", lambda b: b[: len(b) // 2])
    return HostileCase("truncated", path, ArchiveError, path.name)


@case
def truncated_tail(directory: Path) -> HostileCase:
    path = _mutate(directory, "truncated_tail", lambda b: b[:-5])
    return HostileCase("truncated_tail", path, ArchiveError, path.name)


@case
def trailing_garbage(directory: Path) -> HostileCase:
    path = _mutate(directory, "trailing_garbage", lambda b: b + b"#!/bin/sh\nrm -rf /\n")
    return HostileCase("trailing_garbage", path, ArchiveError, path.name)


@case
def not_a_zip(directory: Path) -> HostileCase:
    path = directory / "not_a_zip.mcpb"
    path.write_bytes(b"\x7fELF" + os.urandom(2000))
    return HostileCase("not_a_zip", path, ArchiveError, path.name)


@case
def empty_file(directory: Path) -> HostileCase:
    path = directory / "empty_file.mcpb"
    path.write_bytes(b"")
    return HostileCase("empty_file", path, ArchiveError, path.name)


@case
def garbage_signature(directory: Path) -> HostileCase:
    """A signature block whose declared length does not reach its footer."""
    block = HEADER + struct.pack("<I", 5000) + os.urandom(64) + FOOTER
    path = _mutate(directory, "garbage_signature", lambda b: b + block)
    return HostileCase("garbage_signature", path, SignatureError, path.name)


@case
def no_manifest(directory: Path) -> HostileCase:
    path = directory / "no_manifest.mcpb"
    path.write_bytes(raw_zip([RawMember("server.py", GOOD)]))
    return HostileCase("no_manifest", path, ArchiveError, "manifest.json")


@case
def manifest_not_json(directory: Path) -> HostileCase:
    path = directory / "manifest_not_json.mcpb"
    path.write_bytes(raw_zip([RawMember("manifest.json", b'{"name": "x",\n  oops}')]))
    return HostileCase(
        "manifest_not_json", path, ArchiveError, "manifest.json: invalid JSON at line 2"
    )


@case
def manifest_not_object(directory: Path) -> HostileCase:
    path = directory / "manifest_not_object.mcpb"
    path.write_bytes(raw_zip([RawMember("manifest.json", b"[1, 2]")]))
    return HostileCase("manifest_not_object", path, ArchiveError, "manifest.json")


def build_all(directory: Path, names: Sequence[str] | None = None) -> list[HostileCase]:
    """Generate every case (or the named ones) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    return [CASES[n](directory) for n in (names or sorted(CASES))]
