"""The smallest valid manifest, for tests that need one and change a field or two."""

from __future__ import annotations

import copy
from typing import Any

_MINIMAL: dict[str, Any] = {
    "manifest_version": "0.3",
    "name": "minimal",
    "version": "1.0.0",
    "description": "a minimal test bundle",
    "author": {"name": "tests"},
    "server": {
        "type": "python",
        "entry_point": "server/main.py",
        "mcp_config": {"command": "python3", "args": ["${__dirname}/server/main.py"]},
    },
}


def minimal_manifest(**fields: Any) -> dict[str, Any]:
    """A fresh copy of the minimal manifest with top-level ``fields`` replaced or added."""
    data = copy.deepcopy(_MINIMAL)
    data.update(fields)
    return data
