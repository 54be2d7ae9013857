"""The transport's small pure decisions: Origin and Host policy, Accept parsing, command
splitting, settings."""

from __future__ import annotations

import pytest

from mcpb.bundle.errors import UsageError
from mcpb.bundler.commands.bridge import split_command
from mcpb.mcphttp.asgi import accepts
from mcpb.mcphttp.guard import HostPolicy, OriginPolicy, host_name
from mcpb.mcphttp.jsonrpc import shape_problem
from mcpb.mcphttp.settings import HttpSettings


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("http://localhost", True),
        ("http://localhost:5173", True),
        ("https://127.0.0.1:8443", True),
        ("http://127.1.2.3", True),
        ("http://[::1]:3000", True),
        ("http://app.localhost", True),
        ("https://evil.example", False),
        ("http://localhost.evil.example", False),
        ("null", False),
        ("file://localhost", False),
    ],
)
def test_loopback_bound_bridge_allows_only_loopback_origins(origin, allowed) -> None:
    assert OriginPolicy(HttpSettings(host="127.0.0.1")).allows(origin) is allowed


def test_non_loopback_bridge_without_a_list_allows_any_origin() -> None:
    assert OriginPolicy(HttpSettings(host="0.0.0.0")).allows("https://anything.example")


def test_allow_list_is_exact_and_case_insensitive() -> None:
    policy = OriginPolicy(HttpSettings(host="0.0.0.0", allow_origins=("https://App.Example/",)))
    assert policy.allows("https://app.example")
    assert not policy.allows("https://app.example:444")
    assert not policy.allows("http://localhost")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),
        ("[::1]:8000", True),
        ("localhost", True),
        ("evil.example:8000", False),
        ("127.0.0.1.evil.example", False),
        (None, False),
    ],
)
def test_loopback_bound_server_allows_only_loopback_hosts(host, allowed) -> None:
    assert HostPolicy(HttpSettings(host="127.0.0.1")).allows(host) is allowed


def test_host_allow_list_ignores_ports_and_wildcard_allows_any() -> None:
    policy = HostPolicy(HttpSettings(host="127.0.0.1", allowed_hosts=("mcp.example",)))
    assert policy.allows("mcp.example:443")
    assert policy.allows("MCP.example")
    assert not policy.allows("localhost:8000")
    assert HostPolicy(HttpSettings(host="127.0.0.1", allowed_hosts=("*",))).allows("x.example")
    assert HostPolicy(HttpSettings(host="0.0.0.0")).allows("anything.example")


def test_host_name_strips_ports_and_brackets() -> None:
    assert host_name("[::1]:8000") == "::1"
    assert host_name("Example.org:80") == "example.org"
    assert host_name("::1") == "::1"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (True, True)),
        (b"application/json, text/event-stream", (True, True)),
        (b"application/json", (True, False)),
        (b"text/event-stream;q=0.9", (False, True)),
        (b"*/*", (True, True)),
        (b"text/html", (False, False)),
        (b"APPLICATION/JSON", (True, False)),
    ],
)
def test_accept_header_parsing(header, expected) -> None:
    assert accepts(header) == expected


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("uvx mcp-server-time", ["uvx", "mcp-server-time"]),
        ("node 'my server.js' --port 1", ["node", "my server.js", "--port", "1"]),
        ("FOO=1 node s.js", ["/bin/sh", "-c", "FOO=1 node s.js"]),
        ("cd /srv && ./run", ["/bin/sh", "-c", "cd /srv && ./run"]),
        ("python -m s 2>/dev/null", ["/bin/sh", "-c", "python -m s 2>/dev/null"]),
    ],
)
def test_stdio_command_splitting(command, argv) -> None:
    assert split_command(command) == argv


def test_empty_command_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="empty"):
        split_command("   ")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"mcp_path": "mcp"}, "must start with '/'"),
        ({"sse_path": "/mcp"}, "distinct"),
        ({"port": 70000}, "not a TCP port"),
        ({"max_sessions": 0}, "session limit"),
        ({"max_body": 10}, "body limit"),
        ({"session_timeout": -1.0}, "session timeout"),
    ],
)
def test_settings_reject_unusable_values(kwargs, fragment) -> None:
    with pytest.raises(UsageError, match=fragment):
        HttpSettings(**kwargs)


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "x"}, None),
        ({"jsonrpc": "2.0", "method": "notifications/x"}, None),
        ({"jsonrpc": "2.0", "id": "a", "result": {}}, None),
        ({"jsonrpc": "2.0", "id": None, "error": {"code": 1, "message": "m"}}, None),
        ({"jsonrpc": "1.0", "id": 1, "method": "x"}, '"jsonrpc"'),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, '"method"'),
        ({"jsonrpc": "2.0", "id": [1], "method": "x"}, '"id"'),
        ({"jsonrpc": "2.0", "id": True, "method": "x"}, '"id"'),
        ({"jsonrpc": "2.0", "id": 1}, "not a request"),
        ("string", "JSON object"),
    ],
)
def test_jsonrpc_shape(message, problem) -> None:
    found = shape_problem(message)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
