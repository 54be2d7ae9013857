"""Property: any project tree survives ``mcpb pack`` → ``mcpb unpack`` unchanged (names, nesting,
bytes, exec bits, empty files), and packing it twice gives the same bytes."""

from __future__ import annotations

import json
import shutil
import stat
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpb.bundle.extract import safe_extract
from mcpb.bundler.packing import pack_project

# No leading dot and no "." at all: keeps clear of every default exclude by construction.
NAME = st.text(alphabet="abcXYZ019 _-\u00e9\u4e2d", min_size=1, max_size=12).filter(
    lambda n: n.strip() == n and n != "__pycache__"
)
PATH = st.lists(NAME, min_size=1, max_size=4).map(tuple)
FILE = st.tuples(st.binary(max_size=3000), st.booleans())


def consistent(tree: dict[tuple[str, ...], tuple[bytes, bool]]) -> bool:
    """No path is both a file and a directory of another file."""
    dirs = {p[:i] for p in tree for i in range(1, len(p))}
    return not dirs & set(tree)


TREES = st.dictionaries(PATH, FILE, min_size=1, max_size=12).filter(consistent)


def write_project(root: Path, tree: dict[tuple[str, ...], tuple[bytes, bool]]) -> str:
    for parts, (data, executable) in tree.items():
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o700 if executable else 0o600)
    entry = "/".join(sorted(tree)[0])
    manifest = {
        "manifest_version": "0.3",
        "name": "prop",
        "version": "1.0.0",
        "description": "d",
        "author": {"name": "a"},
        "server": {
            "type": "binary",
            "entry_point": entry,
            "mcp_config": {"command": "${__dirname}/" + entry},
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return entry


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=TREES)
def test_pack_unpack_round_trip(tree: dict[tuple[str, ...], tuple[bytes, bool]]) -> None:
    work = Path(tempfile.mkdtemp(prefix="roundtrip."))
    try:
        src = work / "src"
        src.mkdir()
        write_project(src, tree)
        first = pack_project(src, work / "a.mcpb")
        second = pack_project(src, work / "b.mcpb")
        assert first.archive.sha256 == second.archive.sha256
        assert first.archive.file_count == len(tree) + 1
        result = safe_extract(work / "a.mcpb", work / "out")
        assert result.verified
        for parts, (data, executable) in tree.items():
            got = (work / "out").joinpath(*parts)
            assert got.read_bytes() == data
            assert stat.S_IMODE(got.stat().st_mode) == (0o755 if executable else 0o644)
        unpacked = {
            p.relative_to(work / "out").parts for p in (work / "out").rglob("*") if p.is_file()
        }
        assert unpacked == set(tree) | {("manifest.json",)}
    finally:
        shutil.rmtree(work)
