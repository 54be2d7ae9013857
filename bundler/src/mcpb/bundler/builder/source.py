"""What ``mcpb build`` was asked to build, parsed once at the edge into a typed value.

Accepted forms: a directory (Python project with ``pyproject.toml``, Node project with
``package.json``, or any directory whose ``manifest.json`` says ``server.type: "binary"``),
``pypi:NAME[==VERSION]`` and ``npm:NAME[@VERSION]`` for published packages.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path

from mcpb.bundle.errors import UsageError
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object


class SourceKind(enum.StrEnum):
    """The five kinds of input; each has its own vendoring strategy."""

    PYTHON_PROJECT = "python-project"
    NODE_PROJECT = "node-project"
    BINARY = "binary"
    PYPI = "pypi"
    NPM = "npm"

    @property
    def runtime(self) -> str:
        """The manifest ``server.type`` this kind produces."""
        if self in (SourceKind.PYTHON_PROJECT, SourceKind.PYPI):
            return "python"
        if self in (SourceKind.NODE_PROJECT, SourceKind.NPM):
            return "node"
        return "binary"


@dataclass(frozen=True)
class Source:
    """A parsed build source: a directory, or a published package name with optional version."""

    kind: SourceKind
    path: Path | None = None
    package: str | None = None
    version: str | None = None

    @property
    def is_package(self) -> bool:
        """True for ``pypi:``/``npm:`` sources (no project directory of the author's)."""
        return self.kind in (SourceKind.PYPI, SourceKind.NPM)

    @property
    def requirement(self) -> str:
        """The install spec for a package source: ``name==1.0`` or ``name@1.0``."""
        if self.package is None:
            raise ValueError("not a package source")
        if self.version is None:
            return self.package
        sep = "==" if self.kind is SourceKind.PYPI else "@"
        return f"{self.package}{sep}{self.version}"

    def __str__(self) -> str:
        if self.is_package:
            return f"{self.kind}:{self.requirement}"
        return str(self.path)


# PEP 508 names; versions restricted to exact pins so builds are reproducible by construction.
_PYPI = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:==(?P<ver>[^\s=<>!~,;]+))?"
)
_NPM = re.compile(
    r"(?P<name>(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*)(?:@(?P<ver>[^\s@/]+))?"
)


def split_npm_spec(text: str) -> tuple[str, str | None] | None:
    """``@scope/name@1.2`` → (``@scope/name``, ``1.2``); ``None`` when it is no npm spec."""
    m = _NPM.fullmatch(text.strip())
    return None if m is None else (m["name"], m["ver"])


def parse_source(text: str, *, cwd: Path | None = None) -> Source:
    """Parse the SOURCE argument; raise :class:`UsageError` naming what is wrong."""
    if text.startswith("pypi:"):
        m = _PYPI.fullmatch(text[5:].strip())
        if m is None:
            raise UsageError(f"source {text!r}: expected pypi:NAME or pypi:NAME==VERSION")
        return Source(SourceKind.PYPI, package=m["name"], version=m["ver"])
    if text.startswith("npm:"):
        spec = split_npm_spec(text[4:])
        if spec is None:
            raise UsageError(f"source {text!r}: expected npm:NAME or npm:NAME@VERSION")
        return Source(SourceKind.NPM, package=spec[0], version=spec[1])
    path = Path(text)
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    return Source(detect_project_kind(path), path=path.resolve())


def detect_project_kind(path: Path) -> SourceKind:
    """Decide the kind of a project directory: a binary manifest wins, then Python, then Node."""
    if not path.is_dir():
        raise UsageError(f"source {path}: not a directory (or use pypi:NAME / npm:NAME)")
    manifest = path / "manifest.json"
    if manifest.is_file():
        try:
            data = parse_json_object(manifest.read_bytes())
        except (OSError, JsonDocumentError) as err:
            raise UsageError(f"{manifest}: {err}") from None
        server = data.get("server") if isinstance(data, dict) else None
        server_type = server.get("type") if isinstance(server, dict) else None
        if server_type == "binary":
            return SourceKind.BINARY
        if server_type == "node":
            return SourceKind.NODE_PROJECT
        if server_type == "python" and (path / "pyproject.toml").is_file():
            return SourceKind.PYTHON_PROJECT
    if (path / "pyproject.toml").is_file():
        return SourceKind.PYTHON_PROJECT
    if (path / "package.json").is_file():
        return SourceKind.NODE_PROJECT
    hint = (
        " (a ready-made bundle directory is packed with `mcpb pack`)" if manifest.is_file() else ""
    )
    raise UsageError(
        f"source {path}: no pyproject.toml, package.json or binary manifest.json found{hint}"
    )
