"""``mcpb build`` picks the Node image from ``engines.node``: the oldest that satisfies it."""

from __future__ import annotations

import pytest

from mcpb.bundle.errors import BuildError
from mcpb.bundler.runtimes import choose_node_runtime


@pytest.mark.parametrize(
    ("engines", "runtime"),
    [
        (None, "node:20"),
        ("", "node:20"),
        ("*", "node:20"),
        (">=18", "node:20"),
        (">=18.0.0", "node:20"),
        ("^20.10.0", "node:20"),
        (">=22", "node:22"),
        (">= 22.12.0", "node:22"),
        ("^22 || ^24", "node:22"),
        ("20.x || 22.x", "node:20"),
        ("~24.1", "node:24"),
        (">=20.19 <21 || >=22.12", "node:20"),
        (">21 <23", "node:22"),
        ("24", "node:24"),
        ("latest-ish nonsense", "node:20"),  # unreadable: npm only warns, neither do we fail
    ],
)
def test_engines_choose_the_oldest_image_that_fits(engines: str | None, runtime: str) -> None:
    assert choose_node_runtime(engines) == runtime


def test_a_range_no_image_satisfies_is_an_error() -> None:
    with pytest.raises(BuildError) as err:
        choose_node_runtime(">=26")
    assert str(err.value) == (
        "package.json engines.node '>=26' excludes every Node image (node:20, node:22, node:24)"
    )
