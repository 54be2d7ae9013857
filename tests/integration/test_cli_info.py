"""``mcpb info``: manifest summary, our platform/runtime data, counts, sizes, SHA256, signature."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mcpb.bundle.archive import Entry
from mcpb.bundle.meta import pack_bundle
from mcpb.bundler.cli import main

MANIFEST: dict[str, Any] = {
    "manifest_version": "0.3",
    "name": "weather",
    "display_name": "Weather Tools",
    "version": "2.0.1",
    "description": "Forecasts over MCP",
    "author": {"name": "Ada", "email": "ada@example.org"},
    "server": {
        "type": "python",
        "entry_point": "server/main.py",
        "mcp_config": {
            "command": "python3",
            "args": ["${__dirname}/server/main.py", "--units", "metric"],
            "env": {"PYTHONPATH": "${__dirname}/server/lib"},
        },
    },
    "tools": [{"name": "forecast"}, {"name": "alerts", "description": "d"}],
    "user_config": {
        "api_key": {"type": "string", "title": "Key", "description": "d", "sensitive": True},
        "city": {"type": "string", "title": "City", "description": "d"},
    },
}


# Long enough to wrap: the text form breaks between items, never inside one.
DEPENDENCIES = {f"package-number-{i}": f"1.{i}.0" for i in range(8)}


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def make_bundle(tmp_path: Path) -> Path:
    out = tmp_path / "weather-v2.0.1-linux-amd64.mcpb"
    files = [
        Entry.from_bytes("server/main.py", b"print('forecast')\n"),
        Entry.from_bytes("server/lib/pkg/__init__.py", b"x = 1\n" * 300),
        Entry.from_bytes("bin/helper", b"#!/bin/sh\n", executable=True),
    ]
    pack_bundle(
        MANIFEST,
        files,
        out,
        platform="linux/amd64",
        runtime="python:3.13",
        python="3.13",
        dependencies=DEPENDENCIES,
    )
    return out


def test_info_text(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    with zipfile.ZipFile(bundle) as zf:
        unpacked = sum(i.file_size for i in zf.infolist())
    result = run("info", bundle)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:14] == [
        "weather 2.0.1  (Weather Tools)",
        "  description:  Forecasts over MCP",
        "  author:       Ada",
        "  manifest:     0.3",
        "  server:       python, entry point server/main.py",
        "  command:      python3 ${__dirname}/server/main.py --units metric",
        "  platform:     linux/amd64",
        "  runtime:      python:3.13",
        "  tools:        forecast, alerts",
        "  user config:  api_key, city",
        "  dependencies: 8 vendored",
        "                package-number-0 1.0.0; package-number-1 1.1.0; package-number-2 1.2.0;",
        "                package-number-3 1.3.0; package-number-4 1.4.0; package-number-5 1.5.0;",
        "                package-number-6 1.6.0; package-number-7 1.7.0",
    ]
    assert lines[14].startswith(f"  files:        4 ({unpacked / 1000:.1f} kB unpacked, ")
    assert lines[15:] == [
        "  sha256 record: 3 files",
        f"  sha256:       {digest}",
        "  signature:    unsigned",
    ]


def test_info_json(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    result = run("info", bundle, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    with zipfile.ZipFile(bundle) as zf:
        unpacked = sum(i.file_size for i in zf.infolist())
    assert data == {
        "path": str(bundle),
        "sha256": hashlib.sha256(bundle.read_bytes()).hexdigest(),
        "size": bundle.stat().st_size,
        "name": "weather",
        "display_name": "Weather Tools",
        "version": "2.0.1",
        "description": "Forecasts over MCP",
        "author": "Ada",
        "manifest_version": "0.3",
        "server_type": "python",
        "entry_point": "server/main.py",
        "command": "python3 ${__dirname}/server/main.py --units metric",
        "platform": "linux/amd64",
        "runtime": "python:3.13",
        "python": "3.13",
        "file_count": 4,
        "uncompressed_size": unpacked,
        "record_files": 3,
        "tools": ["forecast", "alerts"],
        "user_config": ["api_key", "city"],
        "dependencies": DEPENDENCIES,
        "signature": {
            "status": "unsigned",
            "subject": None,
            "issuer": None,
            "fingerprint": None,
            "valid_from": None,
            "valid_to": None,
            "error": None,
        },
    }


def test_info_on_a_foreign_zip_without_our_data(tmp_path: Path) -> None:
    bundle = tmp_path / "plain.mcpb"
    manifest = dict(MANIFEST, manifest_version="0.2")
    del manifest["display_name"]
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"dxt_version": "0.1", **manifest}))
        zf.writestr("server/main.py", "x")
    data = json.loads(run("info", bundle, "--json").stdout)
    assert data["platform"] is None and data["record_files"] is None
    assert data["manifest_version"] == "0.2"
    assert data["file_count"] == 2
    text = run("info", bundle).stdout
    assert "  platform:     any (not recorded)" in text
    assert "  sha256 record: none" in text
    assert "runtime:" not in text


def test_info_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run("info", tmp_path / "nope.mcpb")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


@pytest.mark.parametrize(
    ("runtime", "python", "shown"),
    [
        ("python:3.13", "3.13", "python:3.13"),
        ("node:20", None, "node:20"),
        ("binary", None, "binary"),
        (None, "3.11", "python:3.11"),
        ("python", "3.11", "python (python 3.11)"),
    ],
)
def test_the_runtime_line_names_the_bundles_own_runtime(
    runtime: str | None, python: str | None, shown: str
) -> None:
    from mcpb.bundler.summary import runtime_text

    assert runtime_text(runtime, python) == shown
