"""Fixtures shared across the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.npm import REFERENCE_MCPB, npm_bin


@pytest.fixture(scope="session")
def reference_mcpb() -> Path:
    """The reference MCPB CLI (npm ``@anthropic-ai/mcpb``), pinned, installed once."""
    return npm_bin(REFERENCE_MCPB, "mcpb")
