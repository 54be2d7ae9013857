"""Cold start of ``mcpb run`` from a cached bundle to the first answered ``tools/list``.

usage: uv run --no-sync python -m bench.bridge.coldstart [--runs 5] [--out FILE] [--no-bytecode]

Builds a real mcp-server-time bundle the way the MCPB spec lays Python out (dependencies
vendored under ``server/lib``, ``PYTHONPATH`` set in ``mcp_config.env``), packs it with
``mcpb pack``, starts ``mcpb run`` once to fill the cache, then ``--runs`` times measures from
process start to the first ``tools/list`` answered over HTTP (one initialize, one list),
interleaved with the floor: the same extracted server spawned directly over stdio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bridge.peers import CACHE
from bench.bridge.run import stop_group, write_replacing
from bench.bridge.session import open_session, rpc
from tests.support.ports import free_port
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


#: Set by main(): keep PYTHONDONTWRITEBYTECODE=1 in the servers' environment (``--no-bytecode``).
KEEP_DONT_WRITE_BYTECODE = False


def user_env() -> dict[str, str]:
    """This environment, by default without PYTHONDONTWRITEBYTECODE (set on our dev machines,
    not a user's default); ``--no-bytecode`` keeps it set to 1, as many container images do, so
    that only the bytecode the loader wrote when it filled the cache can help."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if KEEP_DONT_WRITE_BYTECODE:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def direct_tools_list(tree: Path, timeout: float = 60.0) -> float:
    """The floor: seconds from spawning the server over stdio to its first tools/list answer."""
    env = {**user_env(), "PYTHONPATH": str(tree / "server" / "lib")}
    argv = [sys.executable, str(tree / "server" / "main.py"), "--local-timezone", "UTC"]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        init = {
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "coldstart", "version": "1"}},
        }  # fmt: skip
        lines = [init, {"jsonrpc": "2.0", "method": "notifications/initialized"}]
        lines.append({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
        proc.stdin.flush()
        while time.perf_counter() - start < timeout:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            if json.loads(line).get("id") == 1:
                return time.perf_counter() - start
        raise RuntimeError(f"no tools/list answer within {timeout}s")
    finally:
        proc.stdin.close()
        proc.kill()
        proc.wait()


def first_tools_list(bundle: Path, cache: Path, timeout: float = 60.0) -> float:
    """Seconds from starting ``mcpb run`` to its first answered tools/list."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    mcpb = str(Path(sys.executable).parent / "mcpb")
    argv = [mcpb, "run", str(bundle), "--port", str(port), "--cache-dir", str(cache)]
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env=user_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE=1 for mcpb run and the floor (as in containers)",
    )
    args = parser.parse_args()
    global KEEP_DONT_WRITE_BYTECODE
    KEEP_DONT_WRITE_BYTECODE = args.no_bytecode
    bundle = build_bundle()
    cache = WORK / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    load_before = os.getloadavg()
    first = first_tools_list(bundle, cache)  # fills the cache (download + verify + extract)
    times, direct = [], []
    (tree,) = (cache / "trees").iterdir()
    for _ in range(args.runs):  # interleaved, so load changes hit both alike
        times.append(first_tools_list(bundle, cache))
        direct.append(direct_tools_list(tree))
    doc = {
        "python_dont_write_bytecode": args.no_bytecode,
        "bundle_bytes": bundle.stat().st_size,
        "first_run_with_extract_s": round(first, 3),
        "cached_runs_s": [round(t, 3) for t in times],
        "cached_median_s": round(statistics.median(times), 3),
        "cached_max_s": round(max(times), 3),
        "direct_stdio_runs_s": [round(t, 3) for t in direct],
        "direct_stdio_median_s": round(statistics.median(direct), 3),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    write_replacing(args.out, json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
