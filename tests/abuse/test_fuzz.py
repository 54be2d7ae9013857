"""Property-based fuzzing of the two doors hostile bytes come through.

- The transport core, in-process: random and mutated JSON-RPC bodies and headers get a status
  the transport spec allows, never an exception (a 500), never a hang.
- The archive reader: mutated bundles are refused with one of our errors or read correctly,
  never a traceback, and extraction never writes outside its target.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpb.bundle.archive import Entry
from mcpb.bundle.errors import McpbError
from mcpb.bundle.extract import safe_extract
from mcpb.bundle.meta import pack_bundle
from mcpb.mcphttp import HttpSettings, McpHttpApp, SessionTable
from tests.inprocess.asgi_driver import call
from tests.inprocess.rig import INIT, FakeBackend
from tests.support.manifests import minimal_manifest

pytestmark = pytest.mark.abuse

#: Every status the streamable HTTP transport (and our guards) may answer with.
ALLOWED = {200, 202, 204, 400, 403, 404, 405, 406, 413, 415, 421, 503, 504}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]) | json_values,
        "id": st.integers() | st.text(max_size=5) | st.none() | json_values,
        "method": st.sampled_from(
            ["initialize", "tools/list", "tools/call", "notifications/initialized",
             "notifications/cancelled", "server/discover", "ping"]
        ) | json_values,
        "params": json_values,
        "result": json_values,
        "error": json_values,
    },
)  # fmt: skip
bodies = (
    messages.map(lambda m: json.dumps(m).encode())
    | st.lists(messages, max_size=3).map(lambda b: json.dumps(b).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=200)
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["POST", "POST", "POST", "GET", "DELETE", "PUT", "OPTIONS"]),
    path=st.sampled_from(["/mcp", "/mcp", "/sse", "/message", "/health", "/ready", "/x"]),
    body=bodies,
    content_type=st.sampled_from(["application/json", "text/plain", ""]) | header_values,
    accept=st.sampled_from(["application/json, text/event-stream", "text/html", "*/*"])
    | header_values,
    version=st.sampled_from(["2025-06-18", "2025-03-26", "1999-01-01", ""]) | header_values,
    session=st.sampled_from(["valid", "bogus", "none"]),
    host=st.sampled_from(["127.0.0.1:8000", "localhost", "evil.example"]) | header_values,
    query=st.binary(max_size=30),
)
def test_the_core_answers_every_request_with_an_allowed_status(
    method: str,
    path: str,
    body: bytes,
    content_type: str,
    accept: str,
    version: str,
    session: str,
    host: str,
    query: bytes,
) -> None:
    async def scenario() -> int:
        settings_ = HttpSettings(max_body=4096)
        app = McpHttpApp(settings_, SessionTable(settings_, FakeBackend, shared=True))
        await app.startup()
        init = await call(app, "POST", "/mcp", body=INIT, headers={"accept": "application/json"})
        headers = {"content-type": content_type, "accept": accept, "host": host}
        if version:
            headers["mcp-protocol-version"] = version
        if session != "none":
            sid = init.headers.get("mcp-session-id", "") if session == "valid" else "bogus"
            headers["mcp-session-id"] = sid
        reply = await call(
            app, method, path, body=body, headers=headers, query=query, leave_after=0.05
        )
        await app.shutdown()
        return reply.status

    status = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert status in ALLOWED


def _base_bundle() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        info = pack_bundle(
            minimal_manifest(),
            [
                Entry.from_bytes("server/main.py", b"print('hello')\n" * 20),
                Entry.from_bytes("server/lib/data.txt", b"data " * 200),
            ],
            Path(tmp) / "base.mcpb",
        )
        return info.path.read_bytes()


BASE = _base_bundle()


@st.composite
def mutated(draw: Any) -> bytes:
    data = bytearray(BASE)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "overwrite"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at : at + len(chunk)] = chunk
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(archive=mutated())
def test_mutated_archives_are_refused_cleanly_or_read_whole(archive: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bundle = root / "in" / "b.mcpb"
        bundle.parent.mkdir()
        bundle.write_bytes(archive)
        target = root / "out" / "tree"
        try:
            result = safe_extract(bundle, target)
        except McpbError:
            assert not target.exists()
        else:
            assert result.file_count >= 1
            for path in target.rglob("*"):
                assert path.resolve().is_relative_to(target.resolve())
        written = {p.relative_to(root) for p in root.rglob("*")}
        outside = {p for p in written if p.parts[0] not in ("in", "out")}
        assert outside == set()
