"""Seven published MCP servers, each built with one ``mcpb build`` command (the check on, as
by default) and answering a real tool call from the official SDK client through ``mcpb run``.

The bundles are built for both platforms from the configured package indexes; everything a
call touches is on this machine (a git repository, a directory, a page served on loopback).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mcpb.bundle.extract import open_bundle
from tests.support.loader_bundles import free_port, reap, start_loader, wait_http
from tests.support.mcp_calls import list_and_call
from tests.support.published import CASES, PageServer, Published, PublishedBundles
from tests.support.servers import mcpb_executable

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_built_checked_and_called_through_mcpb_run(
    case: Published, published: PublishedBundles, page_server: PageServer, tmp_path: Path
) -> None:
    built = published.get(case)
    assert sorted(built.bundles) == ["linux/amd64", "linux/arm64"]
    assert built.checks["linux/amd64"]["status"] == "passed"
    assert case.tool in built.checks["linux/amd64"]["tools"]
    assert built.checks["linux/arm64"]["status"] == "skipped"
    assert "this machine is linux/amd64" in built.checks["linux/arm64"]["reason"]
    with open_bundle(built.amd64) as bundle:
        manifest, meta = bundle.manifest_data, bundle.meta
    assert meta is not None and meta.runtime == case.runtime
    name = case.source.split(":", 1)[1].rsplit("@", 1)[0].split("==")[0]
    assert name.rsplit("/", 1)[-1] in meta.dependencies or name in meta.dependencies
    for key in case.config(built.data):
        assert manifest["user_config"][key]["required"] is True

    port = free_port()
    argv = [mcpb_executable(), "run", str(built.amd64), "--port", str(port)]
    argv += ["--cache-dir", str(tmp_path / "cache")]
    for key, value in case.config(built.data).items():
        argv += ["--user-config", f"{key}={value}"]
    proc = start_loader(dict(os.environ), *argv)
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc, timeout=60)
        tools, text = list_and_call(
            f"http://127.0.0.1:{port}/mcp", case.tool, case.arguments(built.data, page_server.url)
        )
    finally:
        reap(proc)
    assert case.tool in tools
    assert case.expect in text, text
    if case.writes is not None:  # configured through user_config, outside the bundle
        assert case.written in case.writes(built.data).read_text()


def test_duckdb_pinned_records_mcp_1(published: PublishedBundles) -> None:
    """``--with 'mcp<2'`` is what made duckdb work: its record shows mcp 1.x."""
    duck = next(c for c in CASES if c.label == "duckdb")
    with open_bundle(published.get(duck).amd64) as bundle:
        assert bundle.meta is not None
        assert bundle.meta.dependencies["mcp"].startswith("1.")


def test_a_broken_server_fails_the_build_with_its_stderr(tmp_path: Path) -> None:
    """duckdb 1.1.0 without the pin resolves mcp 2 and crashes at start: the check catches it
    and nothing is published."""
    out = tmp_path / "dist"
    proc = subprocess.run(
        [
            mcpb_executable(), "build", "pypi:mcp-server-duckdb==1.1.0", "-p", "linux/amd64",
            "-o", str(out), "--user-config", "db_path:file:required",
            "--arg=--db-path", "--arg", "${user_config.db_path}",
        ],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "mcpb: error: --check: the built server did not answer initialize" in proc.stderr
    assert "AttributeError: 'Server' object has no attribute 'list_resources'" in proc.stderr
    assert list(out.iterdir()) == []


def test_a_missing_required_value_names_every_key_and_both_ways(
    published: PublishedBundles, tmp_path: Path
) -> None:
    filesystem = next(c for c in CASES if c.label == "filesystem")
    built = published.get(filesystem)
    proc = subprocess.run(
        [mcpb_executable(), "run", str(built.amd64), "--port", str(free_port()),
         "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 78
    last = proc.stderr.strip().splitlines()[-1]
    assert last.endswith(
        "user_config.allowed_directories: required but no value was given and it has no "
        "default; user_config keys: allowed_directories (directory, required, multiple: one "
        "value or a JSON array; MCPB_USER_CONFIG_ALLOWED_DIRECTORIES); pass values as "
        "--user-config KEY=VALUE (mcpb run) or MCPB_USER_CONFIG_<KEY>=VALUE (the images)"
    )
