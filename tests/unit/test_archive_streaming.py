"""Packing and extracting stream: peak memory does not grow with the size of the files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SIZE = 256 << 20  # a sparse file: costs no disk, but every byte goes through deflate

CHILD = """
import json, resource, sys
from pathlib import Path
from mcpb.bundle.archive import Entry
from mcpb.bundle.extract import Limits, safe_extract
from mcpb.bundle.meta import pack_bundle

def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

work = Path(sys.argv[1])
big = work / "big.bin"
with big.open("wb") as f:
    f.truncate(int(sys.argv[2]))
manifest = {"manifest_version": "0.3", "name": "big", "version": "1.0.0"}
base = peak_kib()
info = pack_bundle(manifest, [Entry.from_file("data/big.bin", big)], work / "big.mcpb")
packed = peak_kib()
# zeros compress ~1000:1, past the default ratio limit; raise it for this test only
result = safe_extract(info.path, work / "out", limits=Limits(max_ratio=5000))
extracted = peak_kib()
print(json.dumps({"base": base, "packed": packed, "extracted": extracted,
                  "size": info.uncompressed_size, "files": result.file_count,
                  "archive": info.compressed_size, "verified": result.verified}))
"""


def test_peak_rss_stays_bounded_for_a_large_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), str(SIZE)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=240,
    )
    r = json.loads(proc.stdout)
    assert r["size"] >= SIZE
    assert r["files"] == 2
    assert r["verified"] is True
    assert r["archive"] < SIZE // 100
    out = tmp_path / "out" / "data" / "big.bin"
    assert out.stat().st_size == SIZE
    # The whole file is 256 MiB; holding it (or the archive) in memory would show here.
    growth_pack = (r["packed"] - r["base"]) * 1024
    growth_extract = (r["extracted"] - r["base"]) * 1024
    assert growth_pack < 48 << 20, r
    assert growth_extract < 48 << 20, r
