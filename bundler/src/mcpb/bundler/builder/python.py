"""Vendor a Python server and its dependencies for one platform with ``uv pip install --target``.

Cross-installing is possible because uv resolves against a declared target
(``--python-platform``, ``--python-version``) instead of the running interpreter; binary wheels
only (``--only-binary :all:``) so nothing is compiled for the build machine by accident. When
uv cannot find a wheel for the target we translate its resolver explanation into one line naming
the package, the version and the platform.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from mcpb.bundle.errors import BuildError, UsageError
from mcpb.bundle.platform import Platform
from mcpb.bundler.runtimes import PYTHON_SUITES

# glibc baseline of the wheels we accept: manylinux_2_28 covers Debian 10+ / RHEL 8+ and every
# base image we ship (bookworm 2.36, trixie 2.41) while still admitting manylinux2014 wheels.
MANYLINUX = "manylinux_2_28"

# Runtimes our base images provide (mcpb-python:3.11, 3.13, 3.14).
BASE_IMAGE_PYTHONS = tuple(PYTHON_SUITES)

_NO_WHEEL = re.compile(
    r"Because (?:only )?(?P<req>[A-Za-z0-9][A-Za-z0-9._-]*(?:[=<>!~]=?[^\s,]+)?) "
    r"has no (?P<why>usable wheels|wheels with a matching (?:platform|Python ABI|Python) tag)"
)
_NOT_FOUND = re.compile(
    r"Because (?P<req>[A-Za-z0-9][A-Za-z0-9._-]*(?:[=<>!~]=?[^\s,]+)?) was not found"
)
_BUILT_ELSEWHERE = re.compile(
    r"Failed to (?:download and )?build `(?P<req>[^`]+)`.*?"
    r"The built wheel `(?P<wheel>[^`]+)` is not compatible"
)
_NO_VERSION = re.compile(r"there is no version of (?P<req>\S+)")


@dataclass(frozen=True)
class PythonTarget:
    """One vendoring target: a platform and a Python minor version such as ``3.11``."""

    platform: Platform
    python: str

    @property
    def uv_platform(self) -> str:
        """uv's ``--python-platform`` value, e.g. ``aarch64-manylinux_2_28``."""
        return f"{self.platform.gnu_machine}-{MANYLINUX}"


def uv_command() -> list[str]:
    """How to run uv: the ``uv`` on PATH, else the one installed beside this Python."""
    found = shutil.which("uv")
    if found:
        return [found]
    beside = Path(sys.executable).with_name("uv")
    if beside.exists():
        return [str(beside)]
    raise UsageError("uv is not installed: `pip install uv` (mcpb build vendors with uv)")


def parse_python_minor(text: str) -> str:
    """Validate ``--python``: a minor version such as ``3.11`` (``3.11.7`` is cut to ``3.11``)."""
    m = re.fullmatch(r"\s*(3)\.(\d{1,2})(?:\.\d+)?\s*", text)
    if m is None:
        raise UsageError(f"--python {text!r}: expected a Python minor version such as 3.11")
    return f"{m[1]}.{m[2]}"


def default_python(requires_python: str | None) -> str:
    """The oldest base-image Python that satisfies ``requires-python`` (so both images run it).

    An unparsable ``requires-python`` is treated as no constraint.
    """
    if not requires_python:
        return BASE_IMAGE_PYTHONS[0]
    for candidate in BASE_IMAGE_PYTHONS:
        if _satisfies(candidate, requires_python):
            return candidate
    raise BuildError(
        f"requires-python {requires_python!r} excludes every base image runtime "
        f"({', '.join(BASE_IMAGE_PYTHONS)}); pass --python explicitly"
    )


def _satisfies(minor: str, spec: str) -> bool:
    """True if some release of the ``minor`` line (its first or a late patch) meets ``spec``."""
    try:
        specifiers = SpecifierSet(spec)
    except InvalidSpecifier:
        return True
    return any(specifiers.contains(f"{minor}.{patch}") for patch in (0, 99))


