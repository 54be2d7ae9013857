"""Every hostile bundle is refused with its exact error, a one-line message naming the entry,
and nothing left behind: neither the destination nor anything new beside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpb.bundle.errors import ArchiveError, IntegrityError, McpbError, UnsafeArchiveError
from mcpb.bundle.extract import open_bundle, safe_extract
from tests.support.hostile import CASES, HostileCase, RawMember, manifest_member, raw_zip

FAST = sorted(n for n in CASES if n != "too_many_entries_default")


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its mode and size: anything new or changed shows."""
    found: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            found[str(p.relative_to(root))] = (st.st_mode, st.st_size)
    return found


def check_refused(case: HostileCase, tmp_path: Path) -> McpbError:
    area = tmp_path / "area"
    area.mkdir()
    before = snapshot(tmp_path)
    dest = area / "out"
    with pytest.raises(McpbError) as err:
        safe_extract(case.path, dest, limits=case.limits)
    assert type(err.value) is case.error, str(err.value)
    message = str(err.value)
    assert case.needle in message, message
    assert "\n" not in message and len(message) < 400, message
    assert not os.path.lexists(dest)
    assert snapshot(tmp_path) == before
    # Nothing escaped anywhere near either: the usual traversal targets stay absent.
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path.parent / "evil.txt").exists()
    return err.value


@pytest.mark.parametrize("name", FAST)
def test_hostile_bundle_is_refused_cleanly(name: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    case = CASES[name](corpus)
    check_refused(case, tmp_path)


def read_everything(case: HostileCase) -> None:
    with open_bundle(case.path, limits=case.limits) as bundle:
        for entry in bundle.entries:
            if not entry.is_dir:
                for _ in bundle.stream(entry.name):
                    pass


@pytest.mark.parametrize("name", FAST)
def test_reader_refuses_the_same_way(name: str, tmp_path: Path) -> None:
    """open_bundle/stream give the same verdict; the record is extraction's job alone."""
    case = CASES[name](tmp_path)
    if case.error is IntegrityError:
        read_everything(case)
        return
    with pytest.raises(McpbError) as err:
        read_everything(case)
    assert type(err.value) is case.error, str(err.value)
    assert case.needle in str(err.value)


def test_default_entry_limit_is_enforced(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    case = CASES["too_many_entries_default"](tmp_path / "corpus")
    err = check_refused(case, tmp_path)
    assert "more than the limit of 100000" in str(err)


def test_lying_header_is_caught_while_inflating(tmp_path: Path) -> None:
    """The declared sizes pass every check; only counting the real output catches it."""
    case = CASES["bomb_lying_header"](tmp_path)
    with open_bundle(case.path) as bundle:
        small = next(e for e in bundle.entries if e.name == "small.txt")
        assert small.size == 100
        with pytest.raises(McpbError, match="inflates past its declared size of 100 bytes"):
            bundle.read("small.txt")


def test_overall_ratio_limit(tmp_path: Path) -> None:
    """Many entries each under the floor can still add up to a bomb."""
    members = [RawMember(f"z{i}.bin", bytes(900_000)) for i in range(8)]
    path = tmp_path / "many.mcpb"
    path.write_bytes(raw_zip([*members, manifest_member()]))
    with pytest.raises(UnsafeArchiveError, match=r"many\.mcpb: expands \d+x"):
        open_bundle(path)


def test_failure_after_files_were_written_leaves_nothing(tmp_path: Path) -> None:
    """Entries are only checked for CRC as they are inflated: by then others are on disk."""
    good = [RawMember(f"pkg/good{i}.py", b"ok = True\n" * 100) for i in range(3)]
    bad = RawMember("pkg/zbad.py", b"x = 1\n" * 100, crc=0xDEADBEEF)
    path = tmp_path / "late.mcpb"
    path.write_bytes(raw_zip([*good, bad, manifest_member()]))
    case = HostileCase("late", path, ArchiveError, repr("pkg/zbad.py"))
    err = check_refused(case, tmp_path)
    assert "CRC-32 mismatch" in str(err)
