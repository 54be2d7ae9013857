"""The static registry: entries, validation, a built site served by ``python -m http.server``
and read with the official API's shapes, search, and the aggregator reading an entry."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpb.aggregator.sources import read_server_json
from tests.support.ports import free_port
from tests.support.servers import mcpb_executable

OFFICIAL = "io.modelcontextprotocol.registry/official"


def entry(
    name: str, version: str, description: str, tags: list[str], category: str
) -> dict[str, Any]:
    short = name.split("/")[1]
    file = f"{short}-v{version}-linux-amd64.mcpb"
    return {
        "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
        "name": name,
        "description": description,
        "version": version,
        "packages": [
            {
                "registryType": "mcpb",
                "identifier": f"https://github.com/acme/{short}/releases/download/v{version}/{file}",
                "version": version,
                "fileSha256": hashlib.sha256(file.encode()).hexdigest(),
                "transport": {"type": "stdio"},
            }
        ],
        "_meta": {
            "ai.nimbletools.mcp/v1": {
                "runtime": "python:3.13",
                "display": {"category": category, "tags": tags},
                "registry": {"categories": [category], "tags": tags},
            }
        },
    }


def mcpb(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mcpb_executable(), *args], capture_output=True, text=True, cwd=cwd, timeout=60, env=env
    )


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    for doc in (
        entry(
            "io.github.acme/time-mcp",
            "1.2.0",
            "Current time and conversions",
            ["clock"],
            "developer-tools",
        ),
        entry(
            "io.github.acme/notes-mcp",
            "0.3.1",
            "Keeps notes",
            ["writing"],
            "communication-collaboration",
        ),
    ):
        source = tmp_path / f"{doc['name'].split('/')[1]}.json"
        source.write_text(json.dumps(doc))
        added = mcpb("registry", "add", str(source), cwd=tmp_path)
        assert added.returncode == 0, added.stderr
    return tmp_path / "registry"


@pytest.fixture
def served(registry: Path, tmp_path: Path) -> Iterator[str]:
    built = mcpb("registry", "build", "registry", "-o", "site", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port), "--directory",
         str(tmp_path / "site")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"{base}/index.json")
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    yield base
    server.terminate()
    server.wait(5)


def test_entries_live_at_their_names(registry: Path) -> None:
    path = registry / "servers" / "io.github.acme" / "time-mcp" / "server.json"
    assert json.loads(path.read_text())["version"] == "1.2.0"
    checked = mcpb("registry", "validate", str(registry), cwd=registry.parent)
    assert checked.returncode == 0 and "2 valid entries" in checked.stdout


def test_invalid_or_misplaced_entries_are_refused(registry: Path, tmp_path: Path) -> None:
    bad = entry("io.github.acme/bad-mcp", "latest", "x", [], "developer-tools")
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(bad))
    refused = mcpb("registry", "add", str(source), cwd=tmp_path)
    assert refused.returncode == 1 and "version" in refused.stderr and "latest" in refused.stderr
    moved = registry / "servers" / "io.github.acme" / "elsewhere"
    (registry / "servers" / "io.github.acme" / "notes-mcp").rename(moved)
    checked = mcpb("registry", "validate", str(registry), cwd=tmp_path)
    assert checked.returncode == 1
    assert "belongs at" in checked.stderr and "notes-mcp/server.json" in checked.stderr


def test_the_site_answers_the_official_read_paths(served: str) -> None:
    with httpx.Client(follow_redirects=True, timeout=10) as client:
        listing = client.get(f"{served}/v0.1/servers").json()
        assert listing["metadata"] == {"count": 2}
        names = [item["server"]["name"] for item in listing["servers"]]
        assert names == ["io.github.acme/notes-mcp", "io.github.acme/time-mcp"]
        for item in listing["servers"]:
            assert set(item) == {"server", "_meta"}
            official = item["_meta"][OFFICIAL]
            assert set(official) == {"status", "publishedAt", "updatedAt", "isLatest"}
            assert official["status"] == "active" and official["isLatest"] is True
        encoded = "io.github.acme%2Ftime-mcp"
        latest = client.get(f"{served}/v0.1/servers/{encoded}/versions/latest").json()
        assert latest["server"]["version"] == "1.2.0"
        exact = client.get(f"{served}/v0.1/servers/{encoded}/versions/1.2.0").json()
        assert exact == latest
        versions = client.get(f"{served}/v0.1/servers/{encoded}/versions").json()
        assert versions["metadata"] == {"count": 1}
        assert client.get(f"{served}/v0.1/servers/{encoded}/versions/9.9.9").status_code == 404


def test_the_same_entries_give_the_same_bytes(registry: Path, tmp_path: Path) -> None:
    env = {"SOURCE_DATE_EPOCH": "1700000000", "PATH": "/usr/bin:/bin"}
    for out in ("one", "two"):
        assert (
            mcpb("registry", "build", "registry", "-o", out, cwd=tmp_path, env=env).returncode == 0
        )
    files = sorted(
        p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file()
    )
    assert files
    for relative in files:
        assert (tmp_path / "one" / relative).read_bytes() == (
            tmp_path / "two" / relative
        ).read_bytes()
    listing = json.loads((tmp_path / "one" / "v0.1" / "servers" / "index.html").read_text())
    assert listing["servers"][0]["_meta"][OFFICIAL]["publishedAt"] == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize(("query", "found"), [
    ("clock", ["io.github.acme/time-mcp"]),
    ("communication", ["io.github.acme/notes-mcp"]),
    ("NOTES", ["io.github.acme/notes-mcp"]),
    ("acme", ["io.github.acme/notes-mcp", "io.github.acme/time-mcp"]),
    ("nothing-like-this", []),
])  # fmt: skip
def test_search_a_site_url_a_site_folder_and_a_source_registry(
    served: str, registry: Path, tmp_path: Path, query: str, found: list[str]
) -> None:
    for where in (served, str(tmp_path / "site"), str(registry)):
        done = mcpb("registry", "search", query, "--registry", where, "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert [s["name"] for s in json.loads(done.stdout)] == found, where


def test_the_aggregator_reads_a_registry_answer_as_a_server_json(
    served: str, tmp_path: Path
) -> None:
    url = f"{served}/v0.1/servers/io.github.acme%2Ftime-mcp/versions/latest"
    doc = read_server_json("time", url, tmp_path / "cache")
    assert doc["name"] == "io.github.acme/time-mcp"
    assert doc["packages"][0]["registryType"] == "mcpb"
