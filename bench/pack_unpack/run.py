"""Pack and unpack benchmark: ``mcpb`` (ours) against the reference MCPB CLI, same run.

usage (from the repository root, after ``uv sync``)::

    uv run --no-sync python bench/pack_unpack/run.py [--files 5000] [--mb 200] [--repeat 3]
        [--scale 400] [--work DIR]

Generates a deterministic tree (mixed sizes, about half of the bytes compressible), then for
each repeat runs, alternating which tool goes first: ``pack`` with both CLIs, ``unpack`` of each
tool's own bundle with the same tool. Every command runs under ``/usr/bin/time`` for its wall
time and the peak RSS of the process; every unpacked tree is compared with the source, byte for
byte. ``--scale MB`` also packs and unpacks a second, larger tree once per tool, to show how
peak memory grows with the archive. Writes results.json and results.md beside this file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO)]

from mcpb.bundle.digest import sha256_file  # noqa: E402
from tests.support.npm import REFERENCE_MCPB, npm_bin  # noqa: E402

OURS = REPO / ".venv" / "bin" / "mcpb"
_VOCABULARY = (
    "import def return class self async await server tool resource prompt json value request "
    "response context session handler bundle manifest archive entry stream"
)
WORDS = _VOCABULARY.split()


def generate(root: Path, files: int, total_mb: int, seed: int = 2026) -> dict[str, str]:
    """A tree like a vendored server: many small files, some medium, a few large ones.

    Returns path → SHA256 of every file (the manifest included).
    """
    rng = random.Random(seed)
    total = total_mb << 20
    large = [total * 30 // 100 // 5] * 5  # 30% in 5 large files
    medium = [total * 40 // 100 // 95] * 95  # 40% in 95 medium files
    rest = files - 1 - len(large) - len(medium)
    small = [total * 30 // 100 // rest] * rest  # 30% in small files
    sizes = large + medium + small
    rng.shuffle(sizes)
    # Text like source code: random words, so deflate gets ~3-4x (as on real code), never the
    # 1000x of repeated blocks. Files take slices of one 1 MiB pool at random offsets.
    text = bytearray()
    while len(text) < 1 << 20:
        text += (" ".join(rng.choices(WORDS, k=rng.randint(3, 14))) + "\n").encode()
    pool = bytes(text)
    digests: dict[str, str] = {}
    manifest = {
        "manifest_version": "0.3",
        "name": "bench-tree",
        "version": "1.0.0",
        "description": "generated benchmark tree",
        "author": {"name": "bench"},
        "server": {
            "type": "python",
            "entry_point": "server/main.py",
            "mcp_config": {"command": "python3", "args": ["${__dirname}/server/main.py"]},
        },
    }
    root.mkdir(parents=True)
    data = json.dumps(manifest, indent=2).encode()
    (root / "manifest.json").write_bytes(data)
    digests["manifest.json"] = hashlib.sha256(data).hexdigest()
    for i, size in enumerate(sizes):
        rel = f"server/lib/pkg{i % 40:02d}/sub{i % 7}/m{i:05d}.py" if i else "server/main.py"
        if rng.random() < 0.5:
            start = rng.randrange(len(pool))
            rotated = pool[start:] + pool[:start]
            body = (rotated * (1 + size // len(rotated)))[:size]
        else:
            body = rng.randbytes(size)
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
        if i % 50 == 0:
            p.chmod(0o755)
        digests[rel] = hashlib.sha256(body).hexdigest()
    return digests


def tree_digests(root: Path) -> dict[str, str]:
    out = {}
    for p in root.rglob("*"):
        if p.is_file():
            h = hashlib.sha256()
            with p.open("rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            out[p.relative_to(root).as_posix()] = h.hexdigest()
    return out


def timed(argv: list[str], cwd: Path) -> dict[str, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one command (GNU time).

    CPU time is reported beside wall time because the machine is shared: wall time includes
    waiting for a core, CPU time does not."""
    os.sync()  # write back the previous step's files now, not during this measurement
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        subprocess.run(
            ["/usr/bin/time", "-f", "%e %M %U %S", "-o", report.name, *argv],
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        wall, rss_kib, user, system = report.read().split()[-4:]
    return {
        "wall_s": float(wall),
        "cpu_s": round(float(user) + float(system), 2),
        "rss_mib": round(int(rss_kib) / 1024, 1),
    }


def run_tool(tool: str, exe: Path, src: Path, work: Path, expect: dict[str, str]) -> dict[str, Any]:
    bundle = work / f"{tool}.mcpb"
    dest = work / f"{tool}-out"
    bundle.unlink(missing_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    pack = timed([str(exe), "pack", str(src), str(bundle)], cwd=work)
    unpack = timed([str(exe), "unpack", str(bundle), str(dest)], cwd=work)
    got = tree_digests(dest)
    if tool == "ours":
        got.pop("manifest.json")  # ours carries the per-file record in it
    want = {k: v for k, v in expect.items() if tool == "reference" or k != "manifest.json"}
    if got != want:
        diff = sorted(set(got) ^ set(want))[:5]
        raise SystemExit(f"{tool}: unpacked tree differs from the source: {diff}")
    return {"pack": pack, "unpack": unpack, "bundle_bytes": bundle.stat().st_size}


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")
    )
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory": mem.split(":", 1)[1].strip(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        "node": node,
        "reference": REFERENCE_MCPB,
        "mcpb_commit": commit,
        "note": "2 shared cores; other jobs may have run concurrently; warm page cache",
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"bundle_bytes": runs[0]["bundle_bytes"]}
    for step in ("pack", "unpack"):
        walls = [r[step]["wall_s"] for r in runs]
        out[step] = {
            "wall_s_median": statistics.median(walls),
            "wall_s_min": min(walls),
            "wall_s_all": walls,
            "cpu_s_median": statistics.median(r[step]["cpu_s"] for r in runs),
            "rss_mib_max": max(r[step]["rss_mib"] for r in runs),
        }
    return out


