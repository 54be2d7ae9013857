"""``python -m mcpb.bundler.demo`` (``./dev demo``): pack the example server and show the bundle.

Steps, each through the real ``mcpb`` command: ``validate`` the project, ``pack`` it, ``info``
and ``validate`` the bundle, ``unpack`` it, then start the unpacked server over stdio and call
one of its tools with plain JSON-RPC, to show the bundle works. Output goes to a temporary
directory unless ``--out DIR`` is given. Needs nothing beyond the workspace (``uv sync``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcpb.bundle.errors import McpbError

EXAMPLE = "hello-python"
PROTOCOL_VERSION = "2025-06-18"
_TIMEOUT_S = 30.0
# The ``mcpb`` console script's code, runnable by this interpreter whatever its PATH says.
MCPB_ENTRY = "from mcpb.bundler.cli import main; main(prog_name='mcpb')"


def find_example(name: str = EXAMPLE) -> Path:
    """``examples/NAME`` of the source checkout this package runs from, else of the cwd."""
    here = Path(__file__).resolve()
    for base in (*here.parents, Path.cwd()):
        candidate = base / "examples" / name
        if (candidate / "manifest.json").is_file():
            return candidate
    raise McpbError(f"examples/{name}: not found (run the demo from the repository checkout)")


def run_mcpb(args: Sequence[str]) -> str:
    """Run ``mcpb ARGS`` as a subprocess, echoing the command and its output; fail loudly."""
    print(f"\n$ mcpb {' '.join(args)}", flush=True)
    proc = subprocess.run(
        [sys.executable, "-c", MCPB_ENTRY, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)
    if proc.returncode != 0:
        raise McpbError(f"mcpb {args[0]} failed with exit status {proc.returncode}")
    return proc.stdout


def call_tool(server_dir: Path, tool: str, arguments: dict[str, Any]) -> Any:
    """Start the unpacked example over stdio, initialize, call one tool, return its result."""
    env = dict(os.environ, GREETING="demo", PYTHONPATH=str(server_dir / "server" / "lib"))
    proc = subprocess.Popen(
        [sys.executable, str(server_dir / "server" / "main.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=server_dir,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        init = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}}
        init["clientInfo"] = {"name": "mcpb-demo", "version": "0"}
        _send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
        _receive(proc, 1)
        _send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        params = {"name": tool, "arguments": arguments}
        _send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params})
        return _receive(proc, 2)
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _send(proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()


def _receive(proc: subprocess.Popen[str], request_id: int) -> Any:
    """Read lines until the response to ``request_id``; skip notifications and logs."""
    assert proc.stdout is not None
    deadline = time.monotonic() + _TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise McpbError(f"example server exited (status {proc.poll()}) before answering")
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("id") == request_id:
            if "error" in message:
                raise McpbError(f"example server answered with an error: {message['error']}")
            return message.get("result")
    raise McpbError("example server did not answer in time")


def demo(out: Path) -> Path:
    """Run every step into ``out``; return the bundle's path."""
    example = find_example()
    out.mkdir(parents=True, exist_ok=True)
    run_mcpb(["validate", str(example)])
    run_mcpb(["pack", str(example), str(out) + "/"])
    bundles = sorted(out.glob("*.mcpb"), key=lambda p: p.stat().st_mtime)
    bundle = bundles[-1]
    run_mcpb(["info", str(bundle)])
    run_mcpb(["validate", str(bundle)])
    unpacked = out / bundle.stem
    if unpacked.exists():
        unpacked = Path(tempfile.mkdtemp(prefix=f"{bundle.stem}.", dir=out)) / "bundle"
    run_mcpb(["unpack", str(bundle), str(unpacked)])
    print(f"\n$ (stdio) tools/call greet {{'name': 'mcpb'}}  # server from {unpacked}")
    if importlib.util.find_spec("mcp") is None:
        # a plain pack vendors no dependencies; the server needs the `mcp` SDK from this venv
        print("-> skipped: the `mcp` package is not installed here (`uv sync` installs it)")
        return bundle
    result = call_tool(unpacked, "greet", {"name": "mcpb"})
    texts = [c.get("text") for c in result.get("content", []) if isinstance(c, dict)]
    print(f"-> {' '.join(t for t in texts if t)}")
    return bundle


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcpb.bundler.demo", description=__doc__)
    parser.add_argument("--out", type=Path, help="directory for the bundle (default: a temp dir)")
    args = parser.parse_args(argv)
    try:
        if args.out is not None:
            bundle = demo(args.out)
        else:
            with tempfile.TemporaryDirectory(prefix="mcpb-demo.") as tmp:
                bundle = demo(Path(tmp))
    except McpbError as err:
        print(f"demo: error: {err.message}", file=sys.stderr)
        return 1
    print(f"\ndemo: OK ({bundle.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
