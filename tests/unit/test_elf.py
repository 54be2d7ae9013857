"""ELF header parsing and the mixed-architecture check, on real binaries and crafted headers."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mcpb.bundle.errors import BuildError
from mcpb.bundle.platform import parse_platform
from mcpb.bundler.builder.elf import (
    ELFCLASS32,
    ELFCLASS64,
    ELFDATA2LSB,
    ELFDATA2MSB,
    check_elf_files,
    parse_elf_header,
    read_elf_header,
)

AMD64 = parse_platform("linux/amd64")
ARM64 = parse_platform("linux/arm64")


def header(elf_class: int, data: int, machine: int) -> bytes:
    order = "<" if data == ELFDATA2LSB else ">"
    ident = b"\x7fELF" + bytes([elf_class, data, 1]) + bytes(9)
    return ident + struct.pack(order + "HH", 2, machine)


def test_running_interpreter_is_x86_64() -> None:
    parsed = read_elf_header(Path(sys.executable).resolve())
    assert parsed is not None
    assert (parsed.elf_class, parsed.data, parsed.machine) == (ELFCLASS64, ELFDATA2LSB, 62)
    assert parsed.matches(AMD64) and not parsed.matches(ARM64)


def test_cross_compiled_binary_is_aarch64(tmp_path: Path) -> None:
    cc = shutil.which("aarch64-linux-gnu-gcc")
    assert cc, "gcc-aarch64-linux-gnu is required (installed by .ci/run)"
    (tmp_path / "a.c").write_text("int main(void) { return 0; }\n")
    subprocess.run([cc, "-o", str(tmp_path / "a"), str(tmp_path / "a.c")], check=True)
    parsed = read_elf_header(tmp_path / "a")
    assert parsed is not None and parsed.machine == 183 and parsed.machine_name == "AArch64"
    assert parsed.matches(ARM64) and not parsed.matches(AMD64)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x7fELF",
        b"#!/bin/sh\n" + bytes(20),
        b"\x7fELF" + bytes([3, 1]) + bytes(14),
        b"PK\x03\x04" + bytes(20),
    ],
    ids=["empty", "truncated", "script", "bad-class", "zip"],
)
def test_non_elf_bytes_are_not_headers(head: bytes) -> None:
    assert parse_elf_header(head) is None


def test_byte_order_and_word_size_matter() -> None:
    big = parse_elf_header(header(ELFCLASS64, ELFDATA2MSB, 183))
    assert big is not None and big.machine == 183 and not big.matches(ARM64)
    small = parse_elf_header(header(ELFCLASS32, ELFDATA2LSB, 40))
    assert small is not None and small.machine_name == "ARM (32-bit)" and not small.matches(ARM64)


def test_check_counts_elf_files_and_names_the_first_stranger() -> None:
    files = [
        ("server/lib/a.so", header(ELFCLASS64, ELFDATA2LSB, 183)),
        ("server/lib/readme.txt", b"hello world, not an ELF file"),
        ("server/lib/b.so", header(ELFCLASS64, ELFDATA2LSB, 183)),
    ]
    assert check_elf_files(files, ARM64) == 2
    files.append(("server/lib/pkg/_x.cpython-311-x86_64-linux-gnu.so", header(2, 1, 62)))
    with pytest.raises(BuildError) as err:
        check_elf_files(files, ARM64)
    assert str(err.value) == (
        "server/lib/pkg/_x.cpython-311-x86_64-linux-gnu.so: ELF file for x86-64 (64-bit) in a "
        "bundle for linux/arm64 (needs aarch64); refusing a mixed-architecture bundle"
    )
