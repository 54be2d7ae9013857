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

    Both writers (ours and the reference CLI) end the file with the footer, so only a footer
    at the very end counts: the same bytes inside an archived file (say, a vendored copy of
    this module, stored uncompressed) must not make an unsigned bundle look signed. The header
    is the nearest one before the footer whose declared length reaches the footer exactly (the
    DER may itself contain the header bytes); a footer with no such header is an error.
    """
    start = max(0, size - MAX_BLOCK)
    stream.seek(start)
    tail = stream.read(size - start)
    if not tail.endswith(FOOTER):
        return None
    footer_at = len(tail) - len(FOOTER)
    header_at = tail.rfind(HEADER, 0, footer_at)
    if header_at < 0:
        raise SignatureError(f"{source}: signature footer without a header")
    while header_at >= 0:
        length_at = header_at + len(HEADER)
        if length_at + 4 <= footer_at:
            (length,) = struct.unpack_from("<I", tail, length_at)
            der_at = length_at + 4
            if der_at + length == footer_at:
                return SignatureBlock(
                    zip_length=start + header_at,
                    pkcs7_der=bytes(tail[der_at:footer_at]),
                    end=start + footer_at + len(FOOTER),
                )
        header_at = tail.rfind(HEADER, 0, header_at)
    raise SignatureError(f"{source}: signature block length does not match its footer")


def find_block_in_file(path: Path) -> SignatureBlock | None:
    """:func:`find_block` on a file path."""
    with path.open("rb") as f:
        return find_block(f, path.stat().st_size, source=str(path))
