"""The signature block appended to a signed bundle, located without any cryptography.

Layout (the reference CLI's): ``MCPB_SIG_V1``, a 4-byte little-endian length N, N bytes of DER
PKCS#7, ``MCPB_SIG_END``. Everything before the header is the signed zip. Readers use this to
find where the zip ends; :mod:`mcpb.bundle.signature` does the signing and verifying.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mcpb.bundle.errors import SignatureError

HEADER = b"MCPB_SIG_V1"
FOOTER = b"MCPB_SIG_END"
# A PKCS#7 block with a certificate chain is a few KiB; anything past this is not ours.
MAX_BLOCK = 1 << 20


@dataclass(frozen=True)
class SignatureBlock:
    """Where a signature block sits in a file and what it carries."""

    zip_length: int  # bytes before the block: exactly what was signed
    pkcs7_der: bytes
    end: int  # offset just past the footer

    @property
    def block_length(self) -> int:
        return self.end - self.zip_length


def render_block(pkcs7_der: bytes) -> bytes:
    """The bytes to append to a zip for a given DER signature."""
    return HEADER + struct.pack("<I", len(pkcs7_der)) + pkcs7_der + FOOTER


def find_block(stream: BinaryIO, size: int, *, source: str = "bundle") -> SignatureBlock | None:
    """Locate the signature block in the last ``MAX_BLOCK`` bytes of ``stream``.

    Read as tolerantly as the reference CLI does (the last footer, the nearest header before
    it), but refuse a block whose declared length does not reach the footer exactly.
    """
    start = max(0, size - MAX_BLOCK)
    stream.seek(start)
    tail = stream.read(size - start)
    footer_at = tail.rfind(FOOTER)
    if footer_at < 0:
        return None
    header_at = tail.rfind(HEADER, 0, footer_at)
    if header_at < 0:
        raise SignatureError(f"{source}: signature footer without a header")
    length_at = header_at + len(HEADER)
    if length_at + 4 > footer_at:
        raise SignatureError(f"{source}: signature block truncated")
    (length,) = struct.unpack_from("<I", tail, length_at)
    der_at = length_at + 4
    if der_at + length != footer_at:
        raise SignatureError(f"{source}: signature block length {length} does not match its footer")
    return SignatureBlock(
        zip_length=start + header_at,
        pkcs7_der=bytes(tail[der_at:footer_at]),
        end=start + footer_at + len(FOOTER),
    )


def find_block_in_file(path: Path) -> SignatureBlock | None:
    """:func:`find_block` on a file path."""
    with path.open("rb") as f:
        return find_block(f, path.stat().st_size, source=str(path))
