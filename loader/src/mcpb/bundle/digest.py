"""SHA-256 digests of files and streams, and the ``sha256sum`` file format."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from mcpb.bundle.errors import IntegrityError, UsageError

CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256_stream(stream: BinaryIO) -> str:
    """Hex digest of everything left in ``stream``, read in bounded chunks."""
    h = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        h.update(chunk)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    """Hex digest of a file without loading it whole."""
    with path.open("rb") as f:
        return sha256_stream(f)


def normalize_sha256(value: str, *, what: str = "SHA256") -> str:
    """Lower-case and check a user-supplied hex digest (``sha256:`` prefix allowed)."""
    text = value.strip().lower().removeprefix("sha256:")
    if not _HEX64.fullmatch(text):
        raise UsageError(f"{what}: expected 64 hex characters, got {value!r}")
    return text


def check_sha256(path: Path, expected: str) -> str:
    """Raise :class:`IntegrityError` unless ``path`` has digest ``expected``; return it."""
    want = normalize_sha256(expected)
    got = sha256_file(path)
    if got != want:
        raise IntegrityError(f"{path.name}: SHA256 mismatch: expected {want}, got {got}")
    return got


def render_sha256sums(entries: Iterable[tuple[str, str]]) -> str:
    """``sha256sum`` output (binary-mode marker), sorted by file name for reproducibility."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(entries))


def parse_sha256sums(text: str, *, source: str = "SHA256SUMS") -> dict[str, str]:
    """Parse ``sha256sum`` output (text ``  `` or binary `` *`` marker) into name → digest."""
    result: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", line)
        if m is None:
            raise UsageError(f"{source}:{lineno}: not a sha256sum line: {line[:80]!r}")
        result[m.group(2)] = m.group(1).lower()
    return result
