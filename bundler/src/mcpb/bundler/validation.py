"""``mcpb validate``: the manifest schema plus the files the manifest points at.

A manifest can be valid JSON-wise and still name an entry point that is not there. Besides the
schema (every issue with its JSON path), the files are checked against what the bundle holds or
would hold (for a project directory: the files ``mcpb pack`` would collect, so a file hidden by
``.mcpbignore`` counts as missing).

Errors (the bundle cannot work, exit 1):
  - ``server.entry_point`` is not a file in the bundle (in a project directory, one under
    ``node_modules/``, ``server/lib`` or ``server/venv`` is only a warning: ``mcpb build``
    vendors it);
  - ``mcp_config.command`` is ``${__dirname}/...`` and that file is not in the bundle;
  - ``icon`` is missing, not a PNG, absolute, or uses ``${__dirname}`` (as the reference does).
Warnings (may be fine, printed):
  - ``${__dirname}/...`` paths in ``args`` and ``env`` values that do not exist (data
    directories created at run time; ``server/lib`` before ``mcpb build`` vendors it);
  - the same checks for ``platform_overrides`` (another OS's layout);
  - a ``${__dirname}`` command file without an exec bit; a remote ``icon`` URL; ``icons[].src``
    files that are missing.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mcpb.bundle.errors import Issue, ManifestError
from mcpb.bundle.extract import Bundle, open_bundle
from mcpb.bundle.manifest import load_manifest_data, validate_manifest_data
from mcpb.bundler.collect import MANIFEST_NAME, Collection, collect_files
from mcpb.bundler.ignore import CONVENTIONAL_VENDOR_DIRS

_VENDOR_HINT = " (dependencies are vendored there by `mcpb build`)"
_BUILD_VENDOR_DIRS = ("node_modules", *CONVENTIONAL_VENDOR_DIRS)
Kind = Literal["manifest", "directory", "bundle"]
BUNDLE_SUFFIXES = (".mcpb", ".dxt", ".zip")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_SEP_TOKEN = r"(?:/|\$\{/\}|\$\{pathSeparator\})"  # noqa: S105
# A path runs to the end of the string (one argv item or one command may contain spaces), to a
# ':' or ';' (path lists in env values), a quote, or the next placeholder.
_DIRNAME_PATH = re.compile(
    r"\$\{__dirname\}(" + _SEP_TOKEN + r"(?:[^:;\"'$]|" + _SEP_TOKEN + r")*)"
)
_SEP = re.compile(r"\$\{(?:/|pathSeparator)\}")


class FileView(Protocol):
    """The files of a bundle, real or to be: what exists, its exec bit, its first bytes."""

    def kind(self, rel: str) -> Literal["file", "dir"] | None: ...

    def executable(self, rel: str) -> bool: ...

    def head(self, rel: str, size: int) -> bytes: ...

    def why_missing(self, rel: str) -> str: ...

    def vendored_later(self, rel: str) -> bool: ...


@dataclass(frozen=True)
class Report:
    """The outcome of validating one path."""

    source: str
    kind: Kind
    manifest: Mapping[str, Any] | None
    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_path(path: Path) -> Report:
    """Validate a manifest file, a project directory (its manifest.json) or a bundle."""
    if path.is_dir():
        return _validate_project(path / MANIFEST_NAME, path, "directory")
    if path.suffix.lower() in BUNDLE_SUFFIXES and path.is_file():
        return _validate_bundle(path)
    if path.name == MANIFEST_NAME:
        return _validate_project(path, path.parent, "manifest")
    report = _validate_project(path, None, "manifest")
    note = f"file references not checked: {path.name} is not named {MANIFEST_NAME}"
    return Report(
        report.source, report.kind, report.manifest, report.errors, report.warnings, (note,)
    )


def check_references(data: Mapping[str, Any], files: FileView) -> tuple[list[Issue], list[Issue]]:
    """Errors and warnings about the files a (schema-valid) manifest refers to."""
    errors: list[Issue] = []
    warnings: list[Issue] = []
    server = _mapping(data.get("server"))
    entry = server.get("entry_point")
    entry_rel = None
    if isinstance(entry, str) and entry:
        entry_rel = entry.removeprefix("${__dirname}/").removeprefix("./")
        normal = posixpath.normpath(entry_rel) if entry_rel else entry_rel
        if entry_rel.startswith("/") or _outside(normal):
            errors.append(Issue("server.entry_point", f"{entry}: {_LEAVES}"))
        elif files.kind(entry_rel) != "file" and files.vendored_later(entry_rel):
            warnings.append(Issue("server.entry_point", f"{entry_rel}: not yet{_VENDOR_HINT}"))
        elif files.kind(entry_rel) != "file":
            why = files.why_missing(entry_rel)
            errors.append(Issue("server.entry_point", f"{entry_rel}: {why}"))
    config = _mapping(server.get("mcp_config"))
    _check_config(config, "server.mcp_config", files, errors, warnings, entry_rel)
    overrides = _mapping(config.get("platform_overrides"))
    for os_name in sorted(overrides):
        prefix = f"server.mcp_config.platform_overrides.{os_name}"
        _check_config(_mapping(overrides[os_name]), prefix, files, warnings, warnings, entry_rel)
    icon = data.get("icon")
    if isinstance(icon, str):
        _check_icon(icon, files, errors, warnings)
    icons = data.get("icons")
    if isinstance(icons, list):
        for i, item in enumerate(icons):
            src = _mapping(item).get("src")
            if isinstance(src, str) and not src.startswith(("http://", "https://", "data:")):
                rel = src.removeprefix("./")
                if files.kind(rel) != "file":
                    warnings.append(Issue(f"icons[{i}].src", f"{rel}: {files.why_missing(rel)}"))
    return errors, warnings


class CollectedFiles:
    """A project's files as ``mcpb pack`` would collect them."""

    def __init__(self, collection: Collection) -> None:
        self.root = collection.root
        self.files = {e.name: e for e in collection.entries}
        self.dirs = {d for n in self.files for d in _parents(n)}

    def kind(self, rel: str) -> Literal["file", "dir"] | None:
        rel = rel.rstrip("/")
        if rel in self.files:
            return "file"
        return "dir" if rel in self.dirs or rel in ("", ".") else None

    def executable(self, rel: str) -> bool:
        entry = self.files.get(rel)
        if entry is None or entry.source is None:
            return bool(entry and entry.executable)
        return entry.executable or bool(entry.source.stat().st_mode & 0o111)

    def head(self, rel: str, size: int) -> bytes:
        entry = self.files[rel]
        if entry.data is not None:
            return entry.data[:size]
        assert entry.source is not None
        with entry.source.open("rb") as f:
            return f.read(size)

    def why_missing(self, rel: str) -> str:
        if (self.root / rel).exists() or (self.root / rel).is_symlink():
            return "excluded from the bundle by .mcpbignore or a default exclude"
        return "no such file in the project"

    def vendored_later(self, rel: str) -> bool:
        """Under ``node_modules/`` or a Python vendor directory: ``mcpb build`` fills it."""
        return any(rel == d or rel.startswith(d + "/") for d in _BUILD_VENDOR_DIRS)


