"""The seven published servers of issue 14, each built with one ``mcpb build`` command.

Each :class:`Published` case says how to build the server (the flags a user would type), what
its configuration is when run, and one real tool call with the text its answer must contain.
Everything a call touches is local: a git repository, a directory, a DuckDB file, a memory file
in the test's directory, and for ``mcp-server-fetch`` a page served on loopback. Versions are
pinned so the suite tests these servers, not whatever was published this morning.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.servers import mcpb_executable

FETCH_MARKER = "mcpb-fetch-marker-7f3a"


@dataclass(frozen=True)
class Published:
    """One server: build flags, run-time configuration, and a call that proves it works.

    ``config`` maps user_config keys to values given the case's data directory; the same values
    feed ``--check-config`` when the check cannot invent them (a git repository).
    """

    label: str
    source: str
    runtime: str
    flags: tuple[str, ...] = ()
    config: Callable[[Path], dict[str, str]] = field(default=lambda _data: {})
    check_config: tuple[str, ...] = ()
    tool: str = ""
    arguments: Callable[[Path, str], dict[str, Any]] = field(default=lambda _d, _u: {})
    expect: str = ""
    # a file the call must leave behind (outside the bundle), and text it must hold
    writes: Callable[[Path], Path] | None = None
    written: str = ""
    # Debian packages the server needs in its base image (``mcpb image build --apt-package``)
    apt_packages: tuple[str, ...] = ()


def _git_repository(data: Path) -> Path:
    repo = data / "repo"
    if not (repo / ".git").is_dir():
        repo.mkdir(parents=True, exist_ok=True)
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
        subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
        (repo / "README.md").write_text("hello\n")
        subprocess.run([*git, "-C", str(repo), "add", "README.md"], check=True)
        subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "first"], check=True)
        (repo / "new.txt").write_text("untracked\n")
    return repo


def _shared_dir(data: Path) -> Path:
    shared = data / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    (shared / "hello.txt").write_text("hello from the filesystem server\n")
    return shared


CASES = (
    Published(
        "time",
        "pypi:mcp-server-time==2026.10.19",
        "python:3.11",
        tool="get_current_time",
        arguments=lambda _d, _u: {"timezone": "Europe/Paris"},
        expect='"timezone": "Europe/Paris"',
    ),
    Published(
        "git",
        "pypi:mcp-server-git==2026.10.19",
        "python:3.11",
        flags=(
            "--user-config",
            "repository:directory:required",
            "--arg=--repository",
            "--arg",
            "${user_config.repository}",
        ),
        config=lambda data: {"repository": str(_git_repository(data))},
        check_config=("repository",),
        apt_packages=("git",),  # GitPython runs the git program
        tool="git_status",
        arguments=lambda data, _u: {"repo_path": str(_git_repository(data))},
        expect="new.txt",
    ),
    Published(
        "fetch",
        "pypi:mcp-server-fetch==2026.10.24",
        "python:3.11",
        # it refuses loopback addresses unless told otherwise; the test page is on loopback
        flags=("--arg=--allow-private-ips",),
        tool="fetch",
        arguments=lambda _d, url: {"url": f"{url}/page.html", "raw": True},
        expect=FETCH_MARKER,
    ),
    Published(
        "filesystem",
        "npm:@modelcontextprotocol/server-filesystem@2026.8.31",
        "node:20",
        flags=(
            "--user-config",
            "allowed_directories:directory:required:multiple",
            "--arg",
            "${user_config.allowed_directories}",
        ),
        config=lambda data: {"allowed_directories": str(_shared_dir(data))},
        tool="list_directory",
        arguments=lambda data, _u: {"path": str(_shared_dir(data))},
        expect="[FILE] hello.txt",
    ),
    Published(
        "memory",
        "npm:@modelcontextprotocol/server-memory@2026.8.31",
        "node:20",
        flags=(
            "--user-config",
            "memory_file:file:required",
            "--env",
            "MEMORY_FILE_PATH=${user_config.memory_file}",
        ),
        config=lambda data: {"memory_file": str(data / "memory.jsonl")},
        tool="create_entities",
        arguments=lambda _d, _u: {
            "entities": [{"name": "mcpb", "entityType": "tool", "observations": ["bundles"]}]
        },
        expect='"name": "mcpb"',
        writes=lambda data: data / "memory.jsonl",
        written='"name":"mcpb"',
    ),
    Published(
        "everything",
        "npm:@modelcontextprotocol/server-everything@2026.8.31",
        "node:20",
        tool="echo",
        arguments=lambda _d, _u: {"message": "bundled"},
        expect="Echo: bundled",
    ),
    Published(
        "duckdb",
        "pypi:mcp-server-duckdb==1.1.0",
        "python:3.11",
        # 1.1.0 allows any mcp>=1.0; mcp 2 removed the decorators it uses
        flags=(
            "--user-config",
            "db_path:file:required",
            "--arg=--db-path",
            "--arg",
            "${user_config.db_path}",
            "--with",
            "mcp<2",
        ),
        config=lambda data: {"db_path": str(data / "answers.duckdb")},
        tool="query",
        arguments=lambda _d, _u: {"query": "SELECT 6 * 7 AS answer"},
        expect="42",
    ),
)


def build_command(case: Published, out: Path, data: Path) -> list[str]:
    """The one command a user types for this server (the check on, as by default)."""
    command = [mcpb_executable(), "build", case.source, "-o", str(out), *case.flags]
    values = case.config(data)
    for key in case.check_config:
        command += ["--check-config", f"{key}={values[key]}"]
    return command


class PageServer:
    """A loopback HTTP server with one page carrying :data:`FETCH_MARKER` (no robots.txt)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        (root / "page.html").write_text(
            f"<html><body><h1>Bundled</h1><p>{FETCH_MARKER}</p></body></html>\n"
        )

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass(frozen=True)
class Built:
    """One case built: its bundles and check outcomes by platform, its data directory."""

    case: Published
    bundles: dict[str, Path]
    checks: dict[str, dict[str, Any]]
    data: Path

    @property
    def amd64(self) -> Path:
        return self.bundles["linux/amd64"]


class PublishedBundles:
    """Builds each case on first use, once per test session (both platforms, as by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[str, Built] = {}

    def get(self, case: Published) -> Built:
        if case.label not in self.built:
            data = self.root / case.label / "data"
            out = self.root / case.label / "dist"
            data.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                [*build_command(case, out, data), "--json"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert proc.returncode == 0, f"{case.label}: build failed:\n{proc.stderr}"
            summary = json.loads(proc.stdout)
            bundles = {b["platform"]: Path(b["file"]) for b in summary["bundles"]}
            self.built[case.label] = Built(case, bundles, summary["checks"], data)
        return self.built[case.label]
