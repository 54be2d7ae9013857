"""Authoring ``server.json``: start one from a project, fill its packages from a build, check it.

* :func:`init_document` — from a project directory or a ``manifest.json``: the registry name in
  reverse-DNS form, title, description, version, repository, and the environment variables
  the manifest feeds from ``user_config`` (the build's own rendering, with no packages yet);
  optionally NimbleTools' ``_meta["ai.nimbletools.mcp/v1"]`` block, written in both spellings
  its tools read (``display.{category,tags}`` for the registry schema, ``registry.{categories,
  tags}`` for the control plane).
* :func:`set_packages` — one ``mcpb`` package per bundle listed in a dist's ``SHA256SUMS``, at
  ``BASE_URL/FILE`` with its ``fileSha256``.
* :func:`check_document` — the official 2025-12-11 schema, our ``_meta`` record, and the
  official registry's rules for ``mcpb`` packages (``../shared/reference/publishing.md`` §7):
  https, no ``registryBaseUrl``, "mcp" in the URL, a GitHub/GitLab release path (a warning, an
  error when strict), versions never ``latest``, identifiers naming ``.mcpb`` files; with a
  dist folder, each ``fileSha256`` against the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from mcpb.bundle.digest import parse_sha256sums, sha256_file
from mcpb.bundle.errors import UsageError
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object
from mcpb.bundle.meta import META_KEY
from mcpb.bundler.builder.serverjson import Publishing, load_schema, render_server_json

NIMBLETOOLS_KEY = "ai.nimbletools.mcp/v1"
ALLOWED_HOSTS = ("github.com", "www.github.com", "gitlab.com", "www.gitlab.com")
_GITHUB_PATH = re.compile(
    r"^/([a-zA-Z0-9]([a-zA-Z0-9\-]{0,37}[a-zA-Z0-9])?)/([a-zA-Z0-9._\-]+)"
    r"/releases/download/([^/]+)/([^/]+)$"
)
_GITLAB_PATH = re.compile(r"^/.+/-/(releases/[^/]+/downloads/[^/]+|package_files/\d+/download)$")
_NIMBLE_RUNTIME = re.compile(r"^((python|node|supergateway-python):[0-9]+\.?[0-9]*|binary(:.+)?)$")
_NIMBLE_CATEGORIES = (
    "ai-ml",
    "data-intelligence",
    "communication-collaboration",
    "business-finance",
    "developer-tools",
    "infrastructure-data",
)
_OUR_META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "runtime": {"type": "string"},
        "builds": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["platform", "file", "sha256"],
                "properties": {
                    "platform": {"type": "string", "pattern": "^linux/(amd64|arm64)$"},
                    "file": {"type": "string", "pattern": r"\.mcpb$"},
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "size": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class NimbleOptions:
    """NimbleTools deployment data for ``_meta["ai.nimbletools.mcp/v1"]``."""

    runtime: str
    category: str | None = None
    tags: tuple[str, ...] = ()
    port: int = 8000
    mcp_path: str = "/mcp"
    memory: str = "256Mi"
    cpu: str = "100m"
    min_replicas: int = 1
    max_replicas: int = 3

    def __post_init__(self) -> None:
        if not _NIMBLE_RUNTIME.match(self.runtime):
            raise UsageError(f"--runtime {self.runtime!r}: expected python:3.x, node:N or binary")
        if self.category is not None and self.category not in _NIMBLE_CATEGORIES:
            raise UsageError(
                f"--category {self.category!r}: one of {', '.join(_NIMBLE_CATEGORIES)}"
            )
        for tag in self.tags:
            if not re.fullmatch(r"[a-z0-9-]{1,30}", tag):
                raise UsageError(f"--tag {tag!r}: lower-case letters, digits and '-', ≤ 30")
        if len(self.tags) > 10:
            raise UsageError("--tag: at most 10 tags")
        if not re.fullmatch(r"[0-9]+(Mi|Gi)", self.memory):
            raise UsageError(f"--memory {self.memory!r}: expected e.g. 256Mi or 1Gi")
        if not re.fullmatch(r"[0-9]+m?", self.cpu):
            raise UsageError(f"--cpu {self.cpu!r}: expected e.g. 100m or 1")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise UsageError("--min-replicas and --max-replicas: 1 ≤ min ≤ max")

    def block(self) -> dict[str, Any]:
        """The ``_meta`` block, in both spellings NimbleTools reads."""
        categories = [self.category] if self.category else []
        return {
            "runtime": self.runtime,
            "status": "active",
            "serverType": "bundle",
            "container": {"healthCheck": {"enabled": True, "path": "/health", "port": self.port}},
            "deployment": {"protocol": "http", "port": self.port, "mcpPath": self.mcp_path},
            "resources": {
                "limits": {"memory": self.memory, "cpu": self.cpu},
                "requests": {"memory": self.memory, "cpu": self.cpu},
            },
            "scaling": {
                "enabled": self.max_replicas > 1,
                "minReplicas": self.min_replicas,
                "maxReplicas": self.max_replicas,
            },
            "display": {
                **({"category": self.category} if self.category else {}),
                "tags": list(self.tags),
            },
            "registry": {"categories": categories, "tags": list(self.tags)},
        }


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`check_document`: ``error`` or ``warning``, where, what."""

    level: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.path or '<root>'}: {self.message}"


