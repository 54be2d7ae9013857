"""Namespaced names and URIs, and which items a vMCP's selectors select."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from mcpb.aggregator.config import UpstreamConfig, VmcpConfig
from mcpb.aggregator.names import MAX_NAME, namespaced, namespaced_uri, split_uri, uri_token
from mcpb.aggregator.selection import selected

VALID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def test_short_names_are_prefix_separator_name() -> None:
    assert namespaced("time", "__", "get_current_time") == "time__get_current_time"
    assert namespaced("", "__", "echo") == "echo"
    assert namespaced("t", "-", "x") == "t-x"


def test_long_or_odd_names_are_shortened_deterministically_to_64_valid_characters() -> None:
    long = "a" * 70
    first = namespaced("server", "__", long)
    assert len(first) == MAX_NAME and VALID.match(first)
    assert first == namespaced("server", "__", long)  # stable
    assert first != namespaced("server", "__", long + "b")  # distinct
    assert first.startswith("server__aaaa")
    dotted = namespaced("fs", "__", "read.file")
    assert VALID.match(dotted) and dotted.startswith("fs__read_file_")
    # two names that clean to the same text still differ
    assert namespaced("fs", "__", "a.b") != namespaced("fs", "__", "a_b")


def test_uris_are_namespaced_reversibly_and_templates_survive() -> None:
    token = uri_token("My_fs")
    assert token == "my-fs"
    assert uri_token("9lives") == "x-9lives"
    served = namespaced_uri(token, "file:///x")
    assert served == "my-fs+file:///x"
    assert split_uri(served) == ("my-fs", "file:///x")
    assert namespaced_uri(token, "test://template/{id}/data") == "my-fs+test://template/{id}/data"
    assert split_uri("file:///x") is None
    assert namespaced_uri("", "file:///x") == "file:///x"


UPSTREAMS = {
    "time": UpstreamConfig(url="http://t/mcp", tags=["utility", "clock"], categories=["time"]),
    "git": UpstreamConfig(stdio=["git-mcp"], tags=["dev"]),
}


def pick(
    vmcp: Mapping[str, object], upstream: str, item: str, annotations=None, is_tool=True
) -> bool:
    return selected(
        VmcpConfig.model_validate(vmcp),
        upstream,
        UPSTREAMS[upstream],
        item,
        annotations,
        is_tool=is_tool,
    )


@pytest.mark.parametrize(
    ("vmcp", "upstream", "item", "expected"),
    [
        ({}, "git", "git_log", True),
        ({"select": [{"upstreams": ["time"]}]}, "git", "git_log", False),
        ({"select": [{"tags": ["dev", "nope"]}]}, "git", "git_log", True),
        ({"select": [{"all_tags": ["utility", "clock"]}]}, "time", "now", True),
        ({"select": [{"all_tags": ["utility", "dev"]}]}, "time", "now", False),
        ({"select": [{"categories": ["time"]}]}, "time", "now", True),
        ({"select": [{"categories": ["time"]}]}, "git", "git_log", False),
        ({"select": [{"tools": ["git/git_*"]}]}, "git", "git_log", True),
        ({"select": [{"tools": ["git/git_*"]}]}, "git", "status", False),
        ({"select": [{"tools": ["git__git_*"]}]}, "git", "git_log", False),
        ({"exclude": ["*/delete_*"]}, "git", "delete_branch", False),
        ({"select": [{"upstreams": ["time"]}, {"tools": ["git/status"]}]}, "git", "status", True),
        ({"select": [{"upstreams": ["git"], "tools": ["*/x"]}]}, "git", "status", False),
    ],
)
def test_selectors(vmcp: Mapping[str, object], upstream: str, item: str, expected: bool) -> None:
    assert pick(vmcp, upstream, item) is expected


def test_annotation_selectors_use_the_spec_defaults_and_apply_to_tools_only() -> None:
    only_read = {"select": [{"annotations": {"readOnlyHint": True}}]}
    assert pick(only_read, "git", "log", {"readOnlyHint": True})
    assert not pick(only_read, "git", "push", {"readOnlyHint": False})
    assert not pick(only_read, "git", "push", None)  # readOnlyHint defaults to false
    assert not pick(only_read, "git", "prompt", None, is_tool=False)
    not_destructive = {"select": [{"annotations": {"destructiveHint": False}}]}
    assert not pick(not_destructive, "git", "push", {})  # destructiveHint defaults to true
