"""Which files of a project directory go into a bundle: ``.mcpbignore`` plus default excludes.

Rules use gitignore semantics (``pathspec.GitIgnoreSpec``), matched against paths relative to the
project root in POSIX form; directories are matched with a trailing ``/`` and, as in git, an
excluded directory is not descended into, so a negation cannot re-include a file below it.

Two rule sets exist because the project's own files and its vendored dependencies need different
treatment. :data:`DEFAULT_EXCLUDES` (editor, VCS, cache and secret files) apply only to the
project's own files: a third-party package under ``server/lib`` may legitimately ship a
``.env.example`` or a ``*.log`` fixture it reads at import time, and dropping it breaks the
package. Inside vendored roots only :data:`VENDOR_EXCLUDES` apply. The user's ``.mcpbignore``
applies everywhere and comes last, so a ``!pattern`` line overrides a default.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from mcpb.bundle.errors import UsageError

IGNORE_FILE = ".mcpbignore"

# Excluded from the project's own files, never inside vendored roots. Listed in docs/cli.md.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    # version control (a submodule's ".git" is a file)
    ".git",
    ".hg",
    ".svn",
    # secrets and local environment
    ".env",
    ".env.*",
    ".envrc",
    ".npmrc",
    ".pypirc",
    # logs
    "*.log",
    "npm-debug.log*",
    "yarn-debug.log*",
    "yarn-error.log*",
    # Python build and tool caches, and a developer's own virtualenv (not portable)
    "__pycache__/",
    "*.py[co]",
    ".venv/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".hypothesis/",
    ".tox/",
    ".nox/",
    ".coverage",
    # editors and operating systems
    ".DS_Store",
    "Thumbs.db",
    ".idea/",
    ".vscode/",
    "*.swp",
    "*~",
    # bundles themselves and the pack rule files
    "*.mcpb",
    "/.mcpbignore",
    "/.gitignore",
)

# Excluded everywhere, vendored roots included: caches and link farms, never runtime code.
# ``node_modules/.bin`` holds symlinks that would be stored as copies whose relative
# ``require`` calls no longer resolve.
VENDOR_EXCLUDES: tuple[str, ...] = (
    "**/node_modules/.cache/",
    "**/node_modules/.bin/",
)

# Directories that always hold third-party code, relative to the project root.
CONVENTIONAL_VENDOR_DIRS: tuple[str, ...] = ("server/lib", "server/venv")

_SEARCH_PATH_VARS = ("PYTHONPATH", "NODE_PATH")
_DIRNAME = "${__dirname}"
_SEPARATORS = re.compile(r"\$\{(?:pathSeparator|/)\}")


@dataclass(frozen=True)
class IgnoreRules:
    """Decides, for one project, whether a relative path is left out of the bundle."""

    project: pathspec.GitIgnoreSpec
    vendored: pathspec.GitIgnoreSpec
    vendored_roots: frozenset[str]
    user_patterns: tuple[str, ...]

    def is_vendored(self, rel: str) -> bool:
        """True if ``rel`` is a vendored root or lies below one (``node_modules`` anywhere)."""
        parts = rel.split("/")
        if "node_modules" in parts[:-1] or parts[-1] == "node_modules":
            return True
        return any(rel == root or rel.startswith(root + "/") for root in self.vendored_roots)

    def excludes(self, rel: str, *, is_dir: bool) -> bool:
        """True if the file or directory at project-relative POSIX path ``rel`` is left out."""
        probe = rel + "/" if is_dir else rel
        spec = self.vendored if self.is_vendored(rel) else self.project
        return spec.match_file(probe)


def read_ignore_file(root: Path) -> tuple[str, ...]:
    """The pattern lines of ``root/.mcpbignore`` (comments and blanks kept: pathspec skips them)."""
    path = root / IGNORE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read: {err}") from err
    return tuple(text.splitlines())


def vendored_roots(manifest_data: Mapping[str, Any] | None) -> frozenset[str]:
    """Project-relative directories holding vendored dependencies.

    Always ``server/lib`` and ``server/venv`` (the spec's Python layout). From the manifest:
    every ``${__dirname}/DIR`` entry of ``PYTHONPATH`` / ``NODE_PATH`` in ``mcp_config.env``
    (platform overrides included), except the project root and the entry point's own directory,
    which hold the author's code; and ``DIR`` when the command is ``${__dirname}/DIR/bin/python*``.
    """
    roots = set(CONVENTIONAL_VENDOR_DIRS)
    server = _mapping(manifest_data, "server") if manifest_data is not None else {}
    entry_point = server.get("entry_point")
    own_dir = posixpath.dirname(_clean(entry_point) or "") if isinstance(entry_point, str) else ""
    configs = [_mapping(server, "mcp_config")]
    overrides = _mapping(configs[0], "platform_overrides")
    configs += [_mapping(overrides, key) for key in sorted(overrides)]
    for config in configs:
        env = _mapping(config, "env")
        for var in _SEARCH_PATH_VARS:
            value = env.get(var)
            if not isinstance(value, str):
                continue
            for item in re.split(r"[:;]", _SEPARATORS.sub("/", value)):
                rel = _relative_to_bundle(item)
                if rel and rel != own_dir:
                    roots.add(rel)
        command = config.get("command")
        if isinstance(command, str):
            rel = _relative_to_bundle(_SEPARATORS.sub("/", command))
            if rel:
                head, _, tail = rel.rpartition("/bin/")
                if head and tail.startswith("python"):
                    roots.add(head)
    return frozenset(roots)


def build_rules(
    root: Path,
    manifest_data: Mapping[str, Any] | None = None,
    *,
    extra_vendored: Iterable[str] = (),
) -> IgnoreRules:
    """The rules for the project at ``root``: defaults, vendored roots, then ``.mcpbignore``."""
    user = read_ignore_file(root)
    for lineno, line in enumerate(user, 1):
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except ValueError:
            raise UsageError(f"{root / IGNORE_FILE}:{lineno}: invalid pattern {line!r}") from None
    project = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_EXCLUDES, *VENDOR_EXCLUDES, *user])
    vendored = pathspec.GitIgnoreSpec.from_lines([*VENDOR_EXCLUDES, *user])
    roots = vendored_roots(manifest_data) | {r.strip("/") for r in extra_vendored if r.strip("/")}
    return IgnoreRules(project, vendored, frozenset(roots), user)


def _mapping(data: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, Mapping) else {}


def _clean(path: str) -> str | None:
    """A normalised relative POSIX path, or None if it is absolute or leaves the root."""
    norm = posixpath.normpath(path.strip().replace("\\", "/"))
    if norm.startswith("/") or norm == ".." or norm.startswith("../"):
        return None
    return "" if norm == "." else norm


def _relative_to_bundle(item: str) -> str | None:
    """``${__dirname}/a/b`` → ``a/b``; anything not anchored at the bundle → None."""
    item = item.strip()
    if not item.startswith(_DIRNAME):
        return None
    return _clean(item[len(_DIRNAME) :].lstrip("/")) or None