@dataclass
class Report:
    """Everything :func:`check_document` found."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    def add(self, level: str, path: str, message: str) -> None:
        self.problems.append(Problem(level, path, message))


def read_document(path: Path) -> dict[str, Any]:
    """A server.json (or any JSON object file) read from outside: bounded, one-line errors."""
    try:
        return parse_json_object(path.read_bytes())
    except OSError as err:
        raise UsageError(f"{path}: cannot read: {err.strerror or err}") from None
    except JsonDocumentError as err:
        raise UsageError(f"{path}: {err}") from None


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of a project directory, or a ``manifest.json`` named directly."""
    path = source / "manifest.json" if source.is_dir() else source
    data = read_document(path)
    if "name" not in data or "version" not in data:
        raise UsageError(f"{path}: not an MCPB manifest (name and version are required)")
    return data


def init_document(
    source: Path, publishing: Publishing, nimble: NimbleOptions | None = None
) -> dict[str, Any]:
    """A new server.json for the project or manifest at ``source`` (no packages yet)."""
    manifest = read_manifest(source)
    runtime = nimble.runtime if nimble else None
    doc = render_server_json(manifest, [], publishing, runtime=runtime)
    doc.pop("packages", None)
    doc["_meta"].pop(META_KEY, None)
    if nimble is not None:
        doc["_meta"][NIMBLETOOLS_KEY] = nimble.block()
    if not doc["_meta"]:
        del doc["_meta"]
    return doc


def set_packages(doc: dict[str, Any], dist: Path, base_url: str) -> dict[str, Any]:
    """``doc`` with one ``mcpb`` package per bundle in ``dist/SHA256SUMS``."""
    sums = dist / "SHA256SUMS"
    try:
        digests = parse_sha256sums(sums.read_text("utf-8"), source=str(sums))
    except OSError as err:
        raise UsageError(f"{sums}: cannot read: {err.strerror or err}") from None
    files = sorted(name for name in digests if name.endswith(".mcpb"))
    if not files:
        raise UsageError(f"{sums}: lists no .mcpb files")
    if not base_url.startswith(("https://", "http://")):
        raise UsageError(f"--base-url {base_url!r}: expected an http(s) URL")
    listed = doc.get("packages")
    previous: list[Any] = listed if isinstance(listed, list) else []
    environment = next(
        (
            p["environmentVariables"]
            for p in previous
            if isinstance(p, dict) and "environmentVariables" in p
        ),
        None,
    )
    version = str(doc.get("version", ""))
    packages = []
    for name in files:
        package: dict[str, Any] = {
            "registryType": "mcpb",
            "identifier": f"{base_url.rstrip('/')}/{name}",
            "version": version,
            "fileSha256": digests[name],
            "transport": {"type": "stdio"},
        }
        if environment:
            package["environmentVariables"] = environment
        packages.append(package)
    return {**doc, "packages": packages}


