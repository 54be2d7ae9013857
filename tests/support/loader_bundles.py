"""Small real bundles for loader tests, packed with the project's own writer.

Each bundle runs its server with the test interpreter (``sys.executable``) so it finds the
``mcp`` SDK installed in the dev environment; the manifest is otherwise ordinary.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from mcpb.bundle.archive import Entry
from mcpb.bundle.meta import pack_bundle
from tests.support.manifests import minimal_manifest
from tests.support.ports import free_port as free_port

REPO = Path(__file__).resolve().parents[2]

# A stdio MCP server (bridged by the loader).
STDIO_SERVER = '''
import os
from mcp.server.mcpserver import MCPServer

server = MCPServer("loader-stdio")

@server.tool()
def echo(text: str) -> str:
    """Echo TEXT back with the configured greeting."""
    return f"{os.environ.get('GREETING', '')}:{text}"

@server.tool()
def getenv(name: str) -> str:
    """The server's environment variable NAME, or <unset>."""
    return os.environ.get(name, "<unset>")

server.run()
'''

# An MCP server that is an HTTP server itself (proxied by the loader).
HTTP_SERVER = '''
import os
from mcp.server.mcpserver import MCPServer

server = MCPServer("loader-http")

@server.tool()
def echo(text: str) -> str:
    """Echo TEXT back with the configured greeting and the port we were given."""
    return f"{os.environ.get('GREETING', '')}:{text}:{os.environ['PORT']}"

server.run("streamable-http", host=os.environ["HOST"], port=int(os.environ["PORT"]),
           streamable_http_path=os.environ.get("MCP_PATH", "/mcp"))
'''

# A plain HTTP server for process tests: writes its pids, spawns a grandchild in its group and
# an orphan (re-parented to the nearest subreaper), optionally ignores SIGTERM or exits early.
PROCESS_SERVER = """
import http.server, json, os, signal, subprocess, sys, time
out = os.environ["PIDS_FILE"]
mode = os.environ.get("MODE", "")
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if mode.startswith("exit-"):
    sys.exit(int(mode[5:]))
grandchild = subprocess.Popen(["sleep", "1000"])
orphan = subprocess.run(["sh", "-c", "sleep 1.5 >/dev/null 2>&1 & echo $!"],
                        capture_output=True, text=True).stdout.strip()
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump({"server": os.getpid(), "grandchild": grandchild.pid, "orphan": int(orphan)}, f)
os.replace(tmp, out)

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"pong"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

http.server.HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), H).serve_forever()
"""


def manifest(name: str = "loader-test", **extra: Any) -> dict[str, Any]:
    """A valid 0.3 manifest running ``server/main.py`` with this interpreter."""
    data = minimal_manifest(
        name=name,
        description="loader test bundle",
        server={
            "type": "python",
            "entry_point": "server/main.py",
            "mcp_config": {
                "command": sys.executable,
                "args": ["${__dirname}/server/main.py"],
                "env": {"GREETING": "${user_config.greeting}"},
            },
        },
        user_config={
            "greeting": {
                "type": "string",
                "title": "Greeting",
                "description": "prefix of echo results",
                "default": "hi",
            }
        },
    )
    data.update(extra)
    return data


def make_bundle(
    out: Path,
    source: str,
    *,
    transport: str | None = None,
    platform: str | None = None,
    python: str | None = None,
    manifest_data: dict[str, Any] | None = None,
) -> tuple[Path, str]:
    """Pack ``source`` as ``server/main.py``; return the bundle path and its SHA-256."""
    info = pack_bundle(
        manifest_data or manifest(),
        [Entry.from_bytes("server/main.py", source.encode())],
        out,
        platform=platform,
        python=python,
        transport=transport,
    )
    return info.path, info.sha256


def loader_env(**values: str) -> dict[str, str]:
    """The test environment plus loader variables; quiet logs unless asked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUNDLE_", "MCPB_"))}
    env.update(values)
    return env


def start_loader(env: dict[str, str], *argv: str) -> subprocess.Popen[bytes]:
    """``python -m mcpb.loader`` (or the given argv) as a real process."""
    cmd = list(argv) or [sys.executable, "-m", "mcpb.loader"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """Poll ``url`` until it answers 200; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"loader exited {proc.returncode} before {url}:\n{out}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return int(resp.status)
        except OSError as err:
            last = err
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready after {timeout}s: {last}")


def reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` if a failed test left it running, and reap it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
