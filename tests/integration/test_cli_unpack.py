"""``mcpb unpack``: round trip with modes, destination rules, and the hostile corpus (one-line
error, non-zero exit, nothing written)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mcpb.bundle.extract import Limits
from mcpb.bundler.cli import main
from tests.support.hostile import HostileCase, build_all

MCPB = [sys.executable, "-c", "from mcpb.bundler.cli import main; main(prog_name='mcpb')"]
MANIFEST = {
    "manifest_version": "0.2",
    "name": "round-trip",
    "version": "0.0.1",
    "description": "d",
    "author": {"name": "a"},
    "server": {
        "type": "binary",
        "entry_point": "bin/serve",
        "mcp_config": {"command": "${__dirname}/bin/serve"},
    },
}


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: its bytes and permission bits."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    (src / "manifest.json").write_text(json.dumps(MANIFEST))
    (src / "bin" / "serve").write_bytes(b"#!/bin/sh\necho serve\n")
    (src / "bin" / "serve").chmod(0o700)
    (src / "lib" / "deep" / "er").mkdir(parents=True)
    (src / "lib" / "deep" / "er" / "data.bin").write_bytes(os.urandom(5000))
    (src / "empty.txt").write_bytes(b"")
    out = tmp_path / "b.mcpb"
    assert run("pack", src, out).exit_code == 0
    return out


def test_round_trip_restores_files_and_modes(tmp_path: Path, bundle: Path) -> None:
    dest = tmp_path / "out"
    result = run("unpack", bundle, dest)
    assert result.exit_code == 0
    assert result.stdout == f"unpacked {bundle} -> {dest} (5 files, SHA256 record verified)\n"
    got = tree(dest)
    src = tree(tmp_path / "src")
    assert set(got) == set(src) | {".mcpb-toolchain.json"}  # 0.2: our record is a sidecar
    for name, (data, _mode) in src.items():
        if name != "manifest.json":
            assert got[name][0] == data
    assert got["bin/serve"][1] == 0o755
    assert got["lib/deep/er/data.bin"][1] == 0o644
    assert json.loads(got["manifest.json"][0]) == MANIFEST


def test_default_destination_is_named_after_the_bundle(
    tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("unpack", bundle).exit_code == 0
    assert (tmp_path / "b" / "bin" / "serve").is_file()
    bare = tmp_path / "bare"  # no suffix: the default must not be the bundle's own path
    bare.write_bytes(bundle.read_bytes())
    assert run("unpack", bare).exit_code == 0
    assert (tmp_path / "bare.unpacked" / "bin" / "serve").is_file()


def test_empty_destination_is_used_non_empty_refused(tmp_path: Path, bundle: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("unpack", bundle, empty).exit_code == 0
    assert (empty / "manifest.json").is_file()
    result = run("unpack", bundle, empty)
    assert result.exit_code == 2
    assert result.stderr == f"mcpb: error: {empty}: directory is not empty\n"
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = run("unpack", bundle, afile)
    assert result.exit_code == 2
    assert result.stderr == f"mcpb: error: {afile}: exists and is not a directory\n"
    assert afile.read_text() == "x"


def test_failed_unpack_gives_back_the_empty_directory(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mcpb"
    bad.write_bytes(b"not a zip at all")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("unpack", bad, empty)
    assert result.exit_code == 1
    assert empty.is_dir() and list(empty.iterdir()) == []


# --- the hostile corpus -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, HostileCase]:
    cases = build_all(tmp_path_factory.mktemp("hostile"))
    # cases that need a lowered limit are covered by the library tests (the CLI has no flags)
    return {c.name: c for c in cases if c.limits == Limits()}


def test_corpus_is_not_empty(corpus: dict[str, HostileCase]) -> None:
    assert {"traversal", "symlink_escape", "bomb_ratio", "garbage_signature"} <= set(corpus)
    assert len(corpus) >= 30


def test_every_hostile_bundle_fails_cleanly(tmp_path: Path, corpus: dict[str, HostileCase]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for case in corpus.values():
        before = sorted(os.listdir(case.path.parent))
        dest = work / f"out-{case.name}"
        result = run("unpack", case.path, dest)
        assert result.exit_code == case.error.exit_code == 1, case.name
        assert result.stdout == "", case.name
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (case.name, result.stderr)
        assert lines[0].startswith("mcpb: error: "), case.name
        assert case.needle in lines[0], (case.name, lines[0])
        assert not os.path.lexists(dest), case.name
        assert os.listdir(work) == [], (case.name, os.listdir(work))
        assert sorted(os.listdir(case.path.parent)) == before, case.name
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("name", ["traversal", "symlink_escape", "bomb_lying_header"])
def test_hostile_bundle_in_a_real_process(
    tmp_path: Path, corpus: dict[str, HostileCase], name: str
) -> None:
    case = corpus[name]
    proc = subprocess.run(
        [*MCPB, "unpack", str(case.path), "dest"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and case.needle in proc.stderr
    assert os.listdir(tmp_path) == []


def test_info_and_validate_reject_broken_bundles_in_one_line(
    corpus: dict[str, HostileCase],
) -> None:
    for name in ("not_a_zip", "truncated", "no_manifest", "traversal", "duplicate_entry"):
        case = corpus[name]
        for command in ("info", "validate"):
            result = run(command, case.path)
            assert result.exit_code == 1, (name, command)
            assert result.stderr.count("\n") == 1, (name, command, result.stderr)
            assert case.needle in result.stderr, (name, command, result.stderr)
