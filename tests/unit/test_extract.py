"""Reading and safely extracting well-formed bundles: ours, signed ones, other tools' zips."""

from __future__ import annotations

import os
import stat
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from mcpb.bundle.archive import Entry, write_archive
from mcpb.bundle.errors import ArchiveError, UnsafeArchiveError
from mcpb.bundle.extract import EntryInfo, Limits, open_bundle, safe_extract
from mcpb.bundle.meta import pack_bundle
from mcpb.bundle.sigblock import render_block
from tests.support.hostile import MANIFEST, MANIFEST_BYTES, RawMember, manifest_member, raw_zip

FILES = {
    "server.py": (b"print('hi')\n" * 300, False),
    "bin/tool": (b"\x7fELF" + bytes(range(256)) * 40, True),
    "lib/pkg/__init__.py": (b"", False),
    "lib/pkg/deep/er/mod.py": (b"x = 1\n", False),
    "caf\u00e9/\u65e5\u672c.txt": (b"unicode names\n", False),
}


def pack(tmp_path: Path, name: str = "b.mcpb") -> Path:
    out = tmp_path / name
    entries = [Entry.from_bytes(n, d, executable=x) for n, (d, x) in FILES.items()]
    pack_bundle(dict(MANIFEST), entries, out, platform="linux/amd64", runtime="python:3.13")
    return out


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    out: dict[str, tuple[bytes, int]] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        else:
            assert stat.S_IMODE(p.stat().st_mode) == 0o755
    return out


def test_round_trip_gives_identical_bytes_and_modes(tmp_path: Path) -> None:
    bundle = pack(tmp_path)
    old = os.umask(0o077)  # extraction modes do not depend on the umask
    try:
        result = safe_extract(bundle, tmp_path / "out")
    finally:
        os.umask(old)
    got = tree(tmp_path / "out")
    for name, (data, executable) in FILES.items():
        assert got[name] == (data, 0o755 if executable else 0o644)
    assert set(got) == {*FILES, "manifest.json"}
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert result.dest == tmp_path / "out"
    assert result.file_count == len(FILES) + 1
    assert result.total_size == sum(len(data) for data, _ in got.values())
    assert result.verified is True
    assert result.meta is not None and result.meta.platform == "linux/amd64"
    assert set(result.meta.files) == set(FILES)
    assert result.manifest_data["name"] == "hostile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.mcpb", "out"]


def test_bundle_view_of_entries_and_reads(tmp_path: Path) -> None:
    bundle = pack(tmp_path)
    with open_bundle(bundle) as b:
        by_name = {e.name: e for e in b.entries}
        assert by_name["bin/tool"] == EntryInfo(
            name="bin/tool",
            size=len(FILES["bin/tool"][0]),
            compressed_size=by_name["bin/tool"].compressed_size,
            mode=0o755,
            is_executable=True,
            is_dir=False,
        )
        assert by_name["server.py"].mode == 0o644
        assert by_name["server.py"].compressed_size < by_name["server.py"].size
        assert b.read("server.py") == FILES["server.py"][0]
        assert b"".join(b.stream("lib/pkg/__init__.py")) == b""
        assert b.manifest_data == MANIFEST | {"_meta": b.manifest_data["_meta"]}
        assert b.names()[-1] == "manifest.json"
        with pytest.raises(ArchiveError, match="no file entry 'nope'"):
            b.read("nope")


def sign_like_us(data: bytes, block: bytes) -> bytes:
    """End-of-central-directory comment length covers the block (strict readers accept it)."""
    assert data[-22:-18] == b"PK\x05\x06"
    return data[:-2] + struct.pack("<H", len(block)) + block


@pytest.mark.parametrize("style", ["ours", "reference"])
def test_signed_bundles_open_and_extract(tmp_path: Path, style: str) -> None:
    unsigned = pack(tmp_path, "u.mcpb").read_bytes()
    # A decoy end record inside the block would fool a reader that scans the whole file.
    decoy = b"PK\x05\x06 decoy" if style == "reference" else b""
    block = render_block(b"\x30\x82" + os.urandom(1500) + decoy)
    signed = tmp_path / "s.mcpb"
    data = sign_like_us(unsigned, block) if style == "ours" else unsigned + block
    signed.write_bytes(data)
    if style == "ours":
        with zipfile.ZipFile(signed) as zf:  # a strict reader opens it as is
            assert zf.testzip() is None
    with open_bundle(signed) as b:
        assert b.signature is not None
        assert b.zip_length == len(unsigned)
        assert b.signature.end == len(data)
        assert b.read("server.py") == FILES["server.py"][0]
    safe_extract(signed, tmp_path / "out")
    assert tree(tmp_path / "out")["bin/tool"] == (FILES["bin/tool"][0], 0o755)


def test_destination_must_not_exist_and_missing_parents_are_created(tmp_path: Path) -> None:
    bundle = pack(tmp_path)
    (tmp_path / "taken").mkdir()
    with pytest.raises(ArchiveError, match="taken: already exists"):
        safe_extract(bundle, tmp_path / "taken")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ArchiveError, match="already exists"):
        safe_extract(bundle, tmp_path / "link")
    safe_extract(bundle, tmp_path / "a" / "b" / "c")
    assert (tmp_path / "a/b/c/server.py").is_file()