def uv_environment() -> dict[str, str]:
    """The environment for uv: the user's, minus settings that would make output vary."""
    env = dict(os.environ)
    for key in ("UV_COMPILE_BYTECODE", "UV_SYSTEM_PYTHON", "PYTHONDONTWRITEBYTECODE"):
        env.pop(key, None)
    env.setdefault("SOURCE_DATE_EPOCH", "315532800")
    return env


def build_wheel(project: Path, out_dir: Path) -> Path:
    """Build the author's project into a wheel (its own build backend, isolated by uv)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [*uv_command(), "build", "--wheel", "--quiet", "--out-dir", str(out_dir), str(project)],
        capture_output=True,
        text=True,
        env=uv_environment(),
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(
            f"{project}: building the project's wheel failed: {_last_line(proc.stderr)}"
        )
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"{project}: expected one wheel from the build, got {len(wheels)}")
    return wheels[0]


def vendor(
    requirements: list[str],
    dest: Path,
    target: PythonTarget,
    *,
    allow_sdist: bool = False,
    uv_options: list[str] | None = None,
) -> None:
    """Install ``requirements`` and their dependencies into ``dest`` for ``target``.

    ``uv_options`` are passed through (``--constraint``/``--override`` files).

    Raises :class:`BuildError` naming the package, version and platform when a wheel is missing.
    """
    cmd = [
        *uv_command(),
        "pip",
        "install",
        "--quiet",
        "--no-installer-metadata",
        "--target",
        str(dest),
        "--python-platform",
        target.uv_platform,
        "--python-version",
        target.python,
    ]
    if not allow_sdist:
        cmd += ["--only-binary", ":all:"]
    cmd += uv_options or []
    cmd += requirements
    proc = subprocess.run(cmd, capture_output=True, text=True, env=uv_environment(), check=False)
    if proc.returncode != 0:
        raise BuildError(explain_uv_failure(proc.stderr, target, allow_sdist=allow_sdist))


def explain_uv_failure(stderr: str, target: PythonTarget, *, allow_sdist: bool) -> str:
    """Turn uv's resolver output into a one-line message naming package, version, platform."""
    text = " ".join(stderr.split())
    where = f"{target.platform} (Python {target.python}, {MANYLINUX})"
    m = _NO_WHEEL.search(text)
    if m is not None:
        name, version = split_requirement(m["req"])
        hint = "" if allow_sdist else "; pass --allow-sdist to build pure-Python sdists"
        return f"no wheel of {name} {version} for {where}{hint}"
    m = _BUILT_ELSEWHERE.search(text)
    if m is not None:
        name, version = split_requirement(m["req"])
        return (
            f"no wheel of {name} {version} for {where}, and its sdist is not pure Python: "
            f"building it made {m['wheel']}, which runs only on the build machine"
        )
    m = _NOT_FOUND.search(text)
    if m is not None:  # the index has no such package at all: a typo, not a platform problem
        name, version = split_requirement(m["req"].rstrip(".,"))
        if version == "(any version)":
            return f"no package named {name} exists on the package index (check the name)"
        return f"{name} {version} does not exist on the package index"
    m = _NO_VERSION.search(text)
    if m is not None:
        name, version = split_requirement(m["req"].rstrip(".,"))
        return f"{name} has no version {version} on the package index"
    return f"uv pip install failed for {where}: {_last_line(stderr)}"


def split_requirement(req: str) -> tuple[str, str]:
    """``pkg==1.0`` → (``pkg``, ``1.0``); ``pkg>=2`` → (``pkg``, ``>=2``); bare → any version."""
    m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(.*)", req.strip())
    if m is None:
        return req, "(any version)"
    name, spec = m[1], m[2].strip()
    if spec.startswith("=="):
        return name, spec[2:]
    return name, spec or "(any version)"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    interesting = [line for line in lines if line.startswith(("error", "cause", "×"))]
    return (interesting or lines or ["no output"])[-1][:300]
