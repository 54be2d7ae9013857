"""``mcpb registry search``: find servers in a built site (URL or folder) or a source registry.

Matches the query, case-insensitively, in the name, the description, and the tags and
categories of NimbleTools' ``_meta`` block.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from mcpb.bundle.errors import UsageError
from mcpb.bundler.registry.entries import read_entries


def load_index(where: str) -> list[dict[str, Any]]:
    """The servers of a site (``URL`` or folder with ``index.json``) or a source registry."""
    if where.startswith(("http://", "https://")):
        try:
            response = httpx.get(f"{where.rstrip('/')}/index.json", timeout=30)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise UsageError(f"{where}: cannot read its index.json: {err}") from None
        return list(data.get("servers", []))
    folder = Path(where)
    index = folder / "index.json"
    if index.is_file():
        return list(json.loads(index.read_text("utf-8")).get("servers", []))
    return [entry.summary() for entry in read_entries(folder)]


def search(servers: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """The servers matching ``query``."""
    needle = query.lower()

    def text(server: dict[str, Any]) -> str:
        parts = [server.get("name"), server.get("description"), server.get("title")]
        parts += list(server.get("tags") or []) + list(server.get("categories") or [])
        return " ".join(str(p) for p in parts if p).lower()

    return [server for server in servers if needle in text(server)]
