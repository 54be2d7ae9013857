"""Install a Node server's production dependencies for one platform with npm.

``npm install --omit=dev --os linux --cpu X`` selects the optional native packages of the target
(the esbuild/sharp/swc pattern) instead of the build machine's. Install scripts are not run:
they would build or download binaries for the *build* machine. A package that needs them — a
node-gyp addon (``binding.gyp``) without a prebuilt binary for the target — cannot be
cross-built, so the build stops naming it. Prebuilt binaries for other platforms are removed so
the ELF check sees only the target's.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from mcpb.bundle.errors import BuildError, UsageError
from mcpb.bundle.platform import Arch, Platform
from mcpb.bundler.builder.dependencies import node_versions

NPM_CPU = {Arch.AMD64: "x64", Arch.ARM64: "arm64"}


def npm_command() -> str:
    """The ``npm`` executable on PATH."""
    found = shutil.which("npm")
    if found is None:
        raise UsageError("npm is not installed: mcpb build needs it for Node servers")
    return found


def write_stage_package(stage: Path, package: str, version: str | None) -> None:
    """A private ``package.json`` whose only dependency is the published server."""
    stage.mkdir(parents=True, exist_ok=True)
    data = {
        "name": "mcpb-build-stage",
        "version": "0.0.0",
        "private": True,
        "dependencies": {package: version or "latest"},
    }
    (stage / "package.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def npm_install(stage: Path, platform: Platform) -> dict[str, str]:
    """Production install in ``stage`` (which holds package.json) for ``platform``; return the
    installed ``{package: version}``."""
    cmd = [
        npm_command(),
        "install",
        "--omit=dev",
        "--omit=peer",
        f"--os={platform.os}",
        f"--cpu={NPM_CPU[platform.arch]}",
        "--ignore-scripts",
        "--install-links",
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--loglevel=error",
    ]
    if not (stage / "package-lock.json").is_file():
        cmd.append("--no-package-lock")
    proc = subprocess.run(cmd, cwd=stage, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(explain_npm_failure(proc.stderr, platform))
    modules = stage / "node_modules"
    versions = node_versions(modules)
    (modules / ".package-lock.json").unlink(missing_ok=True)
    check_native_addons(modules, platform)
    return versions


def explain_npm_failure(stderr: str, platform: Platform) -> str:
    """One line from npm's error output, naming the package when npm does."""
    text = " ".join(stderr.split())
    m = re.search(r"404 Not Found - GET \S+/(@[^/\s]+/[^/\s]+|[^/\s]+)", text)
    if m is not None:
        name = m[1].replace("%2f", "/").replace("%2F", "/")
        return f"npm package {name} not found in the configured registry"
    m = re.search(r"No matching version found for (\S+?)\.?(?: |$)", text)
    if m is not None:
        return f"npm: no matching version found for {m[1]}"
    m = re.search(r"notsup .*?(Unsupported platform for \S+)", text)
    if m is not None:
        return f"npm: {m[1]} on {platform}"
    lines = [line for line in stderr.splitlines() if line.strip()]
    return f"npm install failed for {platform}: {(lines or ['no output'])[-1][:300]}"


def check_native_addons(modules: Path, platform: Platform) -> None:
    """Remove other platforms' prebuilds; fail on a node-gyp addon with none for the target."""
    target_dir = f"{platform.os}-{NPM_CPU[platform.arch]}"
    for package_json in sorted(modules.rglob("package.json")):
        pkg_dir = package_json.parent
        if pkg_dir.parent.name != "node_modules" and pkg_dir.parent.parent.name != "node_modules":
            continue
        prebuilds = pkg_dir / "prebuilds"
        has_target = False
        if prebuilds.is_dir():
            for child in sorted(prebuilds.iterdir()):
                if child.is_dir() and child.name.startswith(target_dir):
                    has_target = True
                elif child.is_dir():
                    shutil.rmtree(child)
        if (pkg_dir / "binding.gyp").is_file() and not has_target:
            name, version = _name_version(package_json)
            raise BuildError(
                f"{name}@{version} is a node-gyp addon with no prebuilt binary for {platform}: "
                "it cannot be cross-built; choose a version with prebuilds or drop it"
            )


def _name_version(package_json: Path) -> tuple[str, str]:
    try:
        data = json.loads(package_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return package_json.parent.name, "?"
    if not isinstance(data, dict):
        return package_json.parent.name, "?"
    return str(data.get("name", package_json.parent.name)), str(data.get("version", "?"))
