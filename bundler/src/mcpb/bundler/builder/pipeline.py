"""Orchestrate ``mcpb build``: stage, vendor, check and pack one bundle per platform.

Nothing reaches the output directory until every platform has built: bundles are written into a
temporary directory beside the outputs and renamed into place at the end, followed by
``SHA256SUMS`` and ``server.json``. A failure on the second platform therefore leaves the output
directory exactly as it was.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpb.bundle.archive import Entry
from mcpb.bundle.atomic import write_atomic
from mcpb.bundle.digest import render_sha256sums
from mcpb.bundle.errors import BuildError, ManifestError, UsageError
from mcpb.bundle.manifest import load_manifest_data, validate_manifest_data
from mcpb.bundle.meta import META_KEY, pack_bundle
from mcpb.bundle.platform import Platform
from mcpb.bundler.builder import binary, derive, node, python
from mcpb.bundler.builder.check import CheckOptions, CheckResult, check_bundle, skip_reason
from mcpb.bundler.builder.dependencies import (
    Pins,
    add_npm_overrides,
    npm_overrides,
    python_requirements,
    python_versions,
)
from mcpb.bundler.builder.elf import HEADER_SIZE, check_elf_files
from mcpb.bundler.builder.launch_options import LaunchOptions, apply_launch_options
from mcpb.bundler.builder.prune import PruneReport, prune_site_packages
from mcpb.bundler.builder.serverjson import (
    BuiltBundle,
    Publishing,
    dump_server_json,
    render_server_json,
    validate_server_json,
)
from mcpb.bundler.builder.source import Source, SourceKind
from mcpb.bundler.builder.stage import entry_head, tree_entries, without
from mcpb.bundler.collect import collect_files
from mcpb.bundler.naming import bundle_file_name
from mcpb.bundler.runtimes import choose_node_runtime

Progress = Callable[[str], None]
SHA256SUMS = "SHA256SUMS"
SERVER_JSON = "server.json"
PENDING_PREFIX = ".mcpb-build-"  # bundles wait here, inside the output directory


@dataclass(frozen=True)
class BuildOptions:
    """Everything the build needs, already parsed and checked by the CLI (or a test)."""

    source: Source
    platforms: tuple[Platform, ...]
    out_dir: Path
    python: str | None = None
    entry_point: str | None = None
    allow_sdist: bool = False
    binaries: dict[Platform, Path] = field(default_factory=dict)
    publishing: Publishing = field(default_factory=Publishing)
    launch: LaunchOptions = field(default_factory=LaunchOptions)
    pins: Pins = field(default_factory=Pins)
    check: CheckOptions = field(default_factory=lambda: CheckOptions(enabled=False))
    epoch: int | None = None


@dataclass(frozen=True)
class PlatformBundle:
    """One written bundle and what went into it."""

    platform: Platform
    path: Path
    sha256: str
    size: int
    file_count: int
    elf_files: int
    pruned_files: int
    pruned_bytes: int


@dataclass(frozen=True)
class BuildResult:
    """The outputs of a build, for the summary and for tests."""

    name: str
    version: str
    runtime: str
    python: str | None
    bundles: tuple[PlatformBundle, ...]
    sha256sums: Path
    server_json: Path
    notes: tuple[str, ...]
    seconds: float
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        return {
            "name": self.name,
            "version": self.version,
            "runtime": self.runtime,
            "python": self.python,
            "bundles": [
                {
                    "platform": str(b.platform),
                    "file": str(b.path),
                    "sha256": b.sha256,
                    "size": b.size,
                    "files": b.file_count,
                    "elf_files": b.elf_files,
                    "pruned_bytes": b.pruned_bytes,
                }
                for b in self.bundles
            ],
            "sha256sums": str(self.sha256sums),
            "server_json": str(self.server_json),
            "notes": list(self.notes),
            "checks": self.checks,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Staged:
    """One platform's manifest and files, ready to check and pack."""

    manifest: dict[str, Any]
    entries: list[Entry]
    pruned: PruneReport = field(default_factory=PruneReport)
    marker: str | None = None
    notes: list[str] = field(default_factory=list)
    dependencies: dict[str, str] = field(default_factory=dict)
    runtime: str | None = None  # when the package decides it (a Node engines range)


