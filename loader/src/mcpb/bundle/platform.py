"""Target platforms of per-architecture bundles, and every spelling users type for them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mcpb.bundle.errors import UsageError


class Arch(enum.StrEnum):
    """CPU architecture in Docker/Go spelling, as used in artifact names."""

    AMD64 = "amd64"
    ARM64 = "arm64"


_ALIASES: dict[str, Arch] = {
    "amd64": Arch.AMD64,
    "x86_64": Arch.AMD64,
    "x86-64": Arch.AMD64,
    "arm64": Arch.ARM64,
    "aarch64": Arch.ARM64,
}

# ELF e_machine values (System V gABI), used to prove a bundle holds only its own arch.
_ELF_MACHINE = {Arch.AMD64: 62, Arch.ARM64: 183}
_GNU_NAME = {Arch.AMD64: "x86_64", Arch.ARM64: "aarch64"}


@dataclass(frozen=True, order=True)
class Platform:
    """A target such as ``linux/amd64``. Only Linux is a bundle target today."""

    os: str
    arch: Arch

    def __str__(self) -> str:
        return f"{self.os}/{self.arch}"

    @property
    def slug(self) -> str:
        """The form used in file names: ``linux-amd64``."""
        return f"{self.os}-{self.arch}"

    @property
    def gnu_machine(self) -> str:
        """``uname -m`` spelling: ``x86_64`` or ``aarch64``."""
        return _GNU_NAME[self.arch]

    @property
    def elf_machine(self) -> int:
        """The ELF header ``e_machine`` value of binaries built for this platform."""
        return _ELF_MACHINE[self.arch]


def parse_platform(text: str) -> Platform:
    """Accept ``linux/amd64``, ``linux-amd64``, ``amd64``, ``x86_64``, ``aarch64``, ``arm64``…"""
    raw = text.strip().lower()
    os_name, arch_text = "linux", raw
    for sep in ("/", "-"):
        head, found, tail = raw.partition(sep)
        if found and head == "linux":
            arch_text = tail
            break
    arch = _ALIASES.get(arch_text)
    if arch is None or os_name != "linux":
        known = "linux/amd64, linux/arm64 (also amd64, x86_64, arm64, aarch64)"
        raise UsageError(f"unknown platform {text!r}: expected one of {known}")
    return Platform(os_name, arch)


def parse_platforms(text: str) -> list[Platform]:
    """A comma-separated list, de-duplicated, in the order given."""
    seen: dict[Platform, None] = {}
    for part in text.split(","):
        if part.strip():
            seen.setdefault(parse_platform(part), None)
    if not seen:
        raise UsageError("no platform given")
    return list(seen)


def host_platform() -> Platform:
    """The platform of the running machine."""
    import platform as _stdlib_platform

    return parse_platform(_stdlib_platform.machine())
