"""One client session as seen by its upstreams, and the rewriting on the way back.

A client session of a vMCP is represented at each upstream it uses by a :class:`Relay`: a
transport :class:`~mcpb.mcphttp.session.Session` of its own (so an upstream ``Backend`` — the
stdio bridge's, or :class:`~mcpb.aggregator.http_upstream.HttpUpstream` — keeps its usual
per-session bookkeeping), whose unprompted messages are rewritten and passed to the client's
session. Requests routed to an upstream answer through a :class:`RelaySink` around the client's
own sink, rewriting interim messages the same way.

What is rewritten (everything else passes untouched, without being parsed):

* server→client requests get an id unique in the client session (two upstreams both start
  counting at 0; an upstream's own string id is kept while it is unique), mapped back when
  the client answers; a cancel of one follows the mapping;
* resource URIs (``notifications/resources/updated``, ``resources/read`` results and resources
  embedded in tool results) get the upstream's URI token;
* ``*/list_changed`` from one client's upstream session is dropped: the aggregator re-lists
  through its own session and notifies the vMCPs whose visible set changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcpb.aggregator.names import namespaced_uri
from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.session import Session, Undelivered, deliver_final
from mcpb.mcphttp.sink import Sink

_relay_ids = itertools.count(1)


@dataclass(slots=True, eq=False)
class AskedBy:
    """A server→client request relayed to a client: who asked, under which id."""

    upstream: str
    relay: Relay
    upstream_id: Any


@dataclass(eq=False)
class ClientState:
    """What a vMCP keeps per client session."""

    session: Session
    identity: str = "anonymous"  # who opened it; its later requests must come from the same
    init_params: dict[str, Any] = field(default_factory=dict)
    relays: dict[str, Relay] = field(default_factory=dict)
    asked: dict[str, AskedBy] = field(default_factory=dict)
    log_level: str | None = None
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def ask_id(self, upstream: str, relay: Relay, upstream_id: Any) -> str:
        """A client-side id for a server→client request, remembered until answered.

        A string id the upstream chose is kept while no other pending request of this client
        uses it (in 2026-07-28 it becomes the key of the client's input request, which the
        server may have chosen with care); otherwise, and for numbers, ``UPSTREAM-N``.
        """
        client_id = upstream_id if isinstance(upstream_id, str) and upstream_id else ""
        while not client_id or client_id in self.asked:
            client_id = f"{upstream}-{next(self._serial)}"
        self.asked[client_id] = AskedBy(upstream, relay, upstream_id)
        return client_id

    def client_id_for(self, upstream: str, upstream_id: Any) -> str | None:
        """The client-side id of a pending server→client request of ``upstream``."""
        for client_id, asked in self.asked.items():
            if asked.upstream == upstream and asked.upstream_id == upstream_id:
                return client_id
        return None


class Relay(Session):
    """A client session's stand-in at one upstream."""

    __slots__ = ("client", "upstream", "uri_token")

    def __init__(self, client: ClientState, upstream: str, uri_token: str) -> None:
        owner = client.session
        super().__init__(
            f"relay-{next(_relay_ids)}",
            owner.legacy,
            f"{owner.tag}>{upstream}",
            buffer_limit=owner.buffer_limit,
            hold_seconds=owner.hold_seconds,
        )
        self.client = client
        self.upstream = upstream
        self.uri_token = uri_token

    def push(self, payload: bytes, undelivered: Undelivered | None = None) -> bool:
        """Rewrite an unprompted upstream message and send it on the client's session."""
        if self.closed or self.client.session.closed:
            return False
        rewritten = toward_client(self, payload)
        if rewritten is None:
            return True
        return self.client.session.push(rewritten, undelivered)


class RelaySink:
    """The sink an upstream answers one routed request into: rewrites, then the client's."""

    __slots__ = ("_done", "_final", "client", "relay", "sink")

    def __init__(
        self,
        relay: Relay,
        sink: Sink | None,
        done: Callable[[], None],
        final: Callable[[Relay, bytes], bytes] | None = None,
    ) -> None:
        self.relay = relay
        self.sink = sink
        self._done = done
        self._final = final

    @property
    def streaming(self) -> bool:
        """As the client's sink (a legacy session has none: its stream gets everything)."""
        return self.sink is not None and self.sink.streaming

    @property
    def waiting(self) -> bool:
        """As the client's sink."""
        return self.sink is not None and self.sink.waiting

    def put(self, payload: bytes, *, final: bool) -> bool:
        """Deliver to the client: the answer as it is (or rewritten), interim rewritten."""
        if final:
            self._done()
            if self._final is not None:
                payload = self._final(self.relay, payload)
            return deliver_final(self.relay.client.session, self.sink, payload)
        rewritten = toward_client(self.relay, payload)
        if rewritten is None:
            return True
        if self.sink is None:
            return self.relay.client.session.push(rewritten)
        return self.sink.put(rewritten, final=False)


# Byte markers of the messages that need rewriting; anything else is passed without parsing.
_MARKERS = (b'"id"', b"list_changed", b"resources/updated", b"notifications/cancelled")


def toward_client(relay: Relay, payload: bytes) -> bytes | None:
    """An upstream's message rewritten for the client (None: not for the client)."""
    if not any(marker in payload for marker in _MARKERS):
        return payload
    message = jsonrpc.loads(payload)
    if not isinstance(message, dict):
        return payload
    method = message.get("method")
    if not isinstance(method, str):
        return payload
    params = message.get("params")
    if "id" in message:
        message["id"] = relay.client.ask_id(relay.upstream, relay, message["id"])
        return jsonrpc.dumps(message)
    if method.endswith("/list_changed"):
        return None
    if method == "notifications/resources/updated" and isinstance(params, dict):
        uri = params.get("uri")
        if isinstance(uri, str):
            params["uri"] = namespaced_uri(relay.uri_token, uri)
        return jsonrpc.dumps(message)
    if method == "notifications/cancelled" and isinstance(params, dict):
        client_id = relay.client.client_id_for(relay.upstream, params.get("requestId"))
        if client_id is None:
            return None
        relay.client.asked.pop(client_id, None)
        params["requestId"] = client_id
        return jsonrpc.dumps(message)
    return payload


def uris_toward_client(relay: Relay, payload: bytes) -> bytes:
    """A result with the resource URIs it names (``contents``, embedded resources and links)
    given the upstream's token; unchanged when there is no token or no URI."""
    if not relay.uri_token or b'"uri"' not in payload:
        return payload
    message = jsonrpc.loads(payload)
    result = message.get("result") if isinstance(message, dict) else None
    if not isinstance(result, dict):
        return payload
    for key in ("contents", "content", "messages"):
        items = result.get(key)
        if isinstance(items, list):
            for item in items:
                _namespace_item(relay.uri_token, item)
    return jsonrpc.dumps(message)


def _namespace_item(token: str, item: Any) -> None:
    if not isinstance(item, dict):
        return
    if isinstance(item.get("uri"), str):
        item["uri"] = namespaced_uri(token, item["uri"])
    for key in ("resource", "content"):
        inner = item.get(key)
        if isinstance(inner, dict):
            _namespace_item(token, inner)


def with_params(message: Message, **changes: Any) -> Message:
    """``message`` with some params replaced (a new params object; the caller's is kept)."""
    params = message.get("params")
    params = dict(params) if isinstance(params, dict) else {}
    params.update(changes)
    return {**message, "params": params}
