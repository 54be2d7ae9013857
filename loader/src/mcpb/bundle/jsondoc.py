"""Reading a JSON document from outside (a manifest, a sidecar), bounded in size and depth.

``json.loads`` recurses once per nesting level: a document nested ten thousand deep raises
``RecursionError`` (a traceback, not an error message), and one nested a few hundred deep
passes the parser but may still exhaust the stack of whatever walks it next (the models,
``json.dumps``). Every manifest we read goes through :func:`parse_json_object`, which refuses
both with a :class:`JsonDocumentError` the caller turns into its own one-line error.
"""

from __future__ import annotations

import json
from typing import Any

#: Deepest nesting accepted (a real manifest needs 5 or so).
MAX_DEPTH = 64
#: Largest document accepted, bytes.
MAX_SIZE = 16 << 20
TOO_DEEP = "invalid JSON: nested too deeply"


class JsonDocumentError(ValueError):
    """The document is not a JSON object we are willing to read; ``str()`` says why."""


def _reject_constant(name: str) -> Any:
    raise JsonDocumentError(f"invalid JSON: {name} is not a JSON value")


def parse_json_object(
    raw: bytes | str, *, max_size: int = MAX_SIZE, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """Decode ``raw`` (UTF-8 without BOM) into a JSON object of bounded size and depth."""
    if len(raw) > max_size:
        raise JsonDocumentError(f"larger than {max_size} bytes")
    if isinstance(raw, bytes):
        if raw.startswith(b"\xef\xbb\xbf"):
            raise JsonDocumentError("starts with a UTF-8 byte order mark")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise JsonDocumentError(f"not UTF-8 (byte {err.start})") from None
    else:
        text = raw
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno}, column {err.colno}"
        raise JsonDocumentError(f"invalid JSON at {where}: {err.msg}") from None
    except RecursionError:
        raise JsonDocumentError(TOO_DEEP) from None
    if not isinstance(data, dict):
        raise JsonDocumentError(f"expected a JSON object, got {json_type(data)}")
    if depth_over(data, max_depth):
        raise JsonDocumentError(TOO_DEEP)
    return data


def depth_over(value: object, limit: int) -> bool:
    """Whether ``value`` nests containers more than ``limit`` deep (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
