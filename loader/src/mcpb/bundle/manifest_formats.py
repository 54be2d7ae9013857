"""String formats the manifest schemas name: ``email`` and ``uri``.

The official JSON Schemas only annotate these fields with ``format``; the reference CLI (and so
every MCPB host built on it) rejects values that fail its checks: an email must be a plain
``local@domain.tld`` address, and a URL must be accepted by the WHATWG URL parser (what
JavaScript's ``new URL(value)`` does). We check the same so that a manifest we accept is never
refused by the reference validator. The URL check follows the WHATWG parser's failure rules; for
non-ASCII host names it approximates UTS #46 with Python's IDNA codec.
"""

from __future__ import annotations

import encodings.idna as idna
import ipaddress
import string

_ASCII_LETTERS = frozenset(string.ascii_letters)
_ALNUM = frozenset(string.ascii_letters + string.digits)
_EMAIL_LOCAL = frozenset(string.ascii_letters + string.digits + "_'+-.")
_EMAIL_LOCAL_LAST = frozenset(string.ascii_letters + string.digits + "_+-")
_LABEL_CHARS = frozenset(string.ascii_letters + string.digits + "-")

_SPECIAL_SCHEMES = frozenset({"ftp", "file", "http", "https", "ws", "wss"})
_SCHEME_CHARS = frozenset(string.ascii_letters + string.digits + "+-.")
_FORBIDDEN_HOST = frozenset("\x00\t\n\r #/:<>?@[\\]^|")
_FORBIDDEN_DOMAIN = _FORBIDDEN_HOST | frozenset(chr(c) for c in range(0x20)) | {"%", "\x7f"}
_MAX_PORT = 65535


def is_email(value: str) -> bool:
    """True for a plain ``local@label.tld`` address as the reference validator accepts it."""
    if value.count("@") != 1 or ".." in value:
        return False
    local, domain = value.split("@")
    if not local or local.startswith(".") or local[-1] not in _EMAIL_LOCAL_LAST:
        return False
    if not set(local) <= _EMAIL_LOCAL:
        return False
    labels = domain.split(".")
    tld = labels.pop()
    if not labels or len(tld) < 2 or not set(tld) <= _ASCII_LETTERS:
        return False
    return all(label and label[0] in _ALNUM and set(label) <= _LABEL_CHARS for label in labels)


def is_url(value: str) -> bool:
    """True when the WHATWG URL parser accepts ``value`` as an absolute URL (no base)."""
    text = value.strip("".join(chr(c) for c in range(0x21)))
    text = text.replace("\t", "").replace("\n", "").replace("\r", "")
    colon = text.find(":")
    scheme = text[:colon].lower() if colon > 0 else ""
    if not scheme or scheme[0] not in _ASCII_LETTERS or not set(scheme) <= _SCHEME_CHARS:
        return False
    rest = text[colon + 1 :]
    if scheme == "file":
        return _file_rest_ok(rest)
    if scheme in _SPECIAL_SCHEMES:
        return _authority_ok(rest.lstrip("/\\"), special=True)
    if rest.startswith("//"):
        return _authority_ok(rest[2:], special=False)
    return True  # an opaque path never fails


def _file_rest_ok(rest: str) -> bool:
    """``file:`` URLs fail only on a malformed host after ``//``."""
    if len(rest) < 2 or rest[0] not in "/\\" or rest[1] not in "/\\":
        return True
    host = _until(rest[2:], "/\\?#")
    is_drive = len(host) == 2 and host[0] in _ASCII_LETTERS and host[1] in ":|"
    return is_drive or not host or _special_host_ok(host)


def _until(text: str, stops: str) -> str:
    """The prefix of ``text`` before the first character in ``stops``."""
    for i, ch in enumerate(text):
        if ch in stops:
            return text[:i]
    return text


def _authority_ok(rest: str, *, special: bool) -> bool:
    authority = _until(rest, "/\\?#" if special else "/?#")
    at = authority.rfind("@")
    host_port = authority[at + 1 :]
    if at >= 0 and not host_port:
        return False
    host, port = _split_port(host_port)
    if port and not (port.isascii() and port.isdigit()):
        return False
    if port and int(port) > _MAX_PORT:
        return False
    if not host:
        return not special and port is None
    if special:
        return _special_host_ok(host)
    return _opaque_host_ok(host)


def _split_port(host_port: str) -> tuple[str, str | None]:
    """Split at the first ``:`` outside brackets; the port is None when there is no colon."""
    in_brackets = False
    for i, ch in enumerate(host_port):
        if ch == "[":
            in_brackets = True
        elif ch == "]":
            in_brackets = False
        elif ch == ":" and not in_brackets:
            return host_port[:i], host_port[i + 1 :]
    return host_port, None


def _opaque_host_ok(host: str) -> bool:
    if host.startswith("["):
        return _ipv6_ok(host)
    return not any(ch in _FORBIDDEN_HOST for ch in host)


def _special_host_ok(host: str) -> bool:
    if host.startswith("["):
        return _ipv6_ok(host)
    decoded = _percent_decode(host)
    if decoded is None:
        return False
    ascii_host = _domain_to_ascii(decoded)
    if ascii_host is None or any(ch in _FORBIDDEN_DOMAIN for ch in ascii_host):
        return False
    if _ends_in_number(ascii_host):
        return _ipv4_ok(ascii_host)
    return True


def _ipv6_ok(host: str) -> bool:
    if not host.endswith("]") or "%" in host:
        return False
    try:
        ipaddress.IPv6Address(host[1:-1])
    except ValueError:
        return False
    return True


def _percent_decode(text: str) -> str | None:
    """Decode ``%XX`` escapes as UTF-8; None when the bytes are not UTF-8."""
    out = bytearray()
    raw = text.encode("utf-8")
    i = 0
    while i < len(raw):
        chunk = raw[i + 1 : i + 3]
        if raw[i] == 0x25 and len(chunk) == 2 and all(chr(b) in string.hexdigits for b in chunk):
            out.append(int(chunk, 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _domain_to_ascii(domain: str) -> str | None:
    """Lower-case ASCII domains, validating ``xn--`` labels; IDNA-encode the others."""
    if domain.isascii():
        lowered = domain.lower()
        for label in lowered.split("."):
            if label.startswith("xn--"):
                try:
                    decoded = label[4:].encode("ascii").decode("punycode")
                    idna.ToASCII(decoded)
                except UnicodeError:
                    return None
                if not decoded or decoded.isascii():
                    return None
        return lowered
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def _ends_in_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    return bool(last) and (last.isdigit() or _ipv4_number(last) is not None)


def _ipv4_number(part: str) -> int | None:
    if not part:
        return None
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
        if not part:
            return 0
    elif len(part) > 1 and part.startswith("0"):
        part, radix = part[1:], 8
    digits = string.hexdigits if radix == 16 else string.digits[:radix]
    if not all(ch in digits for ch in part):
        return None
    return int(part, radix)


def _ipv4_ok(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        return False
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return False
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]):
        return False
    limit: int = 256 ** (5 - len(values))
    return values[-1] < limit
