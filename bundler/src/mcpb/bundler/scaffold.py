"""``mcpb init``: infer what a project already says, fill the gaps, write a manifest.

Facts come from ``pyproject.toml`` (``[project]``) and ``package.json`` in the directory; flags
override them; on a terminal the user is asked for whatever is still open, otherwise defaults
are used. The manifest is validated before anything is written, and both files are written
atomically (temp file beside the target, then rename).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from mcpb.bundle import atomic
from mcpb.bundle.errors import ManifestError, UsageError
from mcpb.bundle.manifest import DEFAULT_VERSION, SUPPORTED_VERSIONS, validate_manifest_data
from mcpb.bundler.ignore import DEFAULT_EXCLUDES, IGNORE_FILE
from mcpb.bundler.naming import safe_component

ServerType = Literal["python", "node", "binary"]
SERVER_TYPES: tuple[ServerType, ...] = ("python", "node", "binary")
MANIFEST_NAME = "manifest.json"
UNKNOWN_AUTHOR = "Unknown Author"

_PY_ENTRY_CANDIDATES = ("server/main.py", "server/server.py", "main.py", "server.py")
_NODE_ENTRY_CANDIDATES = ("server/index.js", "index.js", "dist/index.js", "build/index.js")
_AUTHOR_RE = re.compile(r"^\s*([^<(]*?)\s*(?:<([^>]*)>)?\s*(?:\(([^)]*)\))?\s*$")


@dataclass(frozen=True)
class Author:
    """``author`` of a manifest; ``email`` and ``url`` are optional."""

    name: str
    email: str | None = None
    url: str | None = None

    @classmethod
    def parse(cls, text: str) -> Author:
        """``Jane Doe <jane@example.org> (https://example.org)`` → its three parts."""
        m = _AUTHOR_RE.match(text)
        if m is None or not m.group(1):
            return cls(text.strip())
        return cls(m.group(1), m.group(2) or None, m.group(3) or None)

    def as_data(self) -> dict[str, str]:
        data = {"name": self.name}
        if self.email:
            data["email"] = self.email
        if self.url:
            data["url"] = self.url
        return data


@dataclass(frozen=True)
class ProjectFacts:
    """What the directory's own project files say; every field may be unknown."""

    name: str | None = None
    version: str | None = None
    description: str | None = None
    author: Author | None = None
    license: str | None = None
    server_type: ServerType | None = None
    entry_point: str | None = None
    python_requires: str | None = None
    node_engines: str | None = None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class InitAnswers:
    """Every value ``init`` needs; ``None`` means "not given yet"."""

    name: str | None = None
    version: str | None = None
    description: str | None = None
    author: Author | None = None
    server_type: ServerType | None = None
    entry_point: str | None = None
    manifest_version: str = DEFAULT_VERSION


# (question, default, choices) -> the user's answer
Asker = Callable[[str, str, Sequence[str] | None], str]


@dataclass(frozen=True)
class InitResult:
    """What ``init`` did: the manifest written and the ``.mcpbignore`` written or kept."""

    manifest_path: Path
    manifest: dict[str, Any]
    ignore_path: Path
    ignore_written: bool
    sources: tuple[str, ...]


def infer_facts(directory: Path) -> ProjectFacts:
    """Read ``pyproject.toml`` and ``package.json`` when present; pyproject wins conflicts."""
    facts = ProjectFacts()
    pkg = _read_package_json(directory / "package.json")
    if pkg is not None:
        facts = _facts_from_package_json(directory, pkg)
    pyproject = _read_pyproject(directory / "pyproject.toml")
    if pyproject is not None:
        py = _facts_from_pyproject(directory, pyproject)
        facts = ProjectFacts(
            name=py.name or facts.name,
            version=py.version or facts.version,
            description=py.description or facts.description,
            author=py.author or facts.author,
            license=py.license or facts.license,
            server_type=py.server_type,
            entry_point=py.entry_point,
            python_requires=py.python_requires,
            node_engines=facts.node_engines,
            sources=(*facts.sources, *py.sources),
        )
    return facts


def complete_answers(
    directory: Path, given: InitAnswers, facts: ProjectFacts, ask: Asker | None
) -> InitAnswers:
    """Fill every open value: flags first, then the user (when ``ask``), then inferred defaults."""

    def pick(
        current: str | None, question: str, default: str, choices: Sequence[str] | None = None
    ) -> str:
        if current is not None:
            return current
        if ask is None:
            return default
        answer = ask(question, default, choices).strip()
        return answer or default

    name = pick(given.name, "Bundle name", facts.name or _dir_name(directory))
    version = pick(given.version, "Version", facts.version or "0.1.0")
    description = pick(given.description, "Description", facts.description or f"{name} MCP server")
    author_default = facts.author.name if facts.author else UNKNOWN_AUTHOR
    if given.author is not None:
        author = given.author
    else:
        author_text = pick(None, "Author name", author_default)
        same = facts.author is not None and author_text == facts.author.name
        author = facts.author if same and facts.author else Author.parse(author_text)
    type_default = facts.server_type or "python"
    server_type = pick(given.server_type, "Server type", type_default, SERVER_TYPES)
    if server_type not in SERVER_TYPES:
        raise UsageError(f"--type: expected one of {', '.join(SERVER_TYPES)}, got {server_type!r}")
    st: ServerType = server_type
    inferred = facts.entry_point if facts.server_type == st else None
    entry_default = inferred or _default_entry_point(directory, st, name)
    entry_point = pick(given.entry_point, "Entry point", entry_default)
    return replace(
        given,
        name=name,
        version=version,
        description=description,
        author=author,
        server_type=st,
        entry_point=_clean_entry_point(entry_point),
    )


def build_manifest(answers: InitAnswers, facts: ProjectFacts) -> dict[str, Any]:
    """The manifest for complete ``answers`` (raises UsageError if any value is still open)."""
    a = answers
    if not (
        a.name and a.version and a.description and a.author and a.server_type and a.entry_point
    ):
        raise UsageError(
            "init: name, version, description, author, type and entry point are required"
        )
    if a.manifest_version not in SUPPORTED_VERSIONS:
        known = ", ".join(SUPPORTED_VERSIONS)
        raise UsageError(f"--manifest-version: expected one of {known}, got {a.manifest_version!r}")
    data: dict[str, Any] = {
        "manifest_version": a.manifest_version,
        "name": a.name,
        "version": a.version,
        "description": a.description,
        "author": a.author.as_data(),
        "server": {
            "type": a.server_type,
            "entry_point": a.entry_point,
            "mcp_config": mcp_config_for(a.server_type, a.entry_point),
        },
    }
    if facts.license:
        data["license"] = facts.license
    runtimes: dict[str, str] = {}
    if a.server_type == "python" and facts.python_requires:
        runtimes["python"] = _range(facts.python_requires)
    if a.server_type == "node" and facts.node_engines:
        runtimes["node"] = _range(facts.node_engines)
    if runtimes:
        data["compatibility"] = {"runtimes": runtimes}
    return data


def mcp_config_for(server_type: ServerType, entry_point: str) -> dict[str, Any]:
    """How a host starts each kind of server; paths are anchored with ``${__dirname}``."""
    target = "${__dirname}/" + entry_point
    if server_type == "python":
        return {
            "command": "python3",
            "args": [target],
            "env": {"PYTHONPATH": "${__dirname}/server/lib"},
            "platform_overrides": {"win32": {"command": "python"}},
        }
    if server_type == "node":
        return {"command": "node", "args": [target], "env": {}}
    return {"command": target, "args": [], "env": {}}


def render_ignore_file() -> str:
    """A commented starter ``.mcpbignore``: how anchoring works and what is already left out."""
    defaults = ", ".join(p for p in DEFAULT_EXCLUDES if not p.startswith("/"))
    lines = [
        "# .mcpbignore: files `mcpb pack` leaves out of the bundle, in .gitignore syntax.",
        "#",
        "# Anchoring matters. A pattern starting with '/' (or with a '/' in the middle, like",
        "# 'docs/build') matches only from this directory: '/tests/' drops the project's",
        "# top-level tests folder and nothing else. A pattern without a slash ('*.md', 'tests/')",
        "# matches at ANY depth, including inside vendored dependencies (server/lib, server/venv,",
        "# node_modules), where it can remove files a package needs at run time. Anchor",
        "# project-only patterns with a leading '/'.",
        "#",
        "# A trailing '/' matches directories only. '!pattern' takes back an exclusion made by an",
        "# earlier line or by a built-in default (for example '!.env.example'), but a file",
        "# inside an excluded directory cannot be taken back.",
        "#",
        "# Built in, for your own files only (never inside vendored dependencies):",
        *_wrap_comment(defaults),
        "# Everywhere: node_modules/.cache/ and node_modules/.bin/.",
        "",
        "/tests/",
        "/.github/",
        "",
    ]
    return "\n".join(lines)


def init_project(
    directory: Path,
    answers: InitAnswers,
    facts: ProjectFacts,
    *,
    force: bool = False,
) -> InitResult:
    """Validate, then write ``manifest.json`` and (if absent, or ``force``) ``.mcpbignore``."""
    manifest_path = directory / MANIFEST_NAME
    ignore_path = directory / IGNORE_FILE
    if manifest_path.exists() and not force:
        raise UsageError(f"{manifest_path}: already exists (use --force to overwrite)")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: not a directory")
    data = build_manifest(answers, facts)
    issues = validate_manifest_data(data)
    if issues:
        raise ManifestError(str(manifest_path), issues)
    directory.mkdir(parents=True, exist_ok=True)
    write_ignore = force or not ignore_path.exists()
    if write_ignore:
        write_atomic(ignore_path, render_ignore_file().encode())
    write_atomic(manifest_path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())
    return InitResult(manifest_path, data, ignore_path, write_ignore, facts.sources)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path`` and rename it into place."""
    try:
        atomic.write_atomic(path, data, mode=0o644)
    except OSError as err:
        raise UsageError(f"{path}: cannot write: {err.strerror or err}") from err


def _read_package_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise UsageError(f"{path}: cannot read: {err}") from err
    return data if isinstance(data, dict) else None


def _read_pyproject(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"{path}: cannot read: {err}") from err
    project = data.get("project")
    return project if isinstance(project, dict) else {}


def _facts_from_package_json(directory: Path, pkg: Mapping[str, Any]) -> ProjectFacts:
    author: Author | None = None
    raw = pkg.get("author")
    if isinstance(raw, str) and raw.strip():
        author = Author.parse(raw)
    elif isinstance(raw, dict) and isinstance(raw.get("name"), str):
        author = Author(raw["name"], _str(raw.get("email")), _str(raw.get("url")))
    main = _str(pkg.get("main"))
    engines = pkg.get("engines")
    return ProjectFacts(
        name=_str(pkg.get("name")),
        version=_str(pkg.get("version")),
        description=_str(pkg.get("description")),
        author=author,
        license=_str(pkg.get("license")),
        server_type="node",
        entry_point=_clean_entry_point(main)
        if main
        else _first_existing(directory, _NODE_ENTRY_CANDIDATES),
        node_engines=_str(engines.get("node")) if isinstance(engines, dict) else None,
        sources=("package.json",),
    )


def _facts_from_pyproject(directory: Path, project: Mapping[str, Any]) -> ProjectFacts:
    author: Author | None = None
    authors = project.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        first = authors[0]
        name = _str(first.get("name")) or _str(first.get("email"))
        if name:
            author = Author(name, _str(first.get("email")))
    lic = project.get("license")
    license_text = (
        lic if isinstance(lic, str) else _str(lic.get("text")) if isinstance(lic, dict) else None
    )
    return ProjectFacts(
        name=_str(project.get("name")),
        version=_str(project.get("version")),
        description=_str(project.get("description")),
        author=author,
        license=license_text,
        server_type="python",
        entry_point=_first_existing(directory, _PY_ENTRY_CANDIDATES),
        python_requires=_str(project.get("requires-python")),
        sources=("pyproject.toml",),
    )


def _default_entry_point(directory: Path, server_type: ServerType, name: str) -> str:
    if server_type == "python":
        return _first_existing(directory, _PY_ENTRY_CANDIDATES) or "server/main.py"
    if server_type == "node":
        return _first_existing(directory, _NODE_ENTRY_CANDIDATES) or "server/index.js"
    return f"server/{safe_component(name)}"


def _first_existing(directory: Path, candidates: Sequence[str]) -> str | None:
    return next((c for c in candidates if (directory / c).is_file()), None)


def _clean_entry_point(text: str) -> str:
    """Entry points are bundle-relative POSIX paths: strip ``./`` and a ``${__dirname}/`` prefix."""
    path = text.strip().replace("\\", "/").removeprefix("${__dirname}/")
    while path.startswith("./"):
        path = path[2:]
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise UsageError(f"--entry-point: must be a path inside the bundle, got {text!r}")
    return path


def _range(text: str) -> str:
    """PEP 440 / npm ranges use commas; the manifest wants space-separated comparators."""
    return " ".join(part.strip() for part in text.split(",") if part.strip())


def _dir_name(directory: Path) -> str:
    return directory.resolve().name or "server"


def _str(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _wrap_comment(text: str, width: int = 92) -> list[str]:
    lines: list[str] = []
    current = "#  "
    for word in text.split(" "):
        if len(current) + len(word) + 1 > width:
            lines.append(current.rstrip())
            current = "#  "
        current += " " + word
    lines.append(current.rstrip())
    return lines
