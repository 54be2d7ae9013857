"""Install pinned PyPI packages into their own cached virtual environments, once per machine.

For peers whose dependencies clash with the workspace (mcp-proxy needs ``mcp<2``) or that
the tests run as separate programs (mcp-server-time). Environments live in
``.cache/pypi/<name>``, guarded by a file lock so parallel test processes install once; the
machine's configured package index is used (``uv pip install``).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "pypi"

MCP_SERVER_TIME = ("mcp-server-time==2026.10.19",)
MCP_PROXY = ("mcp-proxy==0.13.0", "mcp<2")


def pypi_venv(name: str, requirements: tuple[str, ...], python: str | None = None) -> Path:
    """The root of the virtual environment ``name`` holding ``requirements`` (created with the
    interpreter ``python`` when given, else uv's default)."""
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is not on PATH; ./dev installs it")
    root = CACHE / name
    done = root / ".installed"
    if done.exists() and done.read_text() == "\n".join(requirements):
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (done.exists() and done.read_text() == "\n".join(requirements)):
            interpreter = ["--python", python] if python else []
            subprocess.run([uv, "venv", "-q", "--clear", *interpreter, str(root)], check=True)
            python = str(root / "bin" / "python")
            subprocess.run(
                [uv, "pip", "install", "-q", "--python", python, *requirements], check=True
            )
            done.write_text("\n".join(requirements))
    return root


def pypi_bin(name: str, requirements: tuple[str, ...], exe: str) -> Path:
    """Path of an executable the environment ``name`` installs (``bin/EXE``)."""
    path = pypi_venv(name, requirements) / "bin" / exe
    if not path.exists():
        raise RuntimeError(f"{' '.join(requirements)} did not install an executable named {exe}")
    return path
