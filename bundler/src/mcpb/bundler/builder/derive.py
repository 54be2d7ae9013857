"""Write a manifest from package metadata, or complete the author's — never overwrite it.

Python metadata is read from the *installed* distribution (``*.dist-info/METADATA`` and
``entry_points.txt``), so a PyPI package and a local project go through one path. Node metadata
comes from ``package.json``. Every derived manifest uses :data:`MANIFEST_VERSION` (0.3: the first
version with ``_meta``, where our platform data lives) and starts the server through
``mcp_config`` with the vendored directory on the search path.
"""

from __future__ import annotations

import email.parser
import email.utils
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpb.bundle.errors import BuildError, UsageError

MANIFEST_VERSION = "0.3"
DIRNAME = "${__dirname}"
LAUNCHER = "server/main.py"
PYTHON_LIB = "server/lib"


@dataclass(frozen=True)
class EntryPoint:
    """A Python callable (``module:attr.path``) or a module run as ``__main__`` (no attr)."""

    module: str
    attr: str | None = None

    @classmethod
    def parse(cls, text: str) -> EntryPoint:
        m = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*(?::\s*([A-Za-z_][\w.]*))?\s*(\[.*\])?\s*", text)
        if m is None:
            raise UsageError(f"entry point {text!r}: expected module or module:function")
        return cls(m[1], m[2])

    def __str__(self) -> str:
        return f"{self.module}:{self.attr}" if self.attr else self.module


@dataclass(frozen=True)
class PythonDist:
    """The metadata of one installed distribution that a manifest is derived from."""

    name: str
    version: str
    summary: str | None
    author: dict[str, str]
    license: str | None
    homepage: str | None
    repository: str | None
    requires_python: str | None
    scripts: dict[str, EntryPoint] = field(default_factory=dict)
    registry_name: str | None = None  # ``mcp-name:`` marker in the long description


def normalize_dist_name(name: str) -> str:
    """PEP 503 normalisation, the form used to find ``*.dist-info`` directories."""
    return re.sub(r"[-_.]+", "-", name).lower()


def find_dist_info(site: Path, name: str) -> Path:
    """The ``.dist-info`` directory of ``name`` in a target directory."""
    want = normalize_dist_name(name)
    for path in sorted(site.glob("*.dist-info")):
        dist = path.name[: -len(".dist-info")].rsplit("-", 1)[0]
        if normalize_dist_name(dist) == want:
            return path
    raise BuildError(f"{site}: {name} is not installed there (no {name}-*.dist-info)")


def read_python_dist(dist_info: Path) -> PythonDist:
    """Parse METADATA and entry_points.txt of an installed distribution."""
    meta = email.parser.Parser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
    name = str(meta.get("Name", "")).strip()
    version = str(meta.get("Version", "")).strip()
    if not name or not version:
        raise BuildError(f"{dist_info / 'METADATA'}: missing Name or Version")
    author = _python_author(meta.get("Author"), meta.get("Author-email"), meta.get("Maintainer"))
    urls = {}
    for item in meta.get_all("Project-URL") or []:
        label, _, url = str(item).partition(",")
        urls[label.strip().lower()] = url.strip()
    repository = next((u for k, u in urls.items() if k in ("repository", "source", "code")), None)
    homepage = str(meta.get("Home-page") or "") or urls.get("homepage") or urls.get("home")
    body = meta.get_payload()
    marker = re.search(r"mcp-name:\s*([A-Za-z0-9.-]+/[A-Za-z0-9._-]+)", str(body or ""))
    license_text = str(meta.get("License-Expression") or meta.get("License") or "").strip()
    return PythonDist(
        name=name,
        version=version,
        summary=str(meta.get("Summary") or "").strip() or None,
        author=author,
        license=license_text if license_text and "\n" not in license_text else None,
        homepage=homepage or None,
        repository=repository,
        requires_python=str(meta.get("Requires-Python") or "").strip() or None,
        scripts=_console_scripts(dist_info / "entry_points.txt"),
        registry_name=marker[1] if marker else None,
    )


