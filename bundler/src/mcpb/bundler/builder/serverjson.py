"""``server.json`` for the official MCP registry: one ``mcpb`` package per platform.

The document follows the registry schema 2025-12-11 (a copy ships with this package, so
validation needs no network) and is validated with ``jsonschema`` before it is written.
Environment variables are derived from the manifest: every ``mcp_config.env`` entry whose value
refers to ``${user_config.KEY}`` becomes an input described by that user_config option;
constant entries (such as ``PYTHONPATH``) are the bundle's own business and are left out.
Our build data (platform, runtime, digests) goes under ``_meta["io.github.mcpb-toolchain"]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema

from mcpb.bundle.errors import BuildError, UsageError
from mcpb.bundle.meta import META_KEY
from mcpb.bundle.platform import Platform

SCHEMA_FILE = "server.schema.2025-12-11.json"
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
GITHUB_RELEASES = "https://github.com/{repo}/releases/download/v{version}/{file}"
DESCRIPTION_MAX = 100

_USER_CONFIG_REF = re.compile(r"\$\{user_config\.([A-Za-z0-9_.-]+)\}")
_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+")
_SERVER_NAME = re.compile(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+")
_NAME_PART = re.compile(r"[^a-zA-Z0-9._-]+")
_FORMATS = {
    "string": "string",
    "number": "number",
    "boolean": "boolean",
    "directory": "filepath",
    "file": "filepath",
}


@dataclass(frozen=True)
class BuiltBundle:
    """One written bundle: what server.json lists for its platform."""

    platform: Platform
    file_name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Publishing:
    """Where bundles will be downloaded from and under which registry name."""

    base_url: str | None = None
    repo: str | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if self.repo is not None and not _REPO.fullmatch(self.repo):
            raise UsageError(f"--repo {self.repo!r}: expected OWNER/REPO")
        if self.server_name is not None and not _SERVER_NAME.fullmatch(self.server_name):
            raise UsageError(
                f"--server-name {self.server_name!r}: expected NAMESPACE/NAME in reverse-DNS form"
            )
        if self.base_url is not None and not self.base_url.startswith(("https://", "http://")):
            raise UsageError(f"--base-url {self.base_url!r}: expected an http(s) URL")

    def identifier(self, version: str, file_name: str) -> str:
        """The download URL of ``file_name`` (just the file name when no location is known)."""
        if self.base_url:
            if "{file}" in self.base_url:
                return self.base_url.format(version=version, file=file_name)
            return f"{self.base_url.rstrip('/')}/{file_name}"
        if self.repo:
            return GITHUB_RELEASES.format(repo=self.repo, version=version, file=file_name)
        return file_name


def load_schema() -> dict[str, Any]:
    """The official server.json schema shipped as package data."""
    text = resources.files(__package__).joinpath("schemas", SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def registry_name(manifest: Mapping[str, Any], publishing: Publishing, marker: str | None) -> str:
    """``namespace/name``: --server-name, the package's ``mcp-name`` marker, the repo, or local."""
    if publishing.server_name:
        return publishing.server_name
    if marker:
        return marker
    short = _NAME_PART.sub("-", str(manifest.get("name", "server"))).strip("-") or "server"
    if publishing.repo:
        owner = publishing.repo.split("/", 1)[0]
        return f"io.github.{owner}/{short}"
    return f"local/{short}"


def render_server_json(
    manifest: Mapping[str, Any],
    bundles: Sequence[BuiltBundle],
    publishing: Publishing,
    *,
    runtime: str | None = None,
    marker: str | None = None,
) -> dict[str, Any]:
    """The server.json document for ``bundles`` (one package per platform, in platform order)."""
    version = str(manifest["version"])
    env = environment_variables(manifest)
    packages = []
    for bundle in sorted(bundles, key=lambda b: b.platform):
        package: dict[str, Any] = {
            "registryType": "mcpb",
            "identifier": publishing.identifier(version, bundle.file_name),
            "version": version,
            "fileSha256": bundle.sha256,
            "transport": {"type": "stdio"},
        }
        if env:
            package["environmentVariables"] = env
        packages.append(package)
    description = str(manifest.get("description") or manifest["name"]).strip()
    if len(description) > DESCRIPTION_MAX:
        description = description[: DESCRIPTION_MAX - 1].rstrip() + "…"
    doc: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "name": registry_name(manifest, publishing, marker),
        "description": description,
        "version": version,
    }
    title = manifest.get("display_name")
    if isinstance(title, str) and 0 < len(title) <= DESCRIPTION_MAX:
        doc["title"] = title
    repo_url = _repository_url(manifest, publishing)
    if repo_url:
        doc["repository"] = {
            "url": repo_url,
            "source": "github" if "github.com/" in repo_url else "git",
        }
    homepage = manifest.get("homepage")
    if isinstance(homepage, str) and homepage.startswith(("https://", "http://")):
        doc["websiteUrl"] = homepage
    doc["packages"] = packages
    ours: dict[str, Any] = {
        "builds": [
            {"platform": str(b.platform), "file": b.file_name, "sha256": b.sha256, "size": b.size}
            for b in sorted(bundles, key=lambda b: b.platform)
        ]
    }
    if runtime:
        ours["runtime"] = runtime
    doc["_meta"] = {META_KEY: ours}
    return doc


def _repository_url(manifest: Mapping[str, Any], publishing: Publishing) -> str | None:
    if publishing.repo:
        return f"https://github.com/{publishing.repo}"
    repo = manifest.get("repository")
    url = repo.get("url") if isinstance(repo, dict) else None
    return url if isinstance(url, str) and url.startswith("https://") else None


def environment_variables(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Inputs for every ``mcp_config.env`` entry fed from ``user_config``, sorted by name."""
    server = manifest.get("server")
    config = server.get("mcp_config") if isinstance(server, dict) else None
    env = config.get("env") if isinstance(config, dict) else None
    user_config = manifest.get("user_config")
    if not isinstance(env, dict):
        return []
    options = user_config if isinstance(user_config, dict) else {}
    result = []
    for name in sorted(env):
        value = env[name]
        refs = _USER_CONFIG_REF.findall(value) if isinstance(value, str) else []
        if not refs:
            continue
        option = options.get(refs[0])
        option = option if isinstance(option, dict) else {}
        item: dict[str, Any] = {"name": name}
        described = option.get("description") or option.get("title")
        if isinstance(described, str):
            item["description"] = described
        item["isRequired"] = bool(option.get("required", False))
        item["isSecret"] = bool(option.get("sensitive", False))
        fmt = _FORMATS.get(str(option.get("type", "string")))
        if fmt and fmt != "string":
            item["format"] = fmt
        default = option.get("default")
        if default is not None and not isinstance(default, list | dict):
            item["default"] = _as_text(default)
        result.append(item)
    return result


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def validate_server_json(doc: Mapping[str, Any]) -> None:
    """Raise :class:`BuildError` listing every schema violation (path: message)."""
    validator = jsonschema.Draft7Validator(load_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        shown = "; ".join(
            f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in errors[:5]
        )
        raise BuildError(f"server.json: {len(errors)} schema error(s): {shown}")


def dump_server_json(doc: Mapping[str, Any]) -> bytes:
    """Stable, human-readable bytes (key order as built, trailing newline)."""
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
