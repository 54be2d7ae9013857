"""The stdio backend's routing rules, in-process: a fake child instead of a subprocess.

The fake (tests/support/fake_child.py) records every frame written to it and lets the test
speak as the server, so the
pending table (id and progress-token remapping, cancel, fail-all), attribution, the cached
``initialize`` and the restart path are checked without spawning anything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mcpb.loader.bridge import StdioBackend, StdioSettings
from mcpb.loader.bridge.attribution import Unattributed, current_owner
from mcpb.loader.bridge.pending import PendingTable
from mcpb.mcphttp import RequestSink, Session, jsonrpc
from tests.support.fake_child import FakeChild, install


@pytest.fixture(autouse=True)
def fake_child(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch)


def backend(*, on_gave_up: Any = None, **settings: Any) -> StdioBackend:
    stdio = StdioSettings(**settings)
    return StdioBackend(["server"], {}, Path("."), "shared", stdio, on_gave_up=on_gave_up)


def session(name: str, backend_: StdioBackend) -> Session:
    s = Session(name, legacy=False, tag=name)
    backend_.attach(s)
    return s


def request(rid: Any, method: str, **params: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params:
        message["params"] = params
    return message


async def next_item(sink: RequestSink) -> bytes:
    item: bytes | None = await asyncio.wait_for(sink.queue.get(), 2)
    assert item is not None
    return item


async def answer_of(sink: RequestSink) -> dict[str, Any]:
    while True:
        item = await asyncio.wait_for(sink.queue.get(), 2)
        if sink.finished():
            assert item is not None
            return jsonrpc.loads(item)  # type: ignore[no-any-return]


def test_colliding_client_ids_are_remapped_and_answered_to_their_own_sinks() -> None:
    async def scenario() -> None:
        b = backend()
        await b.start()
        child = FakeChild.made[0]
        a, c = session("a", b), session("c", b)
        sink_a, sink_c = RequestSink(streaming=True), RequestSink(streaming=True)
        await b.forward_request(a, request(1, "tools/list"), sink_a)
        await b.forward_request(c, request(1, "tools/list"), sink_c)
        ids = [m["id"] for m in child.requests("tools/list")]
        assert (len(set(ids)) == 2 and 1 not in ids) or ids == [1, 2]
        child.say({"jsonrpc": "2.0", "id": ids[1], "result": {"who": "c"}})
        child.say({"jsonrpc": "2.0", "id": ids[0], "result": {"who": "a"}})
        assert await answer_of(sink_a) == {"jsonrpc": "2.0", "id": 1, "result": {"who": "a"}}
        assert await answer_of(sink_c) == {"jsonrpc": "2.0", "id": 1, "result": {"who": "c"}}
        assert not a.inflight and not c.inflight

    asyncio.run(scenario())


def test_progress_tokens_are_remapped_both_ways() -> None:
    async def scenario() -> None:
        b = backend()
        await b.start()
        child = FakeChild.made[0]
        s = session("s", b)
        sink = RequestSink(streaming=True)
        await b.forward_request(
            s, request("r", "tools/call", name="t", _meta={"progressToken": "tok"}), sink
        )
        sent = child.requests("tools/call")[0]
        assert sent["params"]["_meta"]["progressToken"] == sent["id"]
        progress = {"progressToken": sent["id"], "progress": 1}
        child.say({"jsonrpc": "2.0", "method": "notifications/progress", "params": progress})
        interim = jsonrpc.loads(await next_item(sink))
        assert interim["params"] == {"progressToken": "tok", "progress": 1}

    asyncio.run(scenario())


def test_initialize_goes_to_the_child_once_and_is_replayed_from_the_cache() -> None:
    async def scenario() -> None:
        b = backend()
        await b.start()
        child = FakeChild.made[0]
        first, second = session("one", b), session("two", b)
        sink1 = RequestSink(streaming=False)
        await b.initialize(first, request(10, "initialize", protocolVersion="2025-06-18"), sink1)
        init = child.requests("initialize")[0]
        child.say({"jsonrpc": "2.0", "id": init["id"], "result": {"protocolVersion": "2025-06-18"}})
        assert (await answer_of(sink1))["id"] == 10
        assert child.requests("notifications/initialized")  # sent by the bridge itself
        sink2 = RequestSink(streaming=False)
        await b.initialize(second, request("x", "initialize"), sink2)
        assert await answer_of(sink2) == {
            "jsonrpc": "2.0",
            "id": "x",
            "result": {"protocolVersion": "2025-06-18"},
        }
        assert len(child.requests("initialize")) == 1
        await b.forward_notification(
            second, {"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        assert len(child.requests("notifications/initialized")) == 1  # the client's copy dropped

    asyncio.run(scenario())


def test_cancel_answers_the_client_at_once_and_tells_the_child_its_own_id() -> None:
    async def scenario() -> None:
        b = backend()
        await b.start()
        child = FakeChild.made[0]
        s = session("s", b)
        sink = RequestSink(streaming=False)
        await b.forward_request(s, request(3, "tools/call", name="slow"), sink)
        upstream_id = child.requests("tools/call")[0]["id"]
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}}
        await b.forward_notification(s, cancel)
        assert child.requests("notifications/cancelled")[0]["params"]["requestId"] == upstream_id
        assert (await answer_of(sink))["error"]["code"] == jsonrpc.REQUEST_CANCELLED
        child.say({"jsonrpc": "2.0", "id": upstream_id, "result": {}})  # late: dropped
        assert not s.inflight

    asyncio.run(scenario())


def test_a_crash_fails_what_is_in_flight_and_the_restart_replays_initialize() -> None:
    async def scenario() -> None:
        b = backend(restart_backoff_min=0.01)
        await b.start()
        child = FakeChild.made[0]
        s = session("s", b)
        init_sink = RequestSink(streaming=False)
        await b.initialize(s, request(0, "initialize", protocolVersion="2025-06-18"), init_sink)
        child.say({"jsonrpc": "2.0", "id": child.requests("initialize")[0]["id"], "result": {}})
        await answer_of(init_sink)
        sink = RequestSink(streaming=False)
        await b.forward_request(s, request(4, "tools/list"), sink)
        child.on_exit(1)
        failed = await answer_of(sink)
        assert failed["id"] == 4 and "exited (code 1)" in failed["error"]["message"]
        for _ in range(100):
            if len(FakeChild.made) == 2 and FakeChild.made[1].requests("initialize"):
                break
            await asyncio.sleep(0.01)
        second = FakeChild.made[1]
        replay = second.requests("initialize")[0]
        assert replay["params"]["protocolVersion"] == "2025-06-18"
        second.say({"jsonrpc": "2.0", "id": replay["id"], "result": {}})
        again = RequestSink(streaming=False)
        await asyncio.wait_for(b.forward_request(s, request(5, "tools/list"), again), 2)
        assert second.requests("tools/list") and b.restarts == 1
        await b.close()

    asyncio.run(scenario())


def test_server_requests_go_only_to_a_certain_owner() -> None:
    async def scenario() -> None:
        b = backend(stateful_hint="MCPB_BRIDGE_MODE=stateful")
        await b.start()
        child = FakeChild.made[0]
        a, c = session("a", b), session("c", b)
        sink_a, sink_c = RequestSink(streaming=True), RequestSink(streaming=True)
        await b.forward_request(a, request(1, "tools/call", name="ask"), sink_a)
        child.say({"jsonrpc": "2.0", "id": "q1", "method": "sampling/createMessage", "params": {}})
        routed = jsonrpc.loads(await next_item(sink_a))
        assert routed["id"] == "q1"
        await b.forward_response(c, {"jsonrpc": "2.0", "id": "q1", "result": {}})  # not asked
        assert not [m for m in child.written if m.get("id") == "q1"]
        await b.forward_response(a, {"jsonrpc": "2.0", "id": "q1", "result": {"ok": 1}})
        assert next(m for m in child.written if m.get("id") == "q1")["result"] == {"ok": 1}
        await b.forward_request(c, request(2, "tools/call", name="other"), sink_c)
        child.say({"jsonrpc": "2.0", "id": "q2", "method": "elicitation/create", "params": {}})
        refusal = next(m for m in child.written if m.get("id") == "q2")
        assert "several client sessions" in refusal["error"]["message"]
        assert "MCPB_BRIDGE_MODE=stateful" in refusal["error"]["message"]
        child.say({"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": "x"}})
        assert b.dropped_notifications == 1

    asyncio.run(scenario())


def test_attribution_and_pending_table_rules() -> None:
    table = PendingTable()
    one, two = Session("1", False, "1"), Session("2", False, "2")
    assert isinstance(current_owner(table, [one, two], b"", set()), Unattributed)
    assert current_owner(table, [one], b"", set()) == (one, None)
    call = table.add_request(
        one, request(1, "tools/call", name="t", arguments={"q": "weather"}), None, is_init=False
    )
    listing = table.add_request(one, request(2, "tools/list"), None, is_init=False)
    assert current_owner(table, [one, two], b'{"x":"weather"}', set()) == (one, call)
    assert table.take(listing.upstream_id) is listing and 2 not in one.inflight
    table.add_request(two, request(1, "tools/list"), None, is_init=False)
    owner = current_owner(table, [one, two], b"", set())
    assert isinstance(owner, Unattributed) and "several" in owner.why
    drained = table.drain()
    assert len(drained) == 2 and not one.inflight and not two.inflight and len(table) == 0
    assert table.take({"unhashable": 1}) is None


class _Waiting(RequestSink):
    """A request sink whose client was handed ``input_required`` and is away."""

    @property
    def waiting(self) -> bool:
        return True


def test_a_request_waiting_for_its_clients_input_does_not_count_for_attribution() -> None:
    table = PendingTable()
    one, two = Session("1", False, "1"), Session("2", False, "2")
    parked = table.add_request(
        one, request(1, "tools/call", name="a"), _Waiting(True), is_init=False
    )
    assert current_owner(table, [], b"", set()) == (one, parked)  # alone: still the owner
    active = table.add_request(
        two, request(1, "tools/call", name="b"), RequestSink(True), is_init=False
    )
    assert current_owner(table, [], b"", set()) == (two, active)  # the blocked one asks nothing


def test_subscriptions_are_counted_and_the_last_one_leaving_unsubscribes_the_child() -> None:
    async def scenario() -> None:
        b = backend()
        await b.start()
        child = FakeChild.made[0]
        a, c = session("a", b), session("c", b)
        for who in (a, c):
            sink = RequestSink(streaming=False)
            await b.forward_request(who, request(1, "resources/subscribe", uri="x://1"), sink)
            child.say({"jsonrpc": "2.0", "id": child.requests("resources/subscribe")[-1]["id"]})
        sink = RequestSink(streaming=False)
        await b.forward_request(a, request(2, "resources/unsubscribe", uri="x://1"), sink)
        assert (await answer_of(sink))["result"] == {}  # answered here: c still listens
        assert child.requests("resources/unsubscribe") == []
        b.detach(c)
        await asyncio.sleep(0.05)
        assert [m["params"] for m in child.requests("resources/unsubscribe")] == [{"uri": "x://1"}]

    asyncio.run(scenario())
