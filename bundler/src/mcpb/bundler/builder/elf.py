"""Read just enough of an ELF header to know which machine a file was built for.

A per-architecture bundle must never carry a shared object or executable for another CPU: it
would fail at import or exec time on the target, far from the build that caused it. Parsing the
16-byte ``e_ident`` plus ``e_machine`` ourselves keeps this check dependency-free and fast enough
to run on every file of every bundle.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mcpb.bundle.errors import BuildError
from mcpb.bundle.platform import Platform

MAGIC = b"\x7fELF"
HEADER_SIZE = 20  # e_ident (16) + e_type (2) + e_machine (2)

ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2

MACHINE_NAMES = {
    3: "x86 (i386)",
    8: "MIPS",
    20: "PowerPC",
    21: "PowerPC64",
    40: "ARM (32-bit)",
    62: "x86-64",
    183: "AArch64",
    243: "RISC-V",
    22: "S/390",
}


@dataclass(frozen=True)
class ElfHeader:
    """The identifying fields of an ELF file: word size, byte order and machine."""

    elf_class: int
    data: int
    machine: int

    @property
    def machine_name(self) -> str:
        """Human name of ``e_machine`` for error messages."""
        return MACHINE_NAMES.get(self.machine, f"machine {self.machine}")

    def matches(self, platform: Platform) -> bool:
        """True if this file runs on ``platform`` (64-bit little-endian, same machine)."""
        return (
            self.elf_class == ELFCLASS64
            and self.data == ELFDATA2LSB
            and self.machine == platform.elf_machine
        )


def parse_elf_header(head: bytes) -> ElfHeader | None:
    """Decode the first bytes of a file; ``None`` if they are not a (complete) ELF header."""
    if len(head) < HEADER_SIZE or not head.startswith(MAGIC):
        return None
    elf_class, data = head[4], head[5]
    if elf_class not in (ELFCLASS32, ELFCLASS64) or data not in (ELFDATA2LSB, ELFDATA2MSB):
        return None
    order = "<" if data == ELFDATA2LSB else ">"
    (machine,) = struct.unpack(order + "H", head[18:20])
    return ElfHeader(elf_class, data, machine)


def read_elf_header(path: Path) -> ElfHeader | None:
    """The ELF header of a file on disk, or ``None`` for any other kind of file."""
    with path.open("rb") as f:
        return parse_elf_header(f.read(HEADER_SIZE))


def check_elf_files(files: Iterable[tuple[str, bytes]], platform: Platform) -> int:
    """Raise :class:`BuildError` naming the first file built for another machine.

    ``files`` pairs each archive name with the first :data:`HEADER_SIZE` bytes of its content.
    Returns how many ELF files were checked, so callers can report it.
    """
    count = 0
    for name, head in files:
        header = parse_elf_header(head)
        if header is None:
            continue
        count += 1
        if not header.matches(platform):
            bits = 64 if header.elf_class == ELFCLASS64 else 32
            raise BuildError(
                f"{name}: ELF file for {header.machine_name} ({bits}-bit) in a bundle for "
                f"{platform} (needs {platform.gnu_machine}); refusing a mixed-architecture bundle"
            )
    return count
