"""Property: any tree of files survives write → safe_extract unchanged, bytes and exec bits,
and packing it twice in different orders gives the same archive."""

from __future__ import annotations

import json
import shutil
import stat
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpb.bundle.archive import SIDECAR_NAME, Entry, write_archive
from mcpb.bundle.extract import safe_extract
from mcpb.bundle.meta import pack_bundle

COMPONENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\:\x7f"),
    min_size=1,
    max_size=10,
).filter(lambda s: s not in (".", ".."))
PATH = st.lists(COMPONENT, min_size=1, max_size=4).map("/".join)
FILE = st.tuples(st.binary(max_size=3000), st.booleans())
TREE = st.dictionaries(PATH, FILE, min_size=0, max_size=25)


def consistent(tree: dict[str, tuple[bytes, bool]]) -> dict[str, tuple[bytes, bool]]:
    """Drop files that would also have to be directories, and our reserved names."""
    dirs = {"/".join(n.split("/")[:i]) for n in tree for i in range(1, n.count("/") + 1)}
    reserved = {"manifest.json", SIDECAR_NAME}
    return {n: v for n, v in tree.items() if n not in dirs and n not in reserved}


def extracted(root: Path) -> dict[str, tuple[bytes, bool]]:
    out = {}
    for p in root.rglob("*"):
        if p.is_file():
            mode = stat.S_IMODE(p.stat().st_mode)
            assert mode in (0o644, 0o755)
            out[p.relative_to(root).as_posix()] = (p.read_bytes(), mode == 0o755)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=TREE, version=st.sampled_from(["0.2", "0.3"]), raw=st.booleans())
def test_random_trees_round_trip(
    tree: dict[str, tuple[bytes, bool]], version: str, raw: bool
) -> None:
    files = consistent(tree)
    manifest = {"manifest_version": version, "name": "prop", "version": "0.0.1"}
    work = Path(tempfile.mkdtemp(prefix="mcpb-prop-"))
    try:
        entries = [Entry.from_bytes(n, d, executable=x) for n, (d, x) in files.items()]
        outs = []
        for i, order in enumerate((entries, list(reversed(entries)))):
            out = work / f"b{i}.mcpb"
            if raw:
                blob = Entry.from_bytes("manifest.json", json.dumps(manifest).encode())
                info = write_archive([*order, blob], out)
            else:
                info = pack_bundle(manifest, order, out, platform="linux/amd64")
            outs.append(out.read_bytes())
        assert outs[0] == outs[1]
        extra = 1 if raw or version == "0.3" else 2
        assert info.file_count == len(files) + extra
        result = safe_extract(work / "b0.mcpb", work / "x")
        got = extracted(work / "x")
        got.pop("manifest.json")
        got.pop(SIDECAR_NAME, None)
        assert got == files
        assert result.verified is (not raw)
        if not raw:
            assert result.meta is not None and set(result.meta.files) == set(files)
    finally:
        shutil.rmtree(work)
