"""Refuse bundles built for another machine before extracting or launching them.

Per-architecture bundles carry compiled code: a linux/arm64 bundle's ``.so`` files cannot load
on amd64, and a bundle vendored for CPython 3.12 fails to import its extension modules on 3.11
(the ABI tag is per minor version). Our ``_meta`` record says what a bundle was built for; this
module compares it with the running machine and the interpreter that will run the server, and
reports both sides in one line. The manifest's own ``compatibility.platforms`` (an OS list) is
checked too. A bundle without our record is let through: nothing says it is wrong.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from mcpb.bundle.errors import IncompatibleError, UsageError
from mcpb.bundle.platform import Platform, host_platform, parse_platform


@dataclass(frozen=True)
class Machine:
    """What the bundle will run on: OS/CPU and the Python minor version, e.g. ``"3.11"``."""

    platform: Platform
    python: str

    @classmethod
    def current(cls) -> Machine:
        """This machine and this interpreter (the base images run servers with it)."""
        return cls(host_platform(), f"{sys.version_info.major}.{sys.version_info.minor}")


def python_minor(text: str) -> str:
    """``"3.13"`` from ``"3.13"``, ``"3.13.1"``, ``"python:3.13"`` or ``"cp313"``."""
    raw = text.strip().lower().removeprefix("python:").removeprefix("python")
    if raw.startswith("cp") and raw[2:].isdigit() and len(raw) >= 4:
        return f"{raw[2]}.{raw[3:]}"
    parts = raw.split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return f"{int(parts[0])}.{int(parts[1])}"
    raise IncompatibleError(f"bundle declares an unreadable Python version {text!r}")


def check_compatible(
    *,
    name: str,
    platform: str | None,
    python: str | None,
    manifest_platforms: list[str] | None,
    machine: Machine,
) -> None:
    """Raise :class:`IncompatibleError` naming both sides when the bundle cannot run here."""
    if manifest_platforms is not None and machine.platform.os not in manifest_platforms:
        wanted = ", ".join(manifest_platforms) or "none"
        raise IncompatibleError(
            f"{name}: manifest compatibility.platforms is [{wanted}], "
            f"this machine is {machine.platform.os}"
        )
    if platform is not None:
        try:
            built = parse_platform(platform)
        except UsageError:
            raise IncompatibleError(
                f"{name}: bundle declares unknown platform {platform!r}"
            ) from None
        if built != machine.platform:
            raise IncompatibleError(
                f"{name}: bundle is built for {built}, this machine is {machine.platform}"
            )
    if python is not None:
        want = python_minor(python)
        if want != machine.python:
            raise IncompatibleError(
                f"{name}: bundle is built for Python {want}, this machine runs Python "
                f"{machine.python} (use the mcpb-python:{want} image or rebuild the bundle)"
            )