def test_parents_created_for_a_failed_extract_are_removed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mcpb"
    bad.write_bytes(raw_zip([RawMember("../x", b"1"), manifest_member()]))
    with pytest.raises(UnsafeArchiveError):
        safe_extract(bad, tmp_path / "new" / "deeper" / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mcpb"]


def test_case_only_duplicates_and_directory_entries_from_other_tools(tmp_path: Path) -> None:
    """Other zip tools write directory entries and may store names differing only in case."""
    path = tmp_path / "other.mcpb"
    path.write_bytes(
        raw_zip(
            [
                RawMember("docs/", b"", mode=0o040700),
                RawMember("docs/README.md", b"upper", mode=0o100600),
                RawMember("docs/readme.md", b"lower", mode=0o104777),  # setuid + world-writable
                RawMember("empty/", b"", mode=0),
                RawMember("stored.txt", b"kept as is", method=zipfile.ZIP_STORED, mode=0),
                manifest_member(),
            ]
        )
    )
    result = safe_extract(path, tmp_path / "out")
    assert result.verified is False and result.meta is None
    got = tree(tmp_path / "out")
    assert got["docs/README.md"] == (b"upper", 0o644)
    assert got["docs/readme.md"] == (b"lower", 0o755)  # exec kept, setuid/o+w never
    assert got["stored.txt"] == (b"kept as is", 0o644)
    assert (tmp_path / "out/empty").is_dir()
    assert result.file_count == 4


def test_extraction_limits_are_configurable(tmp_path: Path) -> None:
    bundle = pack(tmp_path)
    with pytest.raises(UnsafeArchiveError, match="more than the limit of 3"):
        safe_extract(bundle, tmp_path / "o1", limits=Limits(max_entries=3))
    with pytest.raises(UnsafeArchiveError, match="'bin/tool'"):
        safe_extract(bundle, tmp_path / "o2", limits=Limits(max_entry_size=5000))
    # the ratio floor keeps small, very compressible files legal
    zeros = tmp_path / "zeros.mcpb"
    write_archive(
        [Entry.from_bytes("z", bytes(500_000)), Entry.from_bytes("manifest.json", MANIFEST_BYTES)],
        zeros,
    )
    safe_extract(zeros, tmp_path / "o3")
    with pytest.raises(UnsafeArchiveError, match="'z': compression ratio"):
        safe_extract(zeros, tmp_path / "o4", limits=Limits(ratio_floor=1000))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.mcpb", "o3", "zeros.mcpb"]


def test_record_can_be_skipped(tmp_path: Path) -> None:
    from tests.support.hostile import CASES

    case = CASES["record_wrong_digest"](tmp_path)
    result = safe_extract(case.path, tmp_path / "out", verify_record=False)
    assert result.verified is False
    assert (tmp_path / "out/server.py").read_bytes() == b"print('hello')\n"


@pytest.mark.interop
def test_reads_and_extracts_bundles_packed_by_the_reference_cli(
    tmp_path: Path, reference_mcpb: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "manifest.json").write_bytes(MANIFEST_BYTES)
    (src / "server.py").write_bytes(b"print('ref')\n")
    (src / "run.sh").write_bytes(b"#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    (src / "sub").mkdir()
    (src / "sub/data.txt").write_bytes(b"d" * 10_000)
    out = tmp_path / "ref.mcpb"
    run = subprocess.run(
        [str(reference_mcpb), "pack", str(src), str(out)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    with open_bundle(out) as b:
        assert b.meta is None and b.signature is None
        assert {e.name: e.is_executable for e in b.entries} == {
            "manifest.json": False,
            "server.py": False,
            "run.sh": True,
            "sub/data.txt": False,
        }
    safe_extract(out, tmp_path / "x")
    got = tree(tmp_path / "x")
    assert got["run.sh"] == (b"#!/bin/sh\n", 0o755)
    assert got["sub/data.txt"] == (b"d" * 10_000, 0o644)
    assert got["manifest.json"][0] == MANIFEST_BYTES


def test_bundles_signed_by_our_signer_open_strictly_and_extract(tmp_path: Path) -> None:
    from mcpb.bundle.signature import sign_bundle, verify_bundle
    from tests.support.certs import build_chain

    chain = build_chain(tmp_path / "pki", "ec")
    unsigned = pack(tmp_path, "u.mcpb")
    signed = tmp_path / "s.mcpb"
    sign_bundle(
        unsigned,
        cert=chain.signer.cert_path,
        key=chain.signer.key_path,
        intermediates=[chain.intermediate.cert_path],
        out=signed,
    )
    assert verify_bundle(signed, ca_bundle=chain.ca_bundle).chain_verified
    with zipfile.ZipFile(signed) as zf:
        assert zf.testzip() is None
    with open_bundle(signed) as b:
        assert b.signature is not None
        assert b.zip_length == b.signature.zip_length < signed.stat().st_size
        assert b.meta is not None and set(b.meta.files) == set(FILES)
    safe_extract(signed, tmp_path / "out")
    assert tree(tmp_path / "out")["server.py"] == (FILES["server.py"][0], 0o644)


def test_record_catches_corruption_that_the_crc_check_is_skipped_for(tmp_path: Path) -> None:
    """With a record, the SHA256 (not the CRC-32) guards each file: corruption still fails."""
    import hashlib
    import json
    import zlib

    from mcpb.bundle.errors import IntegrityError
    from mcpb.bundle.meta import META_KEY

    original = b"print('original')\n"
    record = {"server.py": hashlib.sha256(original).hexdigest()}
    manifest = {**MANIFEST, "_meta": {META_KEY: {"files": record}}}
    path = tmp_path / "corrupt.mcpb"
    path.write_bytes(
        raw_zip(
            [
                RawMember("server.py", b"print('tampered')\n", crc=zlib.crc32(original)),
                RawMember("manifest.json", json.dumps(manifest).encode()),
            ]
        )
    )
    with pytest.raises(IntegrityError, match=r"'server\.py': SHA256 mismatch"):
        safe_extract(path, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.mcpb"]
    with open_bundle(path) as b, pytest.raises(ArchiveError, match="CRC-32 mismatch"):
        b.read("server.py")  # plain reads still check the CRC