def check_document(doc: Any, *, strict: bool = False, dist: Path | None = None) -> Report:
    """Every problem of ``doc`` (module docstring); nothing raised for a bad document."""
    report = Report()
    if not isinstance(doc, dict):
        report.add("error", "", "server.json must be a JSON object")
        return report
    validator = jsonschema.Draft7Validator(load_schema())
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        report.add("error", _path(err.absolute_path), err.message)
    meta = doc.get("_meta")
    ours = meta.get(META_KEY) if isinstance(meta, dict) else None
    if ours is not None:
        for err in jsonschema.Draft7Validator(_OUR_META_SCHEMA).iter_errors(ours):
            report.add("error", _path(["_meta", META_KEY, *err.absolute_path]), err.message)
    if doc.get("version") == "latest":
        report.add("error", "version", "the registry refuses the version 'latest'")
    digests = _dist_digests(dist, report) if dist is not None else None
    for index, package in enumerate(doc.get("packages") or []):
        if isinstance(package, dict) and package.get("registryType") == "mcpb":
            _check_mcpb(report, f"packages.{index}", package, strict, digests)
    return report


def _check_mcpb(
    report: Report,
    where: str,
    package: dict[str, Any],
    strict: bool,
    digests: dict[str, str] | None,
) -> None:
    identifier = str(package.get("identifier", ""))
    parts = urlsplit(identifier)
    if "registryBaseUrl" in package:
        report.add("error", f"{where}.registryBaseUrl", "mcpb packages must not set it")
    if package.get("version") == "latest":
        report.add("error", f"{where}.version", "the registry refuses the version 'latest'")
    if parts.scheme != "https":
        report.add("error", f"{where}.identifier", "must be an https:// URL")
    if "mcp" not in identifier.lower():
        report.add("error", f"{where}.identifier", "the registry requires 'mcp' in the URL")
    file_name = parts.path.rsplit("/", 1)[-1]
    if not file_name.endswith(".mcpb"):
        report.add("error", f"{where}.identifier", "must name a .mcpb file")
    host = (parts.hostname or "").lower()
    release_path = (
        _GITHUB_PATH.match(parts.path)
        if host.endswith("github.com")
        else _GITLAB_PATH.match(parts.path)
    )
    if host not in ALLOWED_HOSTS or release_path is None:
        text = (
            f"{identifier}: the official registry accepts only GitHub or GitLab release "
            "download URLs for mcpb packages"
        )
        report.add("error" if strict else "warning", f"{where}.identifier", text)
    if digests is not None:
        want = digests.get(file_name)
        if want is None:
            report.add("error", f"{where}.identifier", f"{file_name} is not in the dist folder")
        elif package.get("fileSha256") != want:
            report.add("error", f"{where}.fileSha256", f"does not match {file_name} ({want})")


def _dist_digests(dist: Path, report: Report) -> dict[str, str]:
    """The digests of the bundles in ``dist`` (checked against its SHA256SUMS)."""
    digests = {path.name: sha256_file(path) for path in sorted(dist.glob("*.mcpb"))}
    sums = dist / "SHA256SUMS"
    if sums.is_file():
        listed = parse_sha256sums(sums.read_text("utf-8"), source=str(sums))
        for name, digest in digests.items():
            if listed.get(name) != digest:
                report.add("error", "", f"{dist}/{name}: does not match SHA256SUMS")
    return digests


def _path(parts: Any) -> str:
    return ".".join(str(p) for p in parts)