def _python_author(author: Any, author_email: Any, maintainer: Any) -> dict[str, str]:
    if author_email:
        pairs = email.utils.getaddresses([str(author_email)])
        if pairs and (pairs[0][0] or pairs[0][1]):
            display, addr = pairs[0]
            result = {"name": display or str(author or addr)}
            if addr:
                result["email"] = addr
            return result
    return {"name": str(author or maintainer or "unknown")}


def _console_scripts(path: Path) -> dict[str, EntryPoint]:
    if not path.is_file():
        return {}
    scripts: dict[str, EntryPoint] = {}
    section = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == "console_scripts" and "=" in line:
            key, _, value = line.partition("=")
            scripts[key.strip()] = EntryPoint.parse(value)
    return scripts


def choose_entry_point(dist: PythonDist, override: str | None) -> EntryPoint:
    """``--entry-point``, else the only console script, else the one named like the dist."""
    if override:
        return EntryPoint.parse(override)
    if len(dist.scripts) == 1:
        return next(iter(dist.scripts.values()))
    wanted = normalize_dist_name(dist.name)
    for name, ep in dist.scripts.items():
        if normalize_dist_name(name) == wanted:
            return ep
    choices = ", ".join(sorted(dist.scripts)) or "none"
    raise UsageError(
        f"{dist.name}: cannot tell which console script starts the server ({choices}); "
        "pass --entry-point module[:function]"
    )


def render_launcher(entry: EntryPoint, dist_name: str) -> bytes:
    """``server/main.py``: put ``server/lib`` first on sys.path and call the entry point."""
    if entry.attr:
        call = (
            f"target = importlib.import_module({entry.module!r})\n"
            f"for part in {entry.attr!r}.split('.'):\n"
            "    target = getattr(target, part)\n"
            "sys.exit(target())\n"
        )
    else:
        call = f"runpy.run_module({entry.module!r}, run_name='__main__', alter_sys=True)\n"
    return (
        f'"""Generated by mcpb build: starts {dist_name} ({entry}) from the vendored lib/."""\n'
        "import importlib\n"
        "import os\n"
        "import runpy\n"
        "import sys\n\n"
        "sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))\n"
        f"{call}"
    ).encode()


def python_manifest(dist: PythonDist, python: str) -> dict[str, Any]:
    """A complete 0.3 manifest for a vendored Python distribution launched by ``server/main.py``."""
    data: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "name": dist.name,
        "version": dist.version,
        "description": dist.summary or dist.name,
        "author": dist.author,
        "server": {
            "type": "python",
            "entry_point": LAUNCHER,
            "mcp_config": {
                "command": "python3",
                "args": [f"{DIRNAME}/{LAUNCHER}"],
                "env": {"PYTHONPATH": f"{DIRNAME}/{PYTHON_LIB}"},
            },
        },
        "compatibility": {"platforms": ["linux"], "runtimes": {"python": python_range(python)}},
    }
    _add_links(data, dist.homepage, dist.repository, dist.license)
    return data


def python_range(python: str) -> str:
    """The runtime range for one minor version: ``3.11`` → ``>=3.11 <3.12``."""
    major, minor = python.split(".")
    return f">={major}.{minor} <{major}.{int(minor) + 1}"


@dataclass(frozen=True)
class NodePackage:
    """The fields of a ``package.json`` a manifest is derived from."""

    name: str
    version: str
    description: str | None
    author: dict[str, str]
    entry: str  # path of the script to run, relative to the package directory
    license: str | None
    homepage: str | None
    repository: str | None
    engines_node: str | None
    registry_name: str | None


