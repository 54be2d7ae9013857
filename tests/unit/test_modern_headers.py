"""2026-07-28 header values, ``x-mcp-header`` schemas and signed request states."""

from __future__ import annotations

import pytest

from mcpb.mcphttp.modern.headers import PARAM_PREFIX, decode_value, header_params
from mcpb.mcphttp.modern.request_state import RequestStates


@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("plain", "plain"),
        ("=?base64?SGVsbG8=?=", "Hello"),
        ("=?base64?w6lsw6h2ZQ==?=", "élève"),
        ("=?base64?SGVsbG8?=", None),  # padding missing
        ("=?base64?SGVs!!!bG8=?=", None),  # outside the alphabet
        ("=?base64?SGVsbG8=", "=?base64?SGVsbG8="),  # no closing marker: a literal
        ("=?BASE64?SGVsbG8=?=", "=?BASE64?SGVsbG8=?="),  # markers are case-sensitive
        ("=?base64?/w==?=", None),  # not UTF-8
    ],
)
def test_a_header_value_is_decoded_only_from_a_well_formed_sentinel(
    sent: str, meant: str | None
) -> None:
    assert decode_value(sent) == meant


def test_header_params_follow_plain_properties_and_allowed_types_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "ratio": {"type": "number", "x-mcp-header": "Ratio"},  # never for numbers
            "target": {
                "type": "object",
                "properties": {"shard": {"type": "integer", "x-mcp-header": "Shard"}},
            },
            "items": {"type": "array", "items": {"x-mcp-header": "Item", "type": "string"}},
        },
    }
    found = header_params(schema)
    assert found == {
        PARAM_PREFIX + b"region": (("region",), "string"),
        PARAM_PREFIX + b"shard": (("target", "shard"), "integer"),
    }
    assert header_params(None) == {} and header_params({"properties": []}) == {}


def test_a_request_state_is_good_only_as_issued_here() -> None:
    states = RequestStates()
    state = states.issue("handle", 2)
    assert states.verify(state) == ("handle", 2)
    assert states.verify(state + "-TAMPERED") is None
    assert states.verify(state.replace(".2.", ".3.")) is None
    assert states.verify(RequestStates().issue("handle", 2)) is None  # another process's key
    assert states.verify(None) is None and states.verify("a.b") is None
