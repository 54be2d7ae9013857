"""Byte-compile a Python bundle's extracted tree once, when it enters the cache.

Why: containers commonly set ``PYTHONDONTWRITEBYTECODE=1`` and cached trees may be read-only to
the server, so without this every start of a Python server recompiles its vendored packages
(for mcp 2.x and pydantic that roughly doubles the import time). The tree under
``trees/<sha256>/`` never changes once it is in place, so the ``.pyc`` files use the
``unchecked-hash`` invalidation mode: the interpreter loads them without looking at the source's
timestamp or hash.

The compiler is the interpreter that will run the server (the launch command's ``python``, which
may be another minor version than the loader's): ``.pyc`` files are tagged per interpreter
version, so compiling with the wrong one would be wasted work. Non-Python bundles are skipped.
Compilation is an optimisation: every failure (a file that does not compile, a missing
interpreter, a timeout) is logged as a warning and never stops the loader.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mcpb.bundle.manifest_view import ManifestView
from mcpb.loader.process_group import kill_group_now

log = logging.getLogger("mcpb.loader")

#: Upper bound of one compilation; a bigger tree is served without the rest of its bytecode.
COMPILE_TIMEOUT = 300.0
_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?$")
_ERROR_LINE = "*** Error compiling"


@dataclass(frozen=True)
class CompileResult:
    """What one compilation did; ``ok`` is False when anything went wrong (already logged)."""

    python: str
    seconds: float
    ok: bool
    failed_files: int = 0


def launch_python(
    manifest: ManifestView, tree: Path, env: Mapping[str, str] | None = None
) -> str | None:
    """The interpreter that will run a ``python`` server extracted at ``tree``, or None.

    The Linux ``mcp_config`` command (after ``platform_overrides``) with ``${__dirname}``,
    ``${/}``/``${pathSeparator}`` and ``${HOME}`` substituted, looked up on ``PATH``, when its
    name is ``python``/``pythonX``/``pythonX.Y``; otherwise (a wrapper script, ``uv``) the
    loader's own interpreter, which the compatibility check matched against the bundle. None
    for servers of any other type.
    """
    if manifest.server_type != "python":
        return None
    command = manifest.linux_command()
    for name, value in (
        ("__dirname", str(tree)),
        ("/", "/"),
        ("pathSeparator", "/"),
        ("HOME", str(Path.home())),
    ):
        command = command.replace("${" + name + "}", value)
    path = (env or os.environ).get("PATH")
    found = None if "${" in command else shutil.which(command, path=path)
    if found is not None and _PYTHON_NAME.match(Path(found).name):
        return found
    return sys.executable


def server_writes_bytecode(manifest: ManifestView, environ: Mapping[str, str]) -> bool:
    """Whether the server will cache its own bytecode as it imports (CPython's default).

    Then compiling the whole tree ahead only delays the first start (seconds for a large
    tree) for modules the server may never import: CPython writes each imported module's
    ``.pyc`` beside it atomically, so concurrent loaders on one cache stay safe. Only when
    ``PYTHONDONTWRITEBYTECODE`` reaches the server (from this environment or the manifest's
    ``mcp_config.env``) is there no other way to get bytecode into the tree.
    """
    declared = manifest.mcp_config.env.get("PYTHONDONTWRITEBYTECODE")
    return not (declared or environ.get("PYTHONDONTWRITEBYTECODE"))


def compile_tree(
    tree: Path,
    python: str,
    *,
    recorded_as: Path | None = None,
    timeout: float = COMPILE_TIMEOUT,
) -> CompileResult:
    """Write ``unchecked-hash`` ``.pyc`` files for every ``.py`` file under ``tree``.

    ``recorded_as`` is the path the tree will have when it is used (the source path written into
    the bytecode, as tracebacks show it) when it is compiled in a staging place first. Runs
    ``python -I -m compileall`` in parallel workers; ``-I`` keeps ``PYTHONPYCACHEPREFIX`` and
    the like from sending the files elsewhere. Never raises for a compilation problem.
    """
    argv = [python, "-I", "-m", "compileall", "-q", "-j", "0"]
    argv += ["--invalidation-mode", "unchecked-hash"]
    if recorded_as is not None:
        argv += ["-s", str(tree), "-p", str(recorded_as)]
    argv.append(str(tree))
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its worker processes are stopped with it on a timeout
        )
    except OSError as err:
        log.warning("bytecode: cannot run %s to compile %s: %s", python, tree, err.strerror or err)
        return CompileResult(python, time.monotonic() - start, ok=False)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group_now(proc)
        log.warning("bytecode: compiling %s with %s took over %.0fs", tree, python, timeout)
        return CompileResult(python, time.monotonic() - start, ok=False)
    except BaseException:  # a stop signal while compiling: leave no compiler writing behind
        kill_group_now(proc)
        raise
    seconds = time.monotonic() - start
    if proc.returncode == 0:
        log.info("bytecode: compiled %s with %s in %.2fs", recorded_as or tree, python, seconds)
        return CompileResult(python, seconds, ok=True)
    text = output.decode("utf-8", "replace")
    failed = [line for line in text.splitlines() if line.startswith(_ERROR_LINE)]
    first = failed[0] if failed else (text.strip().splitlines() or ["no output"])[-1]
    log.warning(
        "bytecode: %d file(s) under %s did not compile with %s (exit %d; %s); "
        "they will be compiled at import time",
        len(failed),
        tree,
        python,
        proc.returncode,
        first[:300],
    )
    return CompileResult(python, seconds, ok=False, failed_files=len(failed))