def read_package_json(path: Path, *, declared_entry: str | None = None) -> NodePackage:
    """Parse a ``package.json`` and pick its entry script: ``bin``, else ``main``, else the
    ``server.entry_point`` the project's manifest.json declares (``declared_entry``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BuildError(f"{path}: cannot read package.json: {err}") from err
    if not isinstance(data, dict):
        raise BuildError(f"{path}: package.json is not an object")
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        raise BuildError(f"{path}: package.json needs string name and version")
    entry = _node_entry(data, name) or declared_entry
    if entry is None:
        raise BuildError(
            f"{path}: package.json has neither bin nor main, and no manifest.json names "
            "server.entry_point: nothing to start"
        )
    repo = data.get("repository")
    repo_url = repo.get("url") if isinstance(repo, dict) else repo
    engines = data.get("engines")
    return NodePackage(
        name=name,
        version=version,
        description=data.get("description") if isinstance(data.get("description"), str) else None,
        author=_node_author(data.get("author")),
        entry=entry.removeprefix("./"),
        license=data.get("license") if isinstance(data.get("license"), str) else None,
        homepage=data.get("homepage") if isinstance(data.get("homepage"), str) else None,
        repository=_clean_repo_url(repo_url) if isinstance(repo_url, str) else None,
        engines_node=engines.get("node") if isinstance(engines, dict) else None,
        registry_name=data.get("mcpName") if isinstance(data.get("mcpName"), str) else None,
    )


def _node_entry(data: dict[str, Any], name: str) -> str | None:
    bin_field = data.get("bin")
    if isinstance(bin_field, str):
        return bin_field
    if isinstance(bin_field, dict) and bin_field:
        short = name.rsplit("/", 1)[-1]
        if isinstance(bin_field.get(short), str):
            return str(bin_field[short])
        first = sorted(bin_field)[0]
        return str(bin_field[first]) if isinstance(bin_field[first], str) else None
    main = data.get("main")
    return main if isinstance(main, str) else None


def _node_author(author: Any) -> dict[str, str]:
    if isinstance(author, dict) and isinstance(author.get("name"), str):
        result = {"name": author["name"]}
        if isinstance(author.get("email"), str):
            result["email"] = author["email"]
        return result
    if isinstance(author, str) and author.strip():
        m = re.fullmatch(r"\s*([^<(]+?)\s*(?:<([^>]+)>)?\s*(?:\(([^)]+)\))?\s*", author)
        if m:
            result = {"name": m[1]}
            if m[2]:
                result["email"] = m[2]
            return result
    return {"name": "unknown"}


def _clean_repo_url(url: str) -> str:
    url = url.removeprefix("git+")
    if url.startswith("github:"):
        url = "https://github.com/" + url[len("github:") :]
    return url.removesuffix(".git")


def node_manifest(pkg: NodePackage, entry_path: str) -> dict[str, Any]:
    """A complete 0.3 manifest starting ``node ENTRY`` (entry relative to the bundle root)."""
    data: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "name": pkg.name.rsplit("/", 1)[-1] if pkg.name.startswith("@") else pkg.name,
        "display_name": pkg.name,
        "version": pkg.version,
        "description": pkg.description or pkg.name,
        "author": pkg.author,
        "server": {
            "type": "node",
            "entry_point": entry_path,
            "mcp_config": {"command": "node", "args": [f"{DIRNAME}/{entry_path}"]},
        },
        "compatibility": {"platforms": ["linux"]},
    }
    if pkg.engines_node:
        data["compatibility"]["runtimes"] = {"node": pkg.engines_node}
    _add_links(data, pkg.homepage, pkg.repository, pkg.license)
    return data


def _add_links(
    data: dict[str, Any], homepage: str | None, repository: str | None, license_id: str | None
) -> None:
    if homepage and homepage.startswith(("http://", "https://")):
        data["homepage"] = homepage
    if repository and repository.startswith(("http://", "https://")):
        data["repository"] = {"type": "git", "url": repository}
    if license_id and len(license_id) <= 100:
        data["license"] = license_id


def complete_manifest(existing: dict[str, Any], derived: dict[str, Any]) -> list[str]:
    """Fill keys missing from the author's manifest from ``derived``; return what differs.

    Present keys are never replaced. The returned notes name every top-level field where the
    author's value differs from the package metadata, so the build can warn about it.
    """
    notes = []
    for key, value in derived.items():
        if key not in existing:
            existing[key] = value
        elif key in ("name", "version") and existing[key] != value:
            notes.append(
                f"manifest.json {key} {existing[key]!r} differs from the package's {value!r}"
            )
    return notes
