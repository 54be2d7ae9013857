"""Fixtures shared across the suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.npm import REFERENCE_MCPB, npm_bin
from tests.support.published import PageServer, PublishedBundles


@pytest.fixture(scope="session")
def reference_mcpb() -> Path:
    """The reference MCPB CLI (npm ``@anthropic-ai/mcpb``), pinned, installed once."""
    return npm_bin(REFERENCE_MCPB, "mcpb")


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> PublishedBundles:
    """The seven published servers of issue 14, built by ``mcpb build`` on first use."""
    return PublishedBundles(tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="session")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageServer]:
    """A loopback page for ``mcp-server-fetch`` to fetch."""
    server = PageServer(tmp_path_factory.mktemp("pages"))
    yield server
    server.close()
