"""Just enough DER (X.690) to build and read a PKCS#7 SignedData by hand.

``cryptography`` signs and verifies and parses certificates, but it cannot verify a PKCS#7
signature nor build one over a file without holding the file in memory. This module encodes
and decodes the few ASN.1 shapes :mod:`mcpb.bundle.pkcs7` needs: tag-length-value triples with
definite lengths, OIDs, integers, octet strings and times. The decoder is strict (definite,
minimal lengths; bounds checked) because its input is hostile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18


class DerError(ValueError):
    """Input is not the DER shape expected; the message says what and where."""


def context(number: int, *, constructed: bool = True) -> int:
    """The tag byte of ``[number]`` (context-specific, constructed by default)."""
    return 0x80 | (0x20 if constructed else 0) | number


@dataclass(frozen=True)
class Tlv:
    """One decoded element: its tag byte, whole encoding and content octets."""

    tag: int
    raw: bytes
    content: bytes

    def children(self) -> list[Tlv]:
        """The elements inside a constructed value, in order."""
        return decode_all(self.content)


def _read_length(data: bytes, at: int) -> tuple[int, int]:
    if at >= len(data):
        raise DerError("truncated length")
    first = data[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    if count == 0:
        raise DerError("indefinite length is not DER")
    if count > 4 or at + 1 + count > len(data):
        raise DerError("length field too long or truncated")
    length = int.from_bytes(data[at + 1 : at + 1 + count], "big")
    if length < 0x80 or data[at + 1] == 0:
        raise DerError("non-minimal length encoding")
    return length, at + 1 + count


def decode_one(data: bytes, at: int = 0) -> tuple[Tlv, int]:
    """Decode the element starting at ``at``; return it and the offset just past it."""
    if at >= len(data):
        raise DerError("truncated: expected an element")
    tag = data[at]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not supported")
    length, content_at = _read_length(data, at + 1)
    end = content_at + length
    if end > len(data):
        raise DerError(f"element with tag 0x{tag:02x} runs past the end of its container")
    return Tlv(tag, bytes(data[at:end]), bytes(data[content_at:end])), end


def decode_all(data: bytes) -> list[Tlv]:
    """Decode consecutive elements filling ``data`` exactly."""
    items: list[Tlv] = []
    at = 0
    while at < len(data):
        item, at = decode_one(data, at)
        items.append(item)
    return items


def decode_exact(data: bytes) -> Tlv:
    """Decode a single element that must fill ``data`` with nothing after it."""
    item, end = decode_one(data)
    if end != len(data):
        raise DerError(f"{len(data) - end} unexpected bytes after the value")
    return item


def expect(item: Tlv, tag: int, what: str) -> Tlv:
    """Return ``item`` if it has ``tag``, else raise naming ``what``."""
    if item.tag != tag:
        raise DerError(f"{what}: expected tag 0x{tag:02x}, found 0x{item.tag:02x}")
    return item


def encode(tag: int, content: bytes) -> bytes:
    """One element with a minimal definite length."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = (n.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + n.to_bytes(size, "big") + content


def sequence(*items: bytes) -> bytes:
    return encode(SEQUENCE, b"".join(items))


def set_of(*items: bytes) -> bytes:
    """A DER SET OF: elements sorted by their encodings."""
    return encode(SET, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    size = value.bit_length() // 8 + 1  # room for the sign bit
    return encode(INTEGER, value.to_bytes(size, "big", signed=True))


def decode_integer(item: Tlv, what: str) -> int:
    expect(item, INTEGER, what)
    if not item.content:
        raise DerError(f"{what}: empty integer")
    return int.from_bytes(item.content, "big", signed=True)


def octet_string(value: bytes) -> bytes:
    return encode(OCTET_STRING, value)


def oid(dotted: str) -> bytes:
    """Encode an object identifier given as ``1.2.840...``."""
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray()
    for arc in [40 * parts[0] + parts[1], *parts[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return encode(OID, bytes(body))


def decode_oid(item: Tlv, what: str) -> str:
    """The dotted form of an OBJECT IDENTIFIER element."""
    expect(item, OID, what)
    arcs: list[int] = []
    value = 0
    for i, byte in enumerate(item.content):
        if value == 0 and byte == 0x80:
            raise DerError(f"{what}: non-minimal OID arc")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
        elif i == len(item.content) - 1:
            raise DerError(f"{what}: truncated OID")
    if not arcs:
        raise DerError(f"{what}: empty OID")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def time(value: dt.datetime) -> bytes:
    """UTCTime for 1950–2049 (as RFC 5652 requires), GeneralizedTime otherwise."""
    value = value.astimezone(dt.UTC)
    if 1950 <= value.year < 2050:
        return encode(UTC_TIME, value.strftime("%y%m%d%H%M%SZ").encode())
    return encode(GENERALIZED_TIME, value.strftime("%Y%m%d%H%M%SZ").encode())


def decode_time(item: Tlv, what: str) -> dt.datetime:
    """Read a UTCTime or GeneralizedTime in UTC (``Z``) form, as DER requires."""
    formats = {UTC_TIME: "%y%m%d%H%M%SZ", GENERALIZED_TIME: "%Y%m%d%H%M%SZ"}
    if item.tag not in formats:
        raise DerError(f"{what}: not a time value (tag 0x{item.tag:02x})")
    text = item.content.decode("ascii", errors="replace")
    try:
        parsed = dt.datetime.strptime(text, formats[item.tag])
    except ValueError as exc:
        raise DerError(f"{what}: unreadable time {text!r}") from exc
    if item.tag == UTC_TIME and parsed.year >= 2050:  # RFC 5280: YY >= 50 means 19YY
        parsed = parsed.replace(year=parsed.year - 100)
    return parsed.replace(tzinfo=dt.UTC)
