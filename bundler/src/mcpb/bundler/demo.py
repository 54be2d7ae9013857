"""``python -m mcpb.bundler.demo`` (``./dev demo``): build a bundle of the example server and
serve it locally over streamable HTTP, no Docker needed.

Steps, each through the real ``mcpb`` command: ``build`` examples/hello-python for this
machine's platform (dependencies vendored into the bundle), ``info`` the bundle, then ``run`` it
(verify, extract into the cache, bridge stdio to HTTP) and call one of its tools over HTTP as
any MCP client would. With ``--check`` the demo stops there; otherwise it keeps serving until
Ctrl-C so you can point your own client at it.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcpb.bundle.digest import sha256_file
from mcpb.bundle.errors import McpbError
from mcpb.bundle.platform import host_platform
from mcpb.bundler.naming import bundle_file_name
from mcpb.bundler.readiness import wait_ready
from mcpb.loader.process_group import kill_group_now
from mcpb.mcphttp.serve import free_port

EXAMPLE = "hello-python"
PROTOCOL_VERSION = "2025-06-18"
_TIMEOUT_S = 60.0
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


def mcpb_argv(args: Sequence[str]) -> list[str]:
    """The command line of ``mcpb ARGS`` under this interpreter."""
    return [sys.executable, "-c", MCPB_ENTRY, *args]


def run_mcpb(args: Sequence[str]) -> str:
    """Run ``mcpb ARGS`` as a subprocess, echoing the command and its output; fail loudly."""
    print(f"\n$ mcpb {' '.join(args)}", flush=True)
    proc = subprocess.run(mcpb_argv(args), capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)
    if proc.returncode != 0:
        raise McpbError(f"mcpb {args[0]} failed with exit status {proc.returncode}")
    return proc.stdout


class HttpClient:
    """Just enough of an MCP streamable-HTTP client to show the served bundle answering."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: str | None = None
        self.next_id = 1

    def post(self, method: str, params: dict[str, Any] | None = None) -> Any:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        is_request = not method.startswith("notifications/")
        if is_request:
            message["id"] = self.next_id
            self.next_id += 1
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": PROTOCOL_VERSION,
        }
        if self.session:
            headers["Mcp-Session-Id"] = self.session
        request = urllib.request.Request(  # noqa: S310 - the URL is our own loopback one
            self.url, data=json.dumps(message).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
            self.session = response.headers.get("Mcp-Session-Id", self.session)
            body = response.read().decode()
            kind = response.headers.get("Content-Type", "")
        if not is_request:
            return None
        return _response_for(message["id"], body, is_sse=kind.startswith("text/event-stream"))


def _response_for(request_id: int, body: str, *, is_sse: bool) -> Any:
    """The result of ``request_id`` from a JSON body or the ``data:`` lines of an SSE body."""
    payloads = (
        [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
        if is_sse
        else [body]
    )
    for payload in payloads:
        message = json.loads(payload)
        if isinstance(message, dict) and message.get("id") == request_id:
            if "error" in message:
                raise McpbError(f"the served bundle answered with an error: {message['error']}")
            return message.get("result")
    raise McpbError(f"no response to request {request_id} in the HTTP answer")


def call_served_tool(url: str) -> str:
    """initialize, tools/list and tools/call greet over HTTP; print and return the greeting."""
    client = HttpClient(url)
    init = client.post(
        "initialize",
        {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcpb-demo", "version": "0"},
        },
    )
    client.post("notifications/initialized")
    server = init.get("serverInfo", {})
    print(f"-> initialize: {server.get('name')} {server.get('version') or ''}".rstrip())
    tools = sorted(t["name"] for t in client.post("tools/list", {})["tools"])
    print(f"-> tools/list: {', '.join(tools)}")
    result = client.post("tools/call", {"name": "greet", "arguments": {"name": "mcpb"}})
    text = " ".join(c.get("text", "") for c in result.get("content", []) if isinstance(c, dict))
    print(f"-> tools/call greet {{'name': 'mcpb'}}: {text}")
    return text


def _exit_reason(server: subprocess.Popen[bytes]) -> str | None:
    code = server.poll()
    return None if code is None else f"mcpb run exited with status {code}"


def serve(bundle: Path, *, port: int, cache: Path, check: bool) -> None:
    """``mcpb run`` the bundle, call it over HTTP, then keep serving unless ``check``."""
    digest = sha256_file(bundle)
    args = ["run", str(bundle), "--sha256", digest, "--port", str(port)]
    args += ["--cache-dir", str(cache)]
    print(f"\n$ mcpb {' '.join(args)}", flush=True)
    server = subprocess.Popen(mcpb_argv(args), start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(base, exited=lambda: _exit_reason(server), timeout=_TIMEOUT_S)
        except (RuntimeError, TimeoutError) as err:
            raise McpbError(str(err)) from None
        call_served_tool(f"{base}/mcp")
        if check:
            return
        print(f"\nServing {bundle.name} on {base}/mcp (health: {base}/health). Ctrl-C to stop.")
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kill_group_now(server)


def demo(out: Path, *, port: int, check: bool) -> Path:
    """Build into ``out`` and serve; return the bundle's path."""
    example = find_example()
    platform = host_platform()
    out.mkdir(parents=True, exist_ok=True)
    run_mcpb(["build", str(example), "--platform", str(platform), "-o", str(out)])
    manifest = json.loads((example / "manifest.json").read_text())
    bundle = out / bundle_file_name(manifest["name"], manifest["version"], platform)
    run_mcpb(["info", str(bundle)])
    serve(bundle, port=port, cache=out / "cache", check=check)
    return bundle


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcpb.bundler.demo", description=__doc__)
    parser.add_argument("--out", type=Path, help="directory for the bundle (default: a temp dir)")
    parser.add_argument("--port", type=int, default=8000, help="port to serve on (0: any free)")
    parser.add_argument("--check", action="store_true", help="stop after the first tool call")
    args = parser.parse_args(argv)
    port = args.port or free_port()
    try:
        if args.out is not None:
            bundle = demo(args.out, port=port, check=args.check)
        else:
            with tempfile.TemporaryDirectory(prefix="mcpb-demo.") as tmp:
                bundle = demo(Path(tmp), port=port, check=args.check)
    except McpbError as err:
        print(f"demo: error: {err.message}", file=sys.stderr)
        return 1
    print(f"\ndemo: OK ({bundle.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
