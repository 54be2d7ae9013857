"""The archive writer: reproducible bytes, normalised modes, fixed stamps, atomic output."""

from __future__ import annotations

import hashlib
import os
import random
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mcpb.bundle.archive import (
    DEFAULT_EPOCH,
    Entry,
    date_time_epoch,
    entry_order,
    name_problem,
    resolve_epoch,
    write_archive,
)
from mcpb.bundle.errors import ArchiveError, UsageError


def make_tree(root: Path, order: list[str] | None = None) -> dict[str, bytes]:
    files = {
        "server.py": b"print('hello')\n" * 100,
        "bin/run": b"#!/bin/sh\nexec python server.py\n",
        "lib/pkg/__init__.py": b"",
        "lib/pkg/data.json": b'{"a": 1}\n' * 1000,
        "lib/pkg/zz.txt": random.Random(5).randbytes(5000),
        "manifest.json": b'{"manifest_version": "0.3"}\n',
    }
    for name in order or list(files):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(files[name])
    (root / "bin/run").chmod(0o700)
    return files


def entries_for(root: Path, names: list[str]) -> list[Entry]:
    return [Entry.from_file(n, root / n) for n in names]


def test_round_trip_values_modes_and_order(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src")
    out = tmp_path / "out.mcpb"
    info = write_archive(entries_for(tmp_path / "src", list(files)), out, epoch=1_700_000_000)
    assert info.path == out
    assert info.file_count == len(files)
    assert info.uncompressed_size == sum(len(v) for v in files.values())
    assert info.compressed_size == out.stat().st_size
    assert info.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        # files sorted by name, manifest.json last; no directory entries
        assert names == [*sorted(n for n in files if n != "manifest.json"), "manifest.json"]
        for i in infos:
            assert zf.read(i) == files[i.filename]
            assert i.create_system == 3
            assert i.compress_type == zipfile.ZIP_DEFLATED
            mode = i.external_attr >> 16
            assert stat.S_ISREG(mode)
            assert stat.S_IMODE(mode) == (0o755 if i.filename == "bin/run" else 0o644)
            assert i.date_time == (2023, 11, 14, 22, 13, 20)
            assert i.extra == b""


def test_same_tree_is_byte_identical_despite_umask_mtime_and_creation_order(tmp_path: Path) -> None:
    names = list(make_tree(tmp_path / "probe"))
    script = f"""
import os, sys
from pathlib import Path
sys.path[:0] = {sys.path!r}
from tests.unit.test_archive import make_tree, entries_for
from mcpb.bundle.archive import write_archive
root = Path(sys.argv[1]); order = sys.argv[3].split(",")
os.umask(int(sys.argv[4], 8))
make_tree(root, order)
for i, name in enumerate(order):
    os.utime(root / name, (1_000_000 + i * 7919, 1_000_000 + i * 7919))
(root / "bin/run").chmod(int(sys.argv[5], 8))
write_archive(entries_for(root, list(reversed(order))), Path(sys.argv[2]))
"""
    outs = []
    variants = [(names, "022", "700"), (list(reversed(names)), "077", "755")]
    for i, (order, umask, run_mode) in enumerate(variants):
        out_dir = tmp_path / f"out{i}"
        out_dir.mkdir()
        out = out_dir / "b.mcpb"
        subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                str(tmp_path / f"t{i}"),
                str(out),
                ",".join(order),
                umask,
                run_mode,
            ],
            check=True,
            cwd=Path(__file__).resolve().parents[2],
            env={k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"},
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    with zipfile.ZipFile(tmp_path / "out0" / "b.mcpb") as zf:
        assert zf.getinfo("bin/run").external_attr >> 16 == 0o100755
        assert zf.getinfo("server.py").date_time == (1980, 1, 1, 0, 0, 0)


def test_source_date_epoch_is_honoured_clamped_and_rounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "f.txt"
    src.write_bytes(b"x")

    def stamp(env: str | None, epoch: int | None = None) -> tuple[int, ...]:
        if env is None:
            monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
        else:
            monkeypatch.setenv("SOURCE_DATE_EPOCH", env)
        out = tmp_path / "s.mcpb"
        write_archive([Entry.from_file("f.txt", src)], out, epoch=epoch)
        with zipfile.ZipFile(out) as zf:
            return zf.getinfo("f.txt").date_time

    assert stamp(None) == (1980, 1, 1, 0, 0, 0)
    assert stamp("1700000001") == (2023, 11, 14, 22, 13, 20)  # odd second rounded down
    assert stamp("0") == (1980, 1, 1, 0, 0, 0)  # clamped up to the zip minimum
    assert stamp("99999999999") == (2107, 12, 31, 23, 59, 58)  # clamped down
    assert stamp("1700000001", epoch=1_600_000_000) == (2020, 9, 13, 12, 26, 40)  # explicit wins
    assert date_time_epoch((2023, 11, 14, 22, 13, 20)) == 1_700_000_000
    assert resolve_epoch(None) == 1_700_000_001
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        resolve_epoch()
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert resolve_epoch() == DEFAULT_EPOCH


def test_executable_flag_on_bytes_and_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain.sh"
    plain.write_bytes(b"echo\n")
    plain.chmod(0o644)
    out = tmp_path / "x.mcpb"
    write_archive(
        [
            Entry.from_bytes("a", b"1", executable=True),
            Entry.from_bytes("b", b"2"),
            Entry.from_file("c", plain, executable=True),
            Entry.from_file("d", plain),
        ],
        out,
    )
    with zipfile.ZipFile(out) as zf:
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in zf.infolist()}
    assert modes == {"a": 0o755, "b": 0o644, "c": 0o755, "d": 0o644}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "absolute"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a\\b", "backslash"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("C:/x", "drive"),
        ("a//b", "empty"),
        ("a/./b", "'.'"),
        ("dir/", "empty"),
        ("", "empty"),
        ("bad\udcff", "UTF-8"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(
    tmp_path: Path, name: str, reason: str
) -> None:
    assert name_problem(name) is not None
    out = tmp_path / "bad.mcpb"
    with pytest.raises(ArchiveError) as err:
        write_archive([Entry.from_bytes("ok.txt", b"1"), Entry.from_bytes(name, b"2")], out)
    assert reason in str(err.value)
    assert repr(name) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_duplicates_and_file_directory_clashes_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "d.mcpb"
    with pytest.raises(ArchiveError, match=r"'a\.txt': duplicate"):
        write_archive([Entry.from_bytes("a.txt", b"1"), Entry.from_bytes("a.txt", b"2")], out)
    with pytest.raises(ArchiveError, match=r"'pkg/m\.py': 'pkg' is a file"):
        write_archive([Entry.from_bytes("pkg", b"1"), Entry.from_bytes("pkg/m.py", b"2")], out)
    with pytest.raises(ArchiveError, match="'a/b': 'a' is a file"):
        write_archive([Entry.from_bytes("a/b", b"1"), Entry.from_bytes("a", b"2")], out)
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_existing_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "keep.mcpb"
    out.write_bytes(b"previous")
    with pytest.raises(ArchiveError, match="cannot read"):
        write_archive(
            [Entry.from_bytes("a", b"1"), Entry.from_file("b", tmp_path / "missing")], out
        )
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mcpb"]


def test_non_regular_sources_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ArchiveError, match="not a regular file"):
        write_archive([Entry.from_file("f", fifo)], tmp_path / "f.mcpb")
    with pytest.raises(ArchiveError, match="not a regular file"):
        write_archive([Entry.from_file("d", tmp_path)], tmp_path / "d.mcpb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_entry_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="one of source or data"):
        write_archive([Entry("x")], tmp_path / "x.mcpb")
    with pytest.raises(ArchiveError, match="one of source or data"):
        write_archive([Entry("x", source=tmp_path, data=b"")], tmp_path / "x.mcpb")


def test_output_mode_follows_umask_and_compresslevel_changes_bytes(tmp_path: Path) -> None:
    data = b"compress me " * 5000
    old = os.umask(0o027)
    try:
        a = write_archive([Entry.from_bytes("a", data)], tmp_path / "a.mcpb", compresslevel=1)
    finally:
        os.umask(old)
    b = write_archive([Entry.from_bytes("a", data)], tmp_path / "b.mcpb", compresslevel=9)
    assert stat.S_IMODE(a.path.stat().st_mode) == 0o640
    assert a.sha256 != b.sha256
    with pytest.raises(UsageError):
        write_archive([], tmp_path / "c.mcpb", compresslevel=10)


def test_entry_order_puts_sidecar_then_manifest_last() -> None:
    names = ["manifest.json", "z", ".mcpb-toolchain.json", "A", "a/b", ".hidden"]
    assert sorted(names, key=entry_order) == [
        ".hidden",
        "A",
        "a/b",
        "z",
        ".mcpb-toolchain.json",
        "manifest.json",
    ]


def test_bytes_do_not_depend_on_how_the_data_is_read(tmp_path: Path) -> None:
    """A file streamed in 1 MiB reads and the same content given at once give one archive."""
    content = random.Random(7).randbytes(1 << 20) + b"text line\n" * 300_000
    src = tmp_path / "big.bin"
    src.write_bytes(content)
    a = write_archive([Entry.from_file("big.bin", src)], tmp_path / "a.mcpb")
    b = write_archive([Entry.from_bytes("big.bin", content)], tmp_path / "b.mcpb")
    assert a.sha256 == b.sha256
    assert a.uncompressed_size == len(content)
