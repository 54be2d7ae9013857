"""Cold start of ``mcpb run`` from a cached bundle to the first answered ``tools/list``.

usage: uv run --no-sync python -m bench.bridge.coldstart [--runs 5] [--out FILE]

Builds a real mcp-server-time bundle the way the MCPB spec lays Python out (dependencies
vendored under ``server/lib``, ``PYTHONPATH`` set in ``mcp_config.env``), packs it with
``mcpb pack``, starts ``mcpb run`` once to fill the cache, then ``--runs`` times measures from
process start to the first ``tools/list`` answered over HTTP (one initialize, one list).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bridge.peers import CACHE
from bench.bridge.run import free_port, stop_group, write_replacing
from bench.bridge.session import open_session, rpc
from tests.support.pypi import MCP_SERVER_TIME

HERE = Path(__file__).resolve().parent
WORK = CACHE / "coldstart"
MAIN = "from mcp_server_time import main\n\nmain()\n"


def manifest() -> dict[str, Any]:
    """A 0.3 manifest running the vendored server with this interpreter."""
    return {
        "manifest_version": "0.3",
        "name": "mcp-server-time",
        "version": MCP_SERVER_TIME[0].split("==")[1],
        "description": "mcp-server-time (PyPI) vendored under server/lib, for the cold-start bench",
        "author": {"name": "mcpb-toolchain bench"},
        "server": {
            "type": "python",
            "entry_point": "server/main.py",
            "mcp_config": {
                "command": sys.executable,
                "args": ["${__dirname}/server/main.py", "--local-timezone", "UTC"],
                "env": {"PYTHONPATH": "${__dirname}/server/lib"},
            },
        },
    }


def build_bundle() -> Path:
    """Vendor mcp-server-time and pack it; reuse the bundle when it is already there."""
    bundle = WORK / "mcp-server-time.mcpb"
    if bundle.exists():
        return bundle
    src = WORK / "src"
    shutil.rmtree(src, ignore_errors=True)
    (src / "server").mkdir(parents=True)
    (src / "manifest.json").write_text(json.dumps(manifest(), indent=2))
    (src / "server" / "main.py").write_text(MAIN)
    uv = shutil.which("uv") or "uv"
    target = str(src / "server" / "lib")
    install = [uv, "pip", "install", "-q", "--python", sys.executable, "--target", target]
    subprocess.run([*install, *MCP_SERVER_TIME], check=True)
    mcpb = str(Path(sys.executable).parent / "mcpb")
    tmp = WORK / "mcp-server-time.mcpb.tmp"
    subprocess.run([mcpb, "pack", str(src), str(tmp)], check=True, stdout=subprocess.DEVNULL)
    tmp.replace(bundle)
    return bundle


def first_tools_list(bundle: Path, cache: Path, timeout: float = 60.0) -> float:
    """Seconds from starting ``mcpb run`` to its first answered tools/list."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    mcpb = str(Path(sys.executable).parent / "mcpb")
    argv = [mcpb, "run", str(bundle), "--port", str(port), "--cache-dir", str(cache)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(timeout=10) as client:
            while time.perf_counter() - start < timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"mcpb run exited {proc.returncode}")
                try:
                    sid, version = open_session(client, url)
                except (httpx.HTTPError, RuntimeError):
                    time.sleep(0.005)
                    continue
                hdrs = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": version}
                msg = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
                _, reply = rpc(client, url, msg, hdrs)
                tools = [t["name"] for t in (reply or {}).get("result", {}).get("tools", [])]
                if "get_current_time" not in tools:
                    raise RuntimeError(f"tools/list answered {reply}")
                return time.perf_counter() - start
        raise RuntimeError(f"no tools/list answer within {timeout}s")
    finally:
        stop_group(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "coldstart.json")
    args = parser.parse_args()
    bundle = build_bundle()
    cache = WORK / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    first = first_tools_list(bundle, cache)  # fills the cache (download + verify + extract)
    times = [first_tools_list(bundle, cache) for _ in range(args.runs)]
    doc = {
        "bundle_bytes": bundle.stat().st_size,
        "first_run_with_extract_s": round(first, 3),
        "cached_runs_s": [round(t, 3) for t in times],
        "cached_median_s": round(statistics.median(times), 3),
        "cached_max_s": round(max(times), 3),
    }
    write_replacing(args.out, json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