def build(options: BuildOptions, progress: Progress | None = None) -> BuildResult:
    """Build every platform, then publish the outputs atomically into ``options.out_dir``."""
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    builder = _Builder(options, say)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mcpb-build-") as work_text:
        work = Path(work_text)
        pending = Path(tempfile.mkdtemp(prefix=PENDING_PREFIX, dir=options.out_dir))
        try:
            results, manifest, marker, notes = builder.build_all(work, pending)
            # Everything that can still fail happens before the first file is published.
            built = [BuiltBundle(b.platform, b.path.name, b.sha256, b.size) for b in results]
            doc = render_server_json(
                manifest, built, options.publishing, runtime=builder.runtime, marker=marker
            )
            validate_server_json(doc)
            sums_text = render_sha256sums((b.path.name, b.sha256) for b in results)
            final = []
            for res in results:
                target = options.out_dir / res.path.name
                res.path.replace(target)
                final.append(dataclasses.replace(res, path=target))
        finally:
            shutil.rmtree(pending, ignore_errors=True)
    sums = options.out_dir / SHA256SUMS
    write_atomic(sums, sums_text.encode())
    server_json = options.out_dir / SERVER_JSON
    write_atomic(server_json, dump_server_json(doc))
    say(f"wrote {SHA256SUMS} and {SERVER_JSON}")
    return BuildResult(
        name=str(manifest["name"]),
        version=str(manifest["version"]),
        runtime=builder.runtime,
        python=builder.python,
        bundles=tuple(final),
        sha256sums=sums,
        server_json=server_json,
        notes=tuple(notes),
        seconds=time.monotonic() - started,
        checks=dict(builder.checks),
    )


