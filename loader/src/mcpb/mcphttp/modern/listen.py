"""``subscriptions/listen``: a 2026-07-28 client's stream of change notifications.

The listen request's filter is honoured only where the server can deliver (its declared
``listChanged`` and ``resources.subscribe``); the first frame acknowledges that subset. The
listener is a session attached to the backend like a 2025 GET stream, whose stream keeps only
the notifications asked for and tags each with the listen request's id; the URIs it names are
subscribed in the server for the listener, and the tasks it names (``taskIds``, the tasks
extension) report each change of status on it. A client that leaves ends the subscription; at
shutdown the stream ends with the listen request's result.
"""

from __future__ import annotations

import itertools
from typing import Any

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.buffer import ByteQueue
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.modern.envelope import SUBSCRIPTION_ID
from mcpb.mcphttp.modern.tasks import STATUS as TASK_STATUS

#: Which filter flag lets which notification through, and the capability it needs.
LIST_FILTERS: dict[str, tuple[str, str]] = {
    "notifications/tools/list_changed": ("toolsListChanged", "tools"),
    "notifications/prompts/list_changed": ("promptsListChanged", "prompts"),
    "notifications/resources/list_changed": ("resourcesListChanged", "resources"),
}
UPDATED = "notifications/resources/updated"
_serial = itertools.count(1)


def honoured(requested: Any, capabilities: Any) -> tuple[dict[str, Any], list[str]]:
    """The filter the server can honour, and the URIs to subscribe (both maybe empty)."""
    requested = requested if isinstance(requested, dict) else {}
    capabilities = capabilities if isinstance(capabilities, dict) else {}
    granted: dict[str, Any] = {}
    for flag, capability in LIST_FILTERS.values():
        declared = capabilities.get(capability)
        if (
            requested.get(flag) is True
            and isinstance(declared, dict)
            and declared.get("listChanged")
        ):
            granted[flag] = True
    uris: list[str] = []
    resources = capabilities.get("resources")
    wanted = requested.get("resourceSubscriptions")
    if isinstance(wanted, list) and isinstance(resources, dict) and resources.get("subscribe"):
        uris = list(dict.fromkeys(uri for uri in wanted if isinstance(uri, str)))
        granted["resourceSubscriptions"] = uris
    return granted, uris


def tagged(message: Message, subscription_id: Any) -> bytes:
    """``message`` with the subscription's id in ``params._meta``, encoded."""
    params = message.get("params")
    if not isinstance(params, dict):
        params = message["params"] = {}
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        meta = params["_meta"] = {}
    meta[SUBSCRIPTION_ID] = subscription_id
    return jsonrpc.dumps(message)


def acknowledgement(subscription_id: Any, granted: dict[str, Any]) -> bytes:
    """The first frame of a listen stream."""
    message = {
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"notifications": granted},
    }
    return tagged(message, subscription_id)


def closing_result(subscription_id: Any) -> bytes:
    """The listen request's result: the last frame when the server ends the stream."""
    result = {"resultType": "complete", "_meta": {SUBSCRIPTION_ID: subscription_id}}
    return jsonrpc.dumps({"jsonrpc": "2.0", "id": subscription_id, "result": result})


class ListenStream(ByteQueue):
    """A listener's stream: what its filter lets through, tagged (dropping is not failing)."""

    __slots__ = ("_flags", "_task_ids", "_uris", "subscription_id", "tag")

    def __init__(self, limit: int, subscription_id: Any, granted: dict[str, Any]) -> None:
        super().__init__(limit)
        self.subscription_id = subscription_id
        self._flags = {flag for flag, on in granted.items() if on is True}
        self._uris = set(granted.get("resourceSubscriptions", ()))
        self._task_ids = set(granted.get("taskIds", ()))
        self.tag = f"l{next(_serial)}"

    def put(self, payload: bytes, *, always: bool = False) -> bool:
        """Queue a notification the listener asked for; others are dropped (True)."""
        message = jsonrpc.loads(payload)
        method = message.get("method") if isinstance(message, dict) else None
        if method in LIST_FILTERS:
            if LIST_FILTERS[method][0] not in self._flags:
                return True
        elif method == UPDATED:
            params = message.get("params")
            if not isinstance(params, dict) or params.get("uri") not in self._uris:
                return True
        elif method == TASK_STATUS:
            params = message.get("params")
            if not isinstance(params, dict) or params.get("taskId") not in self._task_ids:
                return True
        else:
            return True  # requests, progress and logs never go on a listen stream
        return super().put(tagged(message, self.subscription_id), always=always)
