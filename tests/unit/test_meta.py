"""Our extra data: where pack_bundle puts it per manifest version, and reading it back."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from mcpb.bundle.archive import Entry
from mcpb.bundle.errors import ArchiveError, ManifestError
from mcpb.bundle.extract import open_bundle, safe_extract
from mcpb.bundle.meta import (
    META_KEY,
    SIDECAR_NAME,
    BundleMeta,
    pack_bundle,
    read_meta,
    uses_meta_key,
)

SERVER = b"import sys\nprint('hello', file=sys.stderr)\n"
RUN = b"#!/bin/sh\nexec python3 server.py\n"


def manifest(version_key: str = "manifest_version", version: str = "0.3") -> dict[str, Any]:
    return {
        version_key: version,
        "name": "meta-test",
        "version": "1.2.3",
        "description": "checks where our data goes",
        "author": {"name": "Tester"},
        "server": {
            "type": "python",
            "entry_point": "server.py",
            "mcp_config": {"command": "python3", "args": ["${__dirname}/server.py"]},
        },
    }


def files() -> list[Entry]:
    return [
        Entry.from_bytes("server.py", SERVER),
        Entry.from_bytes("bin/run", RUN, executable=True),
        Entry.from_bytes("lib/empty.txt", b""),
    ]


RECORD = {
    "bin/run": hashlib.sha256(RUN).hexdigest(),
    "lib/empty.txt": hashlib.sha256(b"").hexdigest(),
    "server.py": hashlib.sha256(SERVER).hexdigest(),
}


def test_v03_record_goes_under_meta_key_and_manifest_is_last(tmp_path: Path) -> None:
    data = manifest()
    data["_meta"] = {"com.example/other": {"keep": True}}
    before = copy.deepcopy(data)
    out = tmp_path / "b.mcpb"
    info = pack_bundle(
        data, files(), out, platform="linux/arm64", runtime="python:3.13", python="3.13"
    )
    assert data == before  # the caller's dict is not modified
    assert info.file_count == 4
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["bin/run", "lib/empty.txt", "server.py", "manifest.json"]
        raw = zf.read("manifest.json").decode()
    assert raw.endswith("}\n") and not raw.endswith("\n\n")
    stored = json.loads(raw)
    # the author's key order is kept; _meta keeps other vendors' keys
    assert list(stored) == list(before)
    assert stored["_meta"]["com.example/other"] == {"keep": True}
    assert stored["_meta"][META_KEY] == {
        "platform": "linux/arm64",
        "runtime": "python:3.13",
        "python": "3.13",
        "files": RECORD,
    }
    with open_bundle(out) as b:
        assert b.meta == BundleMeta("linux/arm64", "python:3.13", "3.13", RECORD)
        assert b.signature is None
        assert b.zip_length == out.stat().st_size


@pytest.mark.parametrize(("key", "version"), [("manifest_version", "0.2"), ("dxt_version", "0.1")])
def test_older_versions_get_a_sidecar_and_an_untouched_manifest(
    tmp_path: Path, key: str, version: str
) -> None:
    data = manifest(key, version)
    out = tmp_path / "old.mcpb"
    pack_bundle(data, files(), out, platform="linux/amd64")
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist()[-2:] == [SIDECAR_NAME, "manifest.json"]
        assert json.loads(zf.read("manifest.json")) == data
        sidecar = json.loads(zf.read(SIDECAR_NAME))
    assert sidecar == {"platform": "linux/amd64", "files": RECORD}
    result = safe_extract(out, tmp_path / "x")
    assert result.verified
    assert result.meta == BundleMeta(platform="linux/amd64", files=RECORD)
    assert (tmp_path / "x" / SIDECAR_NAME).is_file()


def test_same_inputs_give_identical_bundles_and_repacking_drops_stale_copies(
    tmp_path: Path,
) -> None:
    a = pack_bundle(manifest(), files(), tmp_path / "a.mcpb", platform="linux/amd64")
    b = pack_bundle(manifest(), reversed(files()), tmp_path / "b.mcpb", platform="linux/amd64")
    assert a.sha256 == b.sha256
    assert (tmp_path / "a.mcpb").read_bytes() == (tmp_path / "b.mcpb").read_bytes()
    # Repack an unpacked bundle: its manifest.json and a stale sidecar are in the file list.
    unpacked = tmp_path / "unpacked"
    safe_extract(a.path, unpacked)
    stale = [
        Entry.from_file("manifest.json", unpacked / "manifest.json"),
        Entry.from_bytes(SIDECAR_NAME, b"{}"),
    ]
    again = json.loads((unpacked / "manifest.json").read_text())
    c = pack_bundle(again, [*files(), *stale], tmp_path / "c.mcpb", platform="linux/amd64")
    assert c.sha256 == a.sha256


def test_epoch_reaches_every_entry(tmp_path: Path) -> None:
    out = tmp_path / "e.mcpb"
    pack_bundle(manifest("manifest_version", "0.2"), files(), out, epoch=1_700_000_000)
    with zipfile.ZipFile(out) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_missing_or_odd_version_is_a_manifest_error(tmp_path: Path) -> None:
    for bad in ({}, {"manifest_version": 3}, {"manifest_version": "latest"}):
        with pytest.raises(ManifestError, match="manifest_version"):
            pack_bundle(bad, files(), tmp_path / "v.mcpb")
    assert list(tmp_path.iterdir()) == []
    assert uses_meta_key({"dxt_version": "0.1"}) is False
    assert uses_meta_key({"manifest_version": "0.10"}) is True
    assert uses_meta_key({"manifest_version": "1.0"}) is True


def test_read_meta_sources_and_errors() -> None:
    entry = {"runtime": "node:20", "files": {"a": "0" * 64}, "future": [1]}
    assert read_meta({"_meta": {META_KEY: entry}}, None) == BundleMeta(
        runtime="node:20", files={"a": "0" * 64}
    )
    assert read_meta({"_meta": {"x": {}}}, None) is None
    assert read_meta({}, None) is None
    assert read_meta({}, b'{"files": {}}') == BundleMeta()
    # _meta wins over a stray sidecar
    assert read_meta({"_meta": {META_KEY: {"platform": "p"}}}, b"{}") == BundleMeta(platform="p")
    bad: list[tuple[dict[str, Any], bytes | None, str]] = [
        ({}, b"not json", "invalid JSON at line 1"),
        ({}, b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        ({}, b"[]", "expected a JSON object"),
        ({"_meta": {META_KEY: {"platform": 3}}}, None, "platform: expected a string"),
        ({"_meta": {META_KEY: {"files": []}}}, None, "files: expected an object"),
        ({"_meta": {META_KEY: {"files": {"a": "XYZ"}}}}, None, "files['a']: expected 64"),
    ]
    for data, sidecar, needle in bad:
        with pytest.raises(ArchiveError) as err:
            read_meta(data, sidecar, source="b.mcpb")
        assert needle in str(err.value)
        assert str(err.value).startswith("b.mcpb: ")


@pytest.mark.interop
def test_reference_cli_accepts_and_unpacks_our_bundles(
    tmp_path: Path, reference_mcpb: Path
) -> None:
    """The reference validator accepts our manifest (0.3 with _meta, 0.2 with a sidecar) and
    its unpack reproduces our files and modes."""
    for version in ("0.3", "0.2"):
        out = tmp_path / f"v{version}.mcpb"
        pack_bundle(manifest(version=version), files(), out, platform="linux/amd64")
        dest = tmp_path / f"ref-{version}"
        run = subprocess.run(
            [str(reference_mcpb), "unpack", str(out), str(dest)], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert (dest / "server.py").read_bytes() == SERVER
        assert (dest / "bin/run").read_bytes() == RUN
        assert (dest / "bin/run").stat().st_mode & 0o777 == 0o755
        assert (dest / "server.py").stat().st_mode & 0o777 == 0o644
        assert (dest / "lib/empty.txt").read_bytes() == b""
        check = subprocess.run(
            [str(reference_mcpb), "validate", str(dest / "manifest.json")],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "passes" in check.stdout