def _validate_project(manifest_path: Path, root: Path | None, kind: Kind) -> Report:
    source = str(manifest_path)
    if root is not None and kind == "directory" and not manifest_path.exists():
        issue = Issue("", f"no {MANIFEST_NAME} (create one with `mcpb init {root}`)")
        return Report(str(root), kind, None, (issue,))
    try:
        data = load_manifest_data(manifest_path)
    except ManifestError as err:
        return Report(source, kind, None, tuple(err.issues))
    issues = validate_manifest_data(data)
    if issues or root is None:
        return Report(source, kind, data, tuple(issues))
    collection = collect_files(root, data)
    errors, warnings = check_references(data, CollectedFiles(collection))
    return Report(source, kind, data, tuple(errors), tuple(warnings))


def _validate_bundle(path: Path) -> Report:
    with open_bundle(path) as bundle:
        data = bundle.manifest_data
        issues = validate_manifest_data(data)
        if issues:
            return Report(str(path), "bundle", data, tuple(issues))
        errors, warnings = check_references(data, _BundleFiles(bundle))
    return Report(str(path), "bundle", data, tuple(errors), tuple(warnings))


class _BundleFiles:
    """The members of an open bundle."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.modes = {e.name: e.is_executable for e in bundle.entries if not e.is_dir}
        self.dirs = {d for n in self.modes for d in _parents(n)}
        self.dirs |= {e.name.rstrip("/") for e in bundle.entries if e.is_dir}

    def kind(self, rel: str) -> Literal["file", "dir"] | None:
        rel = rel.rstrip("/")
        if rel in self.modes:
            return "file"
        return "dir" if rel in self.dirs or rel in ("", ".") else None

    def executable(self, rel: str) -> bool:
        return self.modes.get(rel, False)

    def head(self, rel: str, size: int) -> bytes:
        return self.bundle.read(rel)[:size]

    def why_missing(self, rel: str) -> str:
        return "no such file in the bundle"

    def vendored_later(self, rel: str) -> bool:
        return False  # a bundle is what runs: nothing is added to it later


def _check_config(
    config: Mapping[str, Any],
    prefix: str,
    files: FileView,
    errors: list[Issue],
    warnings: list[Issue],
    entry_point: str | None,
) -> None:
    """Check one mcp_config; a missing entry point is reported once, not again per arg."""
    command = config.get("command")
    if isinstance(command, str):
        for rel in _dirname_paths(command):
            if _outside(rel):
                errors.append(Issue(f"{prefix}.command", f"{command}: {_LEAVES}"))
            elif files.kind(rel) != "file" and files.vendored_later(rel):
                warnings.append(Issue(f"{prefix}.command", f"{rel}: not yet{_VENDOR_HINT}"))
            elif files.kind(rel) != "file":
                errors.append(Issue(f"{prefix}.command", f"{rel}: {files.why_missing(rel)}"))
            elif not files.executable(rel):
                warnings.append(Issue(f"{prefix}.command", f"{rel}: not executable (no exec bit)"))
    args = config.get("args")
    if isinstance(args, list):
        for i, arg in enumerate(args):
            if isinstance(arg, str):
                for rel in _dirname_paths(arg):
                    if _outside(rel):
                        errors.append(Issue(f"{prefix}.args[{i}]", f"{arg}: {_LEAVES}"))
                    elif files.kind(rel) is None and rel != entry_point:
                        warnings.append(Issue(f"{prefix}.args[{i}]", f"{rel}: does not exist"))
    env = _mapping(config.get("env"))
    for key in sorted(env):
        value = env[key]
        if isinstance(value, str):
            for rel in _dirname_paths(value):
                if _outside(rel):
                    errors.append(Issue(f"{prefix}.env.{key}", f"{value}: {_LEAVES}"))
                elif files.kind(rel) is None:
                    hint = _VENDOR_HINT if rel in CONVENTIONAL_VENDOR_DIRS else ""
                    warnings.append(Issue(f"{prefix}.env.{key}", f"{rel}: does not exist{hint}"))


def _check_icon(icon: str, files: FileView, errors: list[Issue], warnings: list[Issue]) -> None:
    if icon.startswith(("http://", "https://")):
        warnings.append(
            Issue("icon", "remote URL; hosts display only icon files inside the bundle")
        )
        return
    if "${__dirname}" in icon:
        errors.append(Issue("icon", "must be a plain relative path, without ${__dirname}"))
        return
    if icon.startswith("/") or re.match(r"[A-Za-z]:[\\/]", icon):
        errors.append(Issue("icon", f"must be relative to the bundle root, got {icon!r}"))
        return
    rel = icon.removeprefix("./")
    if files.kind(rel) != "file":
        errors.append(Issue("icon", f"{rel}: {files.why_missing(rel)}"))
    elif files.head(rel, len(PNG_MAGIC)) != PNG_MAGIC:
        errors.append(Issue("icon", f"{rel}: not a PNG file"))


def _dirname_paths(text: str) -> Iterator[str]:
    """Bundle-relative paths written as ``${__dirname}/...`` inside a string, normalised
    (``a/../b`` is ``b``; one that climbs out of the bundle starts with ``..``)."""
    for m in _DIRNAME_PATH.finditer(text):
        rel = _SEP.sub("/", m.group(1)).strip("/")
        if rel:
            yield posixpath.normpath(rel)


_LEAVES = "the path leaves the bundle (only paths inside ${__dirname} may be used)"


def _outside(rel: str) -> bool:
    """Whether a normalised bundle-relative path points outside the bundle."""
    return rel == ".." or rel.startswith("../")


def _parents(name: str) -> Iterator[str]:
    parts = name.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
