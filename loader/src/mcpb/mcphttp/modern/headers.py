"""The 2026-07-28 routing headers: ``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name`` and
the ``Mcp-Param-*`` headers a tool asks for with ``x-mcp-header``.

Intermediaries route on these headers without reading the body, so a server must refuse a
request whose headers and body disagree (400, -32020). Values are compared after trimming
optional whitespace (RFC 9110); a value that is not safe ASCII travels as the sentinel
``=?base64?...?=`` and is decoded, strictly, before it is compared.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.errors import HTTPError
from mcpb.mcphttp.jsonrpc import Message

VERSION = b"mcp-protocol-version"
METHOD = b"mcp-method"
NAME = b"mcp-name"
PARAM_PREFIX = b"mcp-param-"
_ROUTING = (VERSION, METHOD, NAME)
#: The methods whose target travels in ``Mcp-Name``, and where it is in ``params``.
NAMED: dict[str, str] = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def mismatch(rpc_id: Any, text: str) -> HTTPError:
    """400 -32020 (HeaderMismatch)."""
    return HTTPError(400, text, rpc_id=rpc_id, code=jsonrpc.HEADER_MISMATCH)


def routing_headers(
    raw: Sequence[tuple[bytes, bytes]], headers: Mapping[bytes, bytes], rpc_id: Any
) -> dict[bytes, str]:
    """The three routing headers, values trimmed; a repeated one is refused, since readers
    taking the first and the last copy would route differently. ``headers`` is ``raw`` (names
    lowercased, as ASGI gives them) as a dict: when no name repeats at all it answers alone."""
    if len(raw) != len(headers):
        seen: set[bytes] = set()
        for name, _ in raw:
            if name in _ROUTING:
                if name in seen:
                    raise mismatch(rpc_id, f"the {name.decode('latin-1')} header is repeated")
                seen.add(name)
    return {
        name: headers[name].decode("latin-1").strip(" \t") for name in _ROUTING if name in headers
    }


def decode_value(value: str) -> str | None:
    """A header value as the client meant it: the sentinel's decoded text, else the value
    itself. None when a sentinel does not hold valid base64 of UTF-8 text."""
    if not (value.startswith("=?base64?") and value.endswith("?=") and len(value) >= 11):
        return value
    encoded = value[len("=?base64?") : -len("?=")]
    if len(encoded) % 4 or not _BASE64.match(encoded):
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def check_routing(headers: Mapping[bytes, str], message: Message, version: Any) -> None:
    """§ Server validation: the three routing headers against the body (-32020 on a miss)."""
    rpc_id = message.get("id")
    sent_version = headers.get(VERSION)
    if sent_version is None:
        raise mismatch(rpc_id, "the MCP-Protocol-Version header is required")
    if sent_version != version:
        raise mismatch(
            rpc_id,
            f"MCP-Protocol-Version {sent_version!r} does not match params._meta's {version!r}",
        )
    method = message["method"]
    sent_method = headers.get(METHOD)
    if sent_method is None:
        raise mismatch(rpc_id, "the Mcp-Method header is required")
    if sent_method != method:
        raise mismatch(rpc_id, f"Mcp-Method {sent_method!r} does not match the method {method!r}")
    key = NAMED.get(method)
    if key is None:
        return
    params = message.get("params")
    target = params.get(key) if isinstance(params, dict) else None
    sent_name = headers.get(NAME)
    if sent_name is None:
        raise mismatch(rpc_id, f"the Mcp-Name header is required for {method}")
    if decode_value(sent_name) != target:
        raise mismatch(rpc_id, f"Mcp-Name does not match params.{key} of {method}")


#: One ``x-mcp-header`` parameter: where it is in the arguments, and its JSON type.
HeaderParam = tuple[tuple[str, ...], str]


def header_params(input_schema: Any) -> dict[bytes, HeaderParam]:
    """The ``Mcp-Param-*`` headers a tool's input schema asks for, by lowercased header name.

    Only properties reached through plain ``properties`` keys count, with type string,
    integer or boolean (the spec's rule); anything else is ignored, as a client would.
    """
    found: dict[bytes, HeaderParam] = {}

    def walk(schema: Any, path: tuple[str, ...]) -> None:
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(properties, dict):
            return
        for key, sub in properties.items():
            if not isinstance(sub, dict):
                continue
            header = sub.get("x-mcp-header")
            kind = sub.get("type")
            if isinstance(header, str) and header and kind in ("string", "integer", "boolean"):
                name = PARAM_PREFIX + header.lower().encode("latin-1", "replace")
                found[name] = ((*path, key), kind)
            walk(sub, (*path, key))

    walk(input_schema, ())
    return found


def check_params(
    headers: Mapping[bytes, bytes], wanted: Mapping[bytes, HeaderParam], message: Message
) -> None:
    """Each ``Mcp-Param-*`` header a tool declares against its argument (-32020 on a miss).

    A header without its argument, an argument without its header, an undecodable sentinel
    or a different value are refused; integers compare as numbers, booleans as
    ``true``/``false``. Headers the tool does not declare are ignored.
    """
    rpc_id = message.get("id")
    params = message.get("params")
    arguments = params.get("arguments") if isinstance(params, dict) else None
    for header, (path, kind) in wanted.items():
        value: Any = arguments
        for key in path:
            value = value.get(key, _ABSENT) if isinstance(value, dict) else _ABSENT
        raw = headers.get(header)
        sent = raw.decode("latin-1").strip(" \t") if raw is not None else None
        label = header.decode("latin-1")
        if sent is None and value is _ABSENT:
            continue
        if sent is None:
            raise mismatch(rpc_id, f"the {label} header is required: {'.'.join(path)} is set")
        if value is _ABSENT:
            raise mismatch(rpc_id, f"the {label} header is sent but {'.'.join(path)} is not")
        decoded = decode_value(sent)
        if decoded is None:
            raise mismatch(rpc_id, f"the {label} header is not valid base64 of UTF-8 text")
        if not _same(decoded, value, kind):
            raise mismatch(rpc_id, f"the {label} header does not match {'.'.join(path)}")


_ABSENT: Any = object()


def _same(header: str, value: Any, kind: str) -> bool:
    if kind == "boolean":
        return isinstance(value, bool) and header == ("true" if value else "false")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        try:
            return int(header) == value
        except ValueError:
            return False
    return isinstance(value, str) and header == value
