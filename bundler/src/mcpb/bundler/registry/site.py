"""Build a registry into static files that answer the official API's read paths.

``v0.1/servers`` (every server in one page: ``metadata.count`` is the total and there is no
``nextCursor``, since static hosts ignore query strings and a cursor could not be honoured),
``v0.1/servers/{name}/versions``, ``…/versions/{version}`` and ``…/versions/latest``, each entry
wrapped as the official API wraps it (``{server, _meta: {"io.modelcontextprotocol.registry/
official": {status, publishedAt, updatedAt, isLatest}}}``). A path that is also a folder is
written as the folder's ``index.html`` (what static hosts serve for ``/folder/``; the body is
JSON). A name's ``/`` is written both nested and as a literal ``%2F`` folder, since static hosts
differ in how they decode it. ``index.json`` at the root lists every server for search. The same
entries give the same bytes: timestamps come from ``SOURCE_DATE_EPOCH``, else the entry's last
git commit, else its file's modification time — never the clock.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mcpb.bundler.registry.entries import Entry, validate_registry

OFFICIAL = "io.modelcontextprotocol.registry/official"


def build_site(root: Path, out: Path) -> int:
    """Write the site of registry ``root`` into ``out`` (replaced whole); the server count."""
    entries = validate_registry(root)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    responses = [_response(entry, _stamp(entry.path)) for entry in entries]
    listing = {"servers": responses, "metadata": {"count": len(responses)}}
    _write(staging / "v0.1" / "servers" / "index.html", listing)
    for entry, response in zip(entries, responses, strict=True):
        namespace, short = entry.name.split("/", 1)
        for folder in (
            staging / "v0.1" / "servers" / namespace / short,
            staging / "v0.1" / "servers" / f"{namespace}%2F{short}",
        ):
            versions = folder / "versions"
            _write(versions / "index.html", {"servers": [response], "metadata": {"count": 1}})
            _write(versions / entry.version, response)
            _write(versions / "latest", response)
    _write(staging / "index.json", {"servers": [entry.summary() for entry in entries]})
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return len(entries)


def _response(entry: Entry, stamp: str) -> dict[str, Any]:
    official = {"status": "active", "publishedAt": stamp, "updatedAt": stamp, "isLatest": True}
    return {"server": entry.doc, "_meta": {OFFICIAL: official}}


def _stamp(path: Path) -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        when = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
    else:
        logged = subprocess.run(
            ["git", "log", "-1", "--format=%ct", "--", path.name],
            cwd=path.parent, capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = logged.stdout.strip()
        if logged.returncode == 0 and seconds.isdigit():
            when = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC)
        else:
            when = datetime.datetime.fromtimestamp(int(path.stat().st_mtime), datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
