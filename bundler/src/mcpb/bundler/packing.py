"""Pack a project directory: manifest checks, file collection, then the reproducible writer.

Order matters for "bad input never leaves anything half-written": the manifest is loaded and
validated, the files are collected and the manifest's file references are checked against what
will really be packed, and only then is the archive written (atomically, by the writer).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpb.bundle.archive import ArchiveInfo
from mcpb.bundle.errors import Issue, ManifestError, UsageError
from mcpb.bundle.manifest import load_manifest_data, validate_manifest_data
from mcpb.bundle.meta import pack_bundle
from mcpb.bundler.collect import MANIFEST_NAME, Collection, collect_files
from mcpb.bundler.naming import bundle_file_name
from mcpb.bundler.validation import CollectedFiles, check_references


@dataclass(frozen=True)
class PackResult:
    """The written archive, the manifest it carries, what was collected and any warnings."""

    archive: ArchiveInfo
    manifest: dict[str, Any]
    collection: Collection
    warnings: tuple[Issue, ...]


def load_valid_manifest(directory: Path) -> dict[str, Any]:
    """The raw manifest of a project, or ManifestError listing every schema issue."""
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(
            str(path), [Issue("", f"not found (create one with `mcpb init {directory}`)")]
        )
    data = load_manifest_data(path)
    issues = validate_manifest_data(data)
    if issues:
        raise ManifestError(str(path), issues)
    return data


def output_path(
    output: Path | None, manifest: dict[str, Any], *, output_is_dir: bool = False
) -> Path:
    """``OUT`` as given, ``OUT/NAME-vVERSION.mcpb`` for a directory, or that name here.

    ``output_is_dir`` says ``OUT`` names a directory even if it does not exist yet.
    """
    default = bundle_file_name(str(manifest["name"]), str(manifest["version"]))
    if output is None:
        return Path(default)
    if output_is_dir or output.is_dir():
        return output / default
    if output.exists() and not output.is_file():
        raise UsageError(f"{output}: exists and is not a regular file")
    return output


def pack_project(
    directory: Path,
    output: Path | None = None,
    *,
    output_is_dir: bool = False,
    epoch: int | None = None,
) -> PackResult:
    """Validate and pack ``directory``; ``epoch`` overrides ``SOURCE_DATE_EPOCH``."""
    manifest = load_valid_manifest(directory)
    out = output_path(output, manifest, output_is_dir=output_is_dir)
    collection = collect_files(directory, manifest)
    out_real = os.path.realpath(out)
    entries = [
        e for e in collection.entries if e.source is None or os.path.realpath(e.source) != out_real
    ]
    if len(entries) != len(collection.entries):
        collection = Collection(
            collection.root,
            tuple(entries),
            collection.total_size,
            collection.excluded,
            collection.vendored_roots,
        )
    errors, warnings = check_references(manifest, CollectedFiles(collection))
    if errors:
        raise ManifestError(str(directory / MANIFEST_NAME), errors)
    created = _make_parents(out.parent)
    try:
        author = (directory / MANIFEST_NAME).read_bytes()  # kept as is when nothing is added
        archive = pack_bundle(manifest, collection.entries, out, epoch=epoch, manifest_bytes=author)
    except BaseException:
        for parent in reversed(created):  # leave no empty output directory behind
            parent.rmdir()
        raise
    return PackResult(archive, manifest, collection, tuple(warnings))


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; return the ones created, outermost first."""
    missing: list[Path] = []
    probe = directory.absolute()
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    missing.reverse()
    try:
        for path in missing:
            path.mkdir()
    except OSError as err:
        raise UsageError(f"{directory}: cannot create: {err.strerror or err}") from err
    return missing
