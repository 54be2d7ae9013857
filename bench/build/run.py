"""Build benchmark: ``mcpb build`` against the common recipe, same run, cold and warm caches.

usage (from the repository root, after ``uv sync``)::

    uv run --no-sync python bench/build/run.py [--package mcp-server-time==VERSION]
        [--cold 2] [--warm 3] [--work DIR]

Both sides build the same pinned PyPI package for linux/amd64 and linux/arm64 (Python 3.11):

* ours: ``mcpb build pypi:NAME==VERSION -o OUT`` (one command, both platforms);
* the recipe: per platform ``uv pip install --target DIR/server/lib --python-platform
  {x86_64,aarch64}-manylinux_2_28 --python-version 3.11 --only-binary :all: NAME==VERSION``,
  then the reference CLI's ``mcpb pack DIR OUT`` (npm @anthropic-ai/mcpb). The recipe gets the
  same manifest.json and server/main.py launcher as our bundle, so only vendoring and packing
  differ.

"Cold" gives each run an empty ``UV_CACHE_DIR`` (every wheel downloaded again); "warm" reuses one
filled cache. Runs alternate which side goes first. Wall time is measured around the whole
command(s); size is the sum of the two bundles. Writes results.json and results.md here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO)]

from tests.support.npm import REFERENCE_MCPB, npm_bin  # noqa: E402

MCPB = Path(sys.executable).with_name("mcpb")
PLATFORMS = {"amd64": "x86_64-manylinux_2_28", "arm64": "aarch64-manylinux_2_28"}
PYTHON = "3.11"


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["UV_CACHE_DIR"] = str(cache)
    env.pop("UV_COMPILE_BYTECODE", None)
    return env


def children_cpu() -> float:
    """User + system CPU seconds of all waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours(package: str, work: Path, cache: Path) -> tuple[float, int, list[Path]]:
    out = work / "ours"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(
        [str(MCPB), "build", f"pypi:{package}", "-o", str(out), "--json"],
        env=_env(cache),
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - t0
    bundles = sorted(out.glob("*.mcpb"))
    return wall, sum(p.stat().st_size for p in bundles), bundles


def recipe_inputs(bundle: Path) -> tuple[bytes, bytes]:
    """The manifest (without our _meta) and launcher of our bundle, for the recipe to reuse."""
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        launcher = zf.read("server/main.py")
    manifest.pop("_meta", None)
    return (json.dumps(manifest, indent=2) + "\n").encode(), launcher


def run_recipe(
    package: str, work: Path, cache: Path, reference: Path, inputs: tuple[bytes, bytes]
) -> tuple[float, int]:
    manifest, launcher = inputs
    root = work / "recipe"
    shutil.rmtree(root, ignore_errors=True)
    size = 0
    t0 = time.perf_counter()
    for arch, py_platform in PLATFORMS.items():
        project = root / arch / "project"
        (project / "server").mkdir(parents=True)
        (project / "manifest.json").write_bytes(manifest)
        (project / "server" / "main.py").write_bytes(launcher)
        subprocess.run(
            [
                "uv", "pip", "install", "--quiet", "--target", str(project / "server" / "lib"),
                "--python-platform", py_platform, "--python-version", PYTHON,
                "--only-binary", ":all:", package,
            ],
            env=_env(cache),
            check=True,
            capture_output=True,
        )  # fmt: skip
        out = root / arch / f"recipe-{arch}.mcpb"
        subprocess.run(
            [str(reference), "pack", str(project), str(out)],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        size += out.stat().st_size
    return time.perf_counter() - t0, size


def machine() -> dict[str, Any]:
    def out(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return "missing"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "uv": out(["uv", "--version"]),
        "node": out(["node", "--version"]),
        "reference": REFERENCE_MCPB,
        "loadavg_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="mcp-server-time==2026.10.19")
    parser.add_argument("--cold", type=int, default=2)
    parser.add_argument("--warm", type=int, default=3)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    reference = npm_bin(REFERENCE_MCPB, "mcpb")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-build-"))
    info = machine()
    rows: list[dict[str, Any]] = []

    warm_cache = work / "warm-cache"
    _, _, bundles = run_ours(args.package, work, warm_cache)  # fills the warm cache
    inputs = recipe_inputs(bundles[0])
    run_recipe(args.package, work, warm_cache, reference, inputs)

    for mode, count in (("cold", args.cold), ("warm", args.warm)):
        for i in range(count):
            order = ["ours", "recipe"] if i % 2 == 0 else ["recipe", "ours"]
            for side in order:
                cache = work / f"cold-{side}-{i}" if mode == "cold" else warm_cache
                cpu0 = children_cpu()
                if side == "ours":
                    wall, size, _ = run_ours(args.package, work, cache)
                else:
                    wall, size = run_recipe(args.package, work, cache, reference, inputs)
                cpu = children_cpu() - cpu0
                if mode == "cold":
                    shutil.rmtree(cache, ignore_errors=True)
                rows.append(
                    {"mode": mode, "side": side, "run": i, "wall_s": wall, "cpu_s": cpu,
                     "bytes": size, "loadavg": os.getloadavg()[0]}
                )  # fmt: skip
                print(f"{mode} {side} #{i}: {wall:.2f}s wall, {cpu:.2f}s cpu, {size} bytes")

    summary: dict[str, dict[str, float]] = {}
    for mode in ("cold", "warm"):
        for side in ("ours", "recipe"):
            walls = [r["wall_s"] for r in rows if r["mode"] == mode and r["side"] == side]
            sizes = [r["bytes"] for r in rows if r["mode"] == mode and r["side"] == side]
            cpus = [r["cpu_s"] for r in rows if r["mode"] == mode and r["side"] == side]
            summary[f"{mode}/{side}"] = {
                "median_s": round(statistics.median(walls), 3),
                "min_s": round(min(walls), 3),
                "median_cpu_s": round(statistics.median(cpus), 3),
                "bytes": sizes[0],
            }
    info["loadavg_at_end"] = os.getloadavg()
    result = {"package": args.package, "machine": info, "summary": summary, "runs": rows}
    (HERE / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (HERE / "results.md").write_text(render(result))
    print(render(result))


def render(result: dict[str, Any]) -> str:
    s = result["summary"]
    m = result["machine"]
    lines = [
        f"# mcpb build vs uv pip install --target + reference mcpb pack ({result['package']})",
        "",
        "Both platforms (linux/amd64 + linux/arm64), Python 3.11; wall time of the whole build",
        "(median, and best run), CPU time of all its processes (user + system, independent of",
        "the machine's load), size = both bundles together. Every run is in results.json.",
        "",
        "| cache | side | wall median (s) | wall best (s) | CPU (s) | bytes |",
        "|---|---|---|---|---|---|",
    ]
    for mode in ("cold", "warm"):
        for side in ("ours", "recipe"):
            row = s[f"{mode}/{side}"]
            lines.append(
                f"| {mode} | {side} | {row['median_s']:.2f} | {row['min_s']:.2f} | "
                f"{row['median_cpu_s']:.2f} | {row['bytes']} |"
            )
    for mode in ("cold", "warm"):
        ours, recipe = s[f"{mode}/ours"], s[f"{mode}/recipe"]
        lines.append(
            f"\n{mode}: ours/recipe wall {ours['median_s'] / recipe['median_s']:.2f}x, "
            f"CPU {ours['median_cpu_s'] / recipe['median_cpu_s']:.2f}x, "
            f"size {ours['bytes'] / recipe['bytes']:.3f}x"
        )
    lines += [
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores (shared), kernel {m['kernel']}, "
        f"Python {m['python']}, {m['uv']}, node {m['node']}, reference {m['reference']}.",
        f"Load average at start {tuple(round(x, 2) for x in m['loadavg_at_start'])}, "
        f"at end {tuple(round(x, 2) for x in m['loadavg_at_end'])}; {m['date']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
