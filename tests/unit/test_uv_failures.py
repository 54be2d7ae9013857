"""uv's resolver errors turned into one line: a missing package is a typo, not a platform."""

from __future__ import annotations

import pytest

from mcpb.bundle.platform import parse_platform
from mcpb.bundler.builder.python import PythonTarget, explain_uv_failure

TARGET = PythonTarget(parse_platform("linux/arm64"), "3.11")

# uv's own words (uv 0.9, captured from real resolutions against a package index)
MISSING = (
    "error: No solution found when resolving dependencies\n"
    "  cause: Because mcp-server-tiem was not found in the package registry and you require "
    "mcp-server-tiem, we can conclude that your requirements are unsatisfiable.\n"
)
NO_SUCH_VERSION = (
    "error: No solution found when resolving dependencies\n"
    "  cause: Because there is no version of mcp-server-time==9.9.9 and you require "
    "mcp-server-time==9.9.9, we can conclude that your requirements are unsatisfiable.\n"
)
NO_WHEEL = (
    "error: No solution found when resolving dependencies\n"
    "  cause: Because only numpy==1.0 has no wheels with a matching platform tag (e.g., "
    "`manylinux_2_28_aarch64`) and you require numpy==1.0, we can conclude that your "
    "requirements are unsatisfiable.\n"
)


@pytest.mark.parametrize(
    ("stderr", "message"),
    [
        (MISSING, "no package named mcp-server-tiem exists on the package index (check the name)"),
        (NO_SUCH_VERSION, "mcp-server-time has no version 9.9.9 on the package index"),
        (
            NO_WHEEL,
            "no wheel of numpy 1.0 for linux/arm64 (Python 3.11, manylinux_2_28); "
            "pass --allow-sdist to build pure-Python sdists",
        ),
    ],
)
def test_uv_failures_name_what_is_wrong(stderr: str, message: str) -> None:
    assert explain_uv_failure(stderr, TARGET, allow_sdist=False) == message
