"""File names of bundles: ``{name}-v{version}.mcpb``, or with ``-linux-{arch}`` per platform.

Manifest names may hold characters a file name should not (npm scopes ``@org/pkg``, spaces,
path separators); they are folded to a safe set here, in one place, so every command names the
same bundle the same way.
"""

from __future__ import annotations

import re

from mcpb.bundle.platform import Platform

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_component(text: str) -> str:
    """``@org/My Server`` → ``org-My-Server``: letters, digits and ``._+-`` only, never empty."""
    folded = _UNSAFE.sub("-", text.strip()).strip("-.")
    return folded or "bundle"


def bundle_file_name(name: str, version: str, platform: Platform | None = None) -> str:
    """The default artifact name for a manifest's ``name`` and ``version``."""
    base = f"{safe_component(name)}-v{safe_component(version.strip().removeprefix('v'))}"
    if platform is not None:
        base += f"-{platform.slug}"
    return base + ".mcpb"
