"""Python bytecode for the images, compiled on the host at native speed.

A ``--read-only`` container cannot write ``__pycache__``, so every ``.pyc`` must be in the image
or each start recompiles the loader and the standard library in memory. Bytecode depends on the
Python minor version only, not on the CPU, so arm64 images need not compile under qemu (minutes):
the host runs the *same* CPython from the host-architecture root filesystem of the same Debian
suite, through that root's own dynamic loader and libraries (no chroot, no container).

The standard library is compiled with ``unchecked-hash`` pycs (the image never changes them, and
clamped mtimes cannot invalidate them); the loader site with timestamp pycs, which ``docker
build`` ``COPY`` keeps valid and ``prepare.py``'s ``compileall`` then finds up to date.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from mcpb.bundle.errors import BuildError
from mcpb.bundle.platform import Arch

_LOADER = {Arch.AMD64: "ld-linux-x86-64.so.2", Arch.ARM64: "ld-linux-aarch64.so.1"}
_TRIPLET = {Arch.AMD64: "x86_64-linux-gnu", Arch.ARM64: "aarch64-linux-gnu"}


def interpreter(root: Path, python: str, arch: Arch) -> list[str]:
    """argv running ``root``'s ``python{python}`` on this machine (``arch`` is the host's)."""
    libdirs = [root / "lib" / _TRIPLET[arch], root / "usr" / "lib" / _TRIPLET[arch]]
    loaders = [d / _LOADER[arch] for d in libdirs if (d / _LOADER[arch]).exists()]
    executable = root / "usr" / "bin" / f"python{python}"
    if not loaders or not executable.exists():
        raise BuildError(
            f"{root}: no {arch} python{python} with its dynamic loader to compile with"
        )
    search = ":".join(str(d) for d in libdirs)
    return [str(loaders[0]), "--library-path", search, str(executable)]


def compile_tree(argv: list[str], directory: Path, shown_as: str, *, hashed: bool) -> None:
    """``compileall`` ``directory`` (tracebacks name ``shown_as``); one process, since workers
    would be started without the root's dynamic loader."""
    mode = ["--invalidation-mode", "unchecked-hash"] if hashed else []
    proc = subprocess.run(
        [*argv, "-I", "-m", "compileall", "-q", "-j", "1", *mode, "-d", shown_as, str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if not any(directory.rglob("*.pyc")):
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
        raise BuildError(f"compiling {shown_as} failed: {lines[-1]}")


def compile_stdlib(root: Path, python: str, native_root: Path, host: Arch) -> None:
    """Bytecode for ``root``'s standard library, compiled by ``native_root``'s interpreter."""
    stdlib = root / "usr" / "lib" / f"python{python}"
    compile_tree(
        interpreter(native_root, python, host), stdlib, f"/usr/lib/python{python}", hashed=True
    )