def render(results: dict[str, Any]) -> str:
    t = results["tree"]
    lines = [
        "# Pack / unpack benchmark results",
        "",
        f"Tree: {t['files']} files, {t['bytes'] / 2**20:.0f} MiB "
        f"(about half compressible), {results['repeat']} runs per tool: median (and best) wall "
        "time, median CPU time, largest peak RSS.",
        "",
        "| step | tool | wall (s), median (best) | CPU (s) | peak RSS (MiB) | bundle (MiB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for step in ("pack", "unpack"):
        for tool in ("ours", "reference"):
            s = results["main"][tool]
            lines.append(
                f"| {step} | {tool} | {s[step]['wall_s_median']:.2f} "
                f"({s[step]['wall_s_min']:.2f}) | "
                f"{s[step]['cpu_s_median']:.2f} | "
                f"{s[step]['rss_mib_max']:.0f} | {s['bundle_bytes'] / 2**20:.1f} |"
            )
    o, r = results["main"]["ours"], results["main"]["reference"]
    pack_x = r["pack"]["wall_s_median"] / o["pack"]["wall_s_median"]
    unpack_x = r["unpack"]["wall_s_median"] / o["unpack"]["wall_s_median"]
    pack_c = r["pack"]["cpu_s_median"] / o["pack"]["cpu_s_median"]
    unpack_c = r["unpack"]["cpu_s_median"] / o["unpack"]["cpu_s_median"]
    lines += [
        "",
        f"Reference / ours: wall pack {pack_x:.1f}x, unpack {unpack_x:.1f}x; "
        f"CPU pack {pack_c:.1f}x, unpack {unpack_c:.1f}x.",
    ]
    if results.get("scale"):
        lines += [
            "",
            "## Peak memory against tree size (one run each)",
            "",
            "| tree (MiB) | tool | pack RSS (MiB) | unpack RSS (MiB) "
            "| pack CPU (s) | unpack CPU (s) |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        for mb, row in sorted(results["scale"].items(), key=lambda kv: int(kv[0])):
            for tool in ("ours", "reference"):
                s = row[tool]
                lines.append(
                    f"| {mb} | {tool} | {s['pack']['rss_mib']:.0f} | {s['unpack']['rss_mib']:.0f} "
                    f"| {s['pack']['cpu_s']:.2f} | {s['unpack']['cpu_s']:.2f} |"
                )
    c = results["design_costs_s"]
    lines += [
        "",
        f"Design costs, in-process: SHA256 of the finished archive "
        f"{c['sha256_of_archive_after_writing']:.2f} s (what ArchiveInfo.sha256 adds after "
        f"writing); a second read + SHA256 of the tree {c['second_read_and_hash_of_tree']:.2f} s "
        "(what hashing before writing would add; pack_bundle hashes while compressing instead).",
    ]
    m = results["machine"]
    lines += [
        "",
        f"Machine: {m['cpu']}, {m['nproc']} cores, {m['memory']}, Linux {m['kernel']}; "
        f"Python {m['python']} (zlib {m['zlib']}), Node {m['node']}, {m['reference']}; "
        f"commit {m['mcpb_commit']}; {m['date']}. {m['note']}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:] == ["--render"]:  # rewrite results.md from results.json
        saved = json.loads((HERE / "results.json").read_text())
        (HERE / "results.md").write_text(render(saved))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=int, nargs="*", default=[])
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    tools = {"ours": OURS, "reference": npm_bin(REFERENCE_MCPB, "mcpb")}
    work = Path(tempfile.mkdtemp(prefix="mcpb-bench-", dir=args.work))
    try:
        src = work / "tree"
        expect = generate(src, args.files, args.mb)
        size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
        runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        for i in range(args.repeat):
            order = list(tools) if i % 2 == 0 else list(reversed(tools))
            for tool in order:
                runs[tool].append(run_tool(tool, tools[tool], src, work, expect))
                print(tool, runs[tool][-1], flush=True)
        # What the design choices cost: hashing the finished archive again (ArchiveInfo.sha256)
        # and what a hash-then-write packer would add (a second read of the tree).
        run_tool("ours", tools["ours"], src, work, expect)
        t0 = time.perf_counter()
        sha256_file(work / "ours.mcpb")
        hash_archive = time.perf_counter() - t0
        t0 = time.perf_counter()
        tree_digests(src)
        second_read = time.perf_counter() - t0
        results: dict[str, Any] = {
            "design_costs_s": {
                "sha256_of_archive_after_writing": round(hash_archive, 3),
                "second_read_and_hash_of_tree": round(second_read, 3),
            },
            "tree": {"files": len(expect), "bytes": size},
            "repeat": args.repeat,
            "main": {t: summarize(r) for t, r in runs.items()},
            "scale": {},
            "machine": machine(),
        }
        for mb in args.scale:
            big = work / f"tree{mb}"
            big_expect = generate(big, args.files, mb, seed=mb)
            results["scale"][str(mb)] = {
                t: run_tool(t, exe, big, work, big_expect) for t, exe in tools.items()
            }
            shutil.rmtree(big)
        if args.scale:
            results["scale"][str(args.mb)] = {t: runs[t][0] for t in tools}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "results.md").write_text(render(results))
    print(render(results))


if __name__ == "__main__":
    main()