class _Builder:
    """Per-build state shared by the platforms (the project wheel, the Python version)."""

    def __init__(self, options: BuildOptions, say: Progress) -> None:
        self.options = options
        self.say = say
        self.source = options.source
        self.python: str | None = None
        self.runtime = self.source.kind.runtime
        self._wheel: Path | None = None
        self.checks: dict[str, dict[str, Any]] = {}  # platform → the check's outcome
        if options.pins and self.runtime == "binary":
            raise UsageError("--with/--constraint/--override apply to Python and Node sources")
        if self.runtime == "python":
            self.python = self._choose_python()
            self.runtime = f"python:{self.python}"
        elif self.runtime == "node":
            self.runtime = choose_node_runtime(None)  # package.json's engines may raise it

    def _choose_python(self) -> str:
        if self.options.python:
            return python.parse_python_minor(self.options.python)
        requires = None
        if self.source.kind is SourceKind.PYTHON_PROJECT and self.source.path is not None:
            requires = _pyproject(self.source.path).get("requires-python")
        return python.default_python(requires if isinstance(requires, str) else None)

    def build_all(
        self, work: Path, pending: Path
    ) -> tuple[list[PlatformBundle], dict[str, Any], str | None, list[str]]:
        """Build the platforms concurrently (installs wait on I/O, zlib releases the GIL)."""
        if self.source.kind is SourceKind.PYTHON_PROJECT and not self._has_manifest():
            self._project_wheel(work)  # shared by every platform: build it once, up front
        platforms = self.options.platforms
        workers = max(1, min(len(platforms), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(self._build_one, work, pending, p) for p in platforms]
            done = [f.result() for f in futures]
        results = [bundle for bundle, _ in done]
        staged_all = [staged for _, staged in done]
        first = staged_all[0]
        for other, platform in zip(staged_all[1:], platforms[1:], strict=True):
            for key in ("name", "version"):
                if other.manifest.get(key) != first.manifest.get(key):
                    raise BuildError(
                        f"{platform}: {key} {other.manifest.get(key)!r} differs from "
                        f"{platforms[0]}'s {first.manifest.get(key)!r}; pin the version"
                    )
        self.runtime = first.runtime or self.runtime
        notes: list[str] = []
        for staged in staged_all:
            notes.extend(n for n in staged.notes if n not in notes)
        if self.options.check.enabled:  # once every platform built: build errors come first
            for bundle in results:
                notes += self._check(bundle.path, bundle.sha256, first.manifest, bundle.platform)
        return results, first.manifest, first.marker, notes

    def _build_one(
        self, work: Path, pending: Path, platform: Platform
    ) -> tuple[PlatformBundle, _Staged]:
        t0 = time.monotonic()
        self.say(f"{platform}: staging {self.source}")
        staged = self._stage(work / platform.slug, platform)
        staged.notes += apply_launch_options(staged.manifest, self.options.launch)
        issues = validate_manifest_data(staged.manifest)
        if issues:
            raise ManifestError("manifest.json (derived)", issues)
        entries = staged.entries
        heads = ((e.name, entry_head(e, HEADER_SIZE)) for e in entries)
        elf_count = check_elf_files(heads, platform)
        name = bundle_file_name(
            str(staged.manifest["name"]), str(staged.manifest["version"]), platform
        )
        self.say(f"{platform}: packing {len(entries)} files ({elf_count} ELF, all checked)")
        info = pack_bundle(
            staged.manifest,
            entries,
            pending / name,
            platform=str(platform),
            runtime=staged.runtime or self.runtime,
            python=self.python,
            epoch=self.options.epoch,
            dependencies=staged.dependencies,
        )
        # Free the staged tree now, overlapping with the other platforms' work.
        shutil.rmtree(work / platform.slug, ignore_errors=True)
        took = time.monotonic() - t0
        self.say(f"{platform}: {name} ({info.compressed_size} bytes) in {took:.1f}s")
        bundle = PlatformBundle(
            platform,
            info.path,
            info.sha256,
            info.compressed_size,
            info.file_count,
            elf_count,
            staged.pruned.files,
            staged.pruned.bytes,
        )
        return bundle, staged

    def _check(
        self, path: Path, sha256: str, manifest: dict[str, Any], platform: Platform
    ) -> list[str]:
        """Run the check for one built bundle; notes say when and why it was skipped."""
        reason = skip_reason(platform, self.runtime)
        if reason is None:
            self.say(f"{platform}: checking: initialize and tools/list through the loader")
            outcome = check_bundle(path, sha256, manifest, self.runtime, self.options.check)
            reason = None if isinstance(outcome, CheckResult) else f"{platform}: {outcome}"
        if reason is not None:
            self.checks[str(platform)] = {"status": "skipped", "reason": reason}
            return [reason]
        assert isinstance(outcome, CheckResult)
        self.checks[str(platform)] = {
            "status": "passed",
            "tools": list(outcome.tools),
            "seconds": round(outcome.seconds, 2),
        }
        self.say(
            f"{platform}: check passed in {outcome.seconds:.1f}s: "
            f"{len(outcome.tools)} tools ({', '.join(outcome.tools[:8])})"
        )
        return []

    def _stage(self, stage: Path, platform: Platform) -> _Staged:
        kind = self.source.kind
        if kind is SourceKind.PYPI or (
            kind is SourceKind.PYTHON_PROJECT and not self._has_manifest()
        ):
            return self._stage_python_package(stage, platform)
        if kind is SourceKind.PYTHON_PROJECT:
            return self._stage_python_manifest(stage, platform)
        if kind is SourceKind.NPM:
            return self._stage_npm(stage, platform)
        if kind is SourceKind.NODE_PROJECT:
            return self._stage_node_project(stage, platform)
        return self._stage_binary(platform)

    # -- Python ------------------------------------------------------------------------------

    def _has_manifest(self) -> bool:
        return self.source.path is not None and (self.source.path / "manifest.json").is_file()

    def _target(self, platform: Platform) -> python.PythonTarget:
        assert self.python is not None
        return python.PythonTarget(platform, self.python)

    def _project_wheel(self, work: Path) -> Path:
        if self._wheel is None:
            assert self.source.path is not None
            self.say(f"building the wheel of {self.source.path.name}")
            self._wheel = python.build_wheel(self.source.path, work / "wheel")
        return self._wheel

    def _stage_python_package(self, stage: Path, platform: Platform) -> _Staged:
        lib = stage / derive.PYTHON_LIB
        if self.source.kind is SourceKind.PYPI:
            requirement, dist_name = self.source.requirement, str(self.source.package)
        else:
            wheel = self._project_wheel(stage.parent)  # built before the threads start
            requirement, dist_name = str(wheel), wheel.name.split("-", 1)[0]
        self.say(f"{platform}: uv pip install {dist_name} for Python {self.python}")
        self._vendor_python([requirement], lib, platform)
        dist = derive.read_python_dist(derive.find_dist_info(lib, dist_name))
        versions = python_versions(lib)
        pruned = prune_site_packages(lib)
        entry = derive.choose_entry_point(dist, self.options.entry_point)
        assert self.python is not None
        manifest = derive.python_manifest(dist, self.python)
        entries = tree_entries(lib, derive.PYTHON_LIB + "/")
        entries.append(Entry.from_bytes(derive.LAUNCHER, derive.render_launcher(entry, dist.name)))
        return _Staged(manifest, entries, pruned, dist.registry_name, dependencies=versions)

    def _stage_python_manifest(self, stage: Path, platform: Platform) -> _Staged:
        root = self._root()
        manifest = load_manifest_data(root / "manifest.json")
        project = _pyproject(root)
        dynamic = project.get("dynamic", [])
        if isinstance(dynamic, list) and "dependencies" in dynamic:
            raise BuildError(
                f"{root / 'pyproject.toml'}: dependencies are dynamic; with a manifest.json, "
                "mcpb build vendors the static [project].dependencies only"
            )
        deps = project.get("dependencies", [])
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise BuildError(f"{root / 'pyproject.toml'}: [project].dependencies must be a list")
        lib_rel = _python_lib_dir(manifest)
        notes = _complete_python(manifest, project, lib_rel)
        pruned = PruneReport()
        versions: dict[str, str] = {}
        entries = self._project_entries(root, manifest, [lib_rel])
        entries = without(entries, [], [lib_rel])
        if deps or self.options.pins.with_:
            lib = stage / lib_rel
            self.say(
                f"{platform}: uv pip install {len(deps)} dependencies for Python {self.python}"
            )
            self._vendor_python(list(deps), lib, platform)
            versions = python_versions(lib)
            pruned = prune_site_packages(lib)
            entries += tree_entries(lib, lib_rel + "/")
        return _Staged(manifest, entries, pruned, None, notes, versions)

    def _vendor_python(self, requirements: list[str], lib: Path, platform: Platform) -> None:
        pins = self.options.pins
        python.vendor(
            [*requirements, *python_requirements(pins)],
            lib,
            self._target(platform),
            allow_sdist=self.options.allow_sdist,
            uv_options=pins.uv_arguments(),
        )

    # -- Node --------------------------------------------------------------------------------

    def _stage_npm(self, stage: Path, platform: Platform) -> _Staged:
        package = str(self.source.package)
        server = stage / "server"
        node.write_stage_package(server, package, self.source.version)
        add_npm_overrides(server / "package.json", npm_overrides(self.options.pins))
        self.say(f"{platform}: npm install {self.source.requirement} for {platform.arch}")
        versions = node.npm_install(server, platform)
        pkg = derive.read_package_json(server / "node_modules" / package / "package.json")
        entry_path = f"server/node_modules/{package}/{pkg.entry}"
        manifest = derive.node_manifest(pkg, entry_path)
        entries = tree_entries(server / "node_modules", "server/node_modules/")
        return _Staged(
            manifest,
            entries,
            PruneReport(),
            pkg.registry_name,
            dependencies=versions,
            runtime=choose_node_runtime(pkg.engines_node),
        )

    def _stage_node_project(self, stage: Path, platform: Platform) -> _Staged:
        root = self._root()
        authored = load_manifest_data(root / "manifest.json") if self._has_manifest() else None
        server = authored.get("server") if authored else None
        declared = server.get("entry_point") if isinstance(server, dict) else None
        pkg = derive.read_package_json(
            root / "package.json", declared_entry=declared if isinstance(declared, str) else None
        )
        derived = derive.node_manifest(pkg, pkg.entry)
        notes: list[str] = []
        if authored is not None:
            manifest = authored
            notes = derive.complete_manifest(manifest, derived)
        else:
            manifest = derived
        stage.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            if (root / name).is_file():
                shutil.copyfile(root / name, stage / name)
        add_npm_overrides(stage / "package.json", npm_overrides(self.options.pins))
        self.say(f"{platform}: npm install --omit=dev (--cpu {node.NPM_CPU[platform.arch]})")
        versions = node.npm_install(stage, platform)
        entries = without(
            self._project_entries(root, manifest, ["node_modules"]), [], ["node_modules"]
        )
        if (stage / "node_modules").is_dir():
            entries += tree_entries(stage / "node_modules", "node_modules/")
        return _Staged(
            manifest,
            entries,
            PruneReport(),
            pkg.registry_name,
            notes,
            versions,
            choose_node_runtime(pkg.engines_node),
        )

    # -- Binary ------------------------------------------------------------------------------

    def _stage_binary(self, platform: Platform) -> _Staged:
        root = self._root()
        manifest = load_manifest_data(root / "manifest.json")
        binaries = self.options.binaries or binary.binaries_from_meta(manifest, META_KEY, root)
        exe = binary.select_binary(binaries, platform)
        entry_point = binary.entry_point_of(manifest)
        manifest = copy.deepcopy(manifest)
        meta = manifest.get("_meta")
        if isinstance(meta, dict) and isinstance(meta.get(META_KEY), dict):
            meta[META_KEY].pop(binary.META_BINARIES, None)  # pack_bundle writes ours afresh
        others = [_relative(p, root) for p in binaries.values()]
        entries = without(self._project_entries(root, manifest, []), [entry_point, *others], [])
        entries.append(Entry.from_file(entry_point, exe, executable=True))
        return _Staged(manifest, entries)

    # -- shared ------------------------------------------------------------------------------

    def _root(self) -> Path:
        if self.source.path is None:
            raise UsageError(f"{self.source}: not a project directory")
        return self.source.path

    def _project_entries(
        self, root: Path, manifest: dict[str, Any], vendored: list[str]
    ) -> list[Entry]:
        """The author's files (pack's rules), minus build outputs.

        Left out: the output directory when it is inside the project, and at the project root
        the files a build writes there with ``-o .`` (``SHA256SUMS``, ``server.json`` — registry
        metadata, not something the server reads) and in-progress directories.
        """
        collected = collect_files(root, manifest, extra_vendored=vendored)
        out = _relative(self.options.out_dir, root)
        entries = without(collected.entries, [SHA256SUMS, SERVER_JSON], [out] if out else [])
        return [e for e in entries if not e.name.startswith(PENDING_PREFIX)]


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in posix form, or ``""`` when it lies outside."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return ""


def _pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise BuildError(f"{path}: cannot read: {err}") from err
    project = data.get("project")
    return project if isinstance(project, dict) else {}


def _python_lib_dir(manifest: dict[str, Any]) -> str:
    """Where the author's ``PYTHONPATH`` points inside the bundle (default ``server/lib``)."""
    server = manifest.get("server")
    config = server.get("mcp_config") if isinstance(server, dict) else None
    env = config.get("env") if isinstance(config, dict) else None
    value = env.get("PYTHONPATH") if isinstance(env, dict) else None
    if isinstance(value, str):
        for part in re.split(r":|\$\{pathSeparator\}|\$\{/\}", value):
            if part.startswith(derive.DIRNAME + "/"):
                return part[len(derive.DIRNAME) + 1 :].strip("/")
    return derive.PYTHON_LIB


def _complete_python(manifest: dict[str, Any], project: dict[str, Any], lib_rel: str) -> list[str]:
    """Fill what an author's Python manifest lacks: version, description, the search path."""
    notes = []
    for key in ("version", "description"):
        value = project.get(key)
        if key not in manifest and isinstance(value, str):
            manifest[key] = value
        elif key == "version" and isinstance(value, str) and manifest.get(key) != value:
            notes.append(
                f"manifest.json version {manifest.get(key)!r} differs from pyproject's {value!r}"
            )
    server = manifest.get("server")
    config = server.get("mcp_config") if isinstance(server, dict) else None
    if isinstance(config, dict):
        env = config.setdefault("env", {})
        if isinstance(env, dict) and "PYTHONPATH" not in env:
            env["PYTHONPATH"] = f"{derive.DIRNAME}/{lib_rel}"
    return notes
