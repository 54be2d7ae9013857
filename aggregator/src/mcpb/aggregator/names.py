"""Namespaced names: ``{prefix}{separator}{name}`` for tools and prompts, ``{token}+{uri}`` for
resource URIs.

Names are what clients show and models type, so they are kept to ``[A-Za-z0-9_-]`` and at most
64 characters (what the strictest common clients accept, prefix included). A name that does
not fit is shortened deterministically: the longest fitting head, ``_`` and 12 hex digits of
the SHA-256 of the full name, so the same upstream tool always gets the same name. Routing
never parses a name back: the vMCP keeps the map from each served name to its origin.

URIs are namespaced reversibly by prefixing the scheme with a token derived from the prefix
(``file:///x`` from upstream ``fs`` is served as ``fs+file:///x``), which keeps URI templates
intact (``{id}`` stays a template variable) and stays a valid URI scheme.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 64
_HASH_DIGITS = 12
_INVALID = re.compile(r"[^A-Za-z0-9_-]")


def namespaced(prefix: str, separator: str, name: str) -> str:
    """The served name of upstream name ``name`` under ``prefix`` (empty: no prefix)."""
    full = f"{prefix}{separator}{name}" if prefix else name
    clean = _INVALID.sub("_", full)
    if clean == full and len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:_HASH_DIGITS]
    return f"{clean[: MAX_NAME - _HASH_DIGITS - 1]}_{digest}"


def uri_token(prefix: str) -> str:
    """The scheme-safe token of a prefix (schemes allow letters, digits, ``+ - .``)."""
    token = prefix.replace("_", "-").lower()
    return token if token[:1].isalpha() else f"x-{token}"


def namespaced_uri(token: str, uri: str) -> str:
    """The served form of an upstream's URI (``token`` empty: unchanged)."""
    return f"{token}+{uri}" if token else uri


def split_uri(uri: str) -> tuple[str, str] | None:
    """``(token, upstream URI)`` of a namespaced URI, or None when it carries no token."""
    scheme, colon, _ = uri.partition(":")
    if not colon or "+" not in scheme:
        return None
    token, _, rest = uri.partition("+")
    return token.lower(), rest
