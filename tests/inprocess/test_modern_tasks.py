"""The tasks extension (``io.modelcontextprotocol/tasks``) made by the transport core for a
handshake-era server that knows nothing of tasks, in-process.

The official suite runs the same rules end to end against the bridge and a vMCP
(tests/integration/test_conformance_2026.py); these pin each rule and its edges.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcpb.mcphttp import jsonrpc
from tests.inprocess.asgi_driver import Reply
from tests.inprocess.modern_rig import META, ModernRig, error_of, modern

TASKS = "io.modelcontextprotocol/tasks"
CAPS = "io.modelcontextprotocol/clientCapabilities"
WITH_TASKS = {**META, CAPS: {"elicitation": {}, "extensions": {TASKS: {}}}}
#: Short enough for quick tests, long enough that an instant answer is not a task.
FAST = {"task_after": 0.05}


async def call(rig: ModernRig, tool: str, rpc_id: Any = 1, meta: Any = None, **args: Any) -> Any:
    params = {"name": tool, "arguments": args, "_meta": meta or WITH_TASKS}
    reply = await rig.send("tools/call", params, rpc_id=rpc_id)
    assert reply.status == 200, reply.body
    return reply.json()["result"]


async def task_request(
    rig: ModernRig, method: str, task_id: str, rpc_id: Any = 50, **params: Any
) -> Reply:
    return await rig.send(method, {"taskId": task_id, "_meta": WITH_TASKS, **params}, rpc_id=rpc_id)


async def get(rig: ModernRig, task_id: str) -> Any:
    reply = await task_request(rig, "tasks/get", task_id)
    assert reply.status == 200, reply.body
    return reply.json()["result"]


async def settled(rig: ModernRig, task_id: str, status: str, timeout: float = 5) -> Any:
    """tasks/get until the task has ``status``."""
    for _ in range(int(timeout / 0.02)):
        task = await get(rig, task_id)
        if task["status"] == status:
            return task
        await asyncio.sleep(0.02)
    raise AssertionError(f"task {task_id} never reached {status}: {task}")


def test_a_long_call_becomes_a_task_whose_result_tasks_get_inlines() -> None:
    async def scenario(rig: ModernRig) -> None:
        created = await call(rig, "work", seconds=0.3, task={"ttl": 5})
        assert created["resultType"] == "task" and created["status"] == "working"
        assert set(created) >= {"taskId", "createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs"}
        assert not {"result", "error", "inputRequests", "requestState", "task"} & set(created)
        assert created["ttlMs"] == 3_600_000 and created["createdAt"].endswith("Z")
        working = await get(rig, created["taskId"])  # resolvable at once
        assert (working["resultType"], working["status"]) == ("complete", "working")
        assert "result" not in working
        done = await settled(rig, created["taskId"], "completed")
        assert done["result"]["content"] == [{"type": "text", "text": "worked 0.3s"}]
        assert done["result"]["isError"] is False
        assert done["lastUpdatedAt"] >= done["createdAt"]
        seen = next(m for m in rig.backend.forwarded if m["method"] == "tools/call")
        assert "task" not in seen["params"]  # the 2025 hint would ask the server for a task
        assert "_meta" not in seen["params"]

    modern(scenario, **FAST)


def test_a_fast_call_stays_a_plain_result() -> None:
    async def scenario(rig: ModernRig) -> None:
        result = await call(rig, "declared", seconds=0)
        assert result["resultType"] == "complete" and "taskId" not in result

    modern(scenario, task_after=1.0)


def test_a_declared_task_tool_becomes_a_task_sooner_than_others() -> None:
    async def scenario(rig: ModernRig) -> None:
        declared = await call(rig, "declared", seconds=0.6)
        assert declared["resultType"] == "task"  # after 0.25 s, not task_after
        plain = await call(rig, "work", rpc_id=2, seconds=0.6)
        assert plain["resultType"] == "complete"  # ran less than task_after

    modern(scenario, task_after=5.0)


def test_only_clients_declaring_the_extension_get_tasks() -> None:
    async def scenario(rig: ModernRig) -> None:
        plain_meta = {**META, CAPS: {}}
        result = await call(rig, "work", meta=plain_meta, seconds=0.2)
        assert result["resultType"] == "complete" and "taskId" not in result
        refused = await rig.send(
            "tools/call", {"name": "needs_tasks", "arguments": {}, "_meta": plain_meta}, rpc_id=2
        )
        assert error_of(refused) == (400, jsonrpc.MISSING_CLIENT_CAPABILITY)
        wanted: dict[str, Any] = {"requiredCapabilities": {"extensions": {TASKS: {}}}}
        assert refused.json()["error"]["data"] == wanted
        created = await call(rig, "needs_tasks", rpc_id=3, seconds=0.3)
        for method in ("tasks/get", "tasks/update", "tasks/cancel"):
            params = {"taskId": created["taskId"], "inputResponses": {}, "_meta": plain_meta}
            reply = await rig.send(method, params, rpc_id=4)
            assert error_of(reply) == (400, jsonrpc.MISSING_CLIENT_CAPABILITY), method

    modern(scenario, **FAST)


def test_a_forbidden_tool_never_becomes_a_task() -> None:
    async def scenario(rig: ModernRig) -> None:
        result = await call(rig, "never_task", seconds=0.3)
        assert result["resultType"] == "complete"

    modern(scenario, **FAST)


def test_unknown_and_foreign_task_ids_are_invalid_params() -> None:
    async def scenario(rig: ModernRig) -> None:
        unknown = await task_request(rig, "tasks/get", "no-such-task")
        assert error_of(unknown) == (400, jsonrpc.INVALID_PARAMS)
        params = {"name": "work", "arguments": {"seconds": 0.3}, "_meta": WITH_TASKS}
        mine = (await rig.send("tools/call", params, principal="alice")).json()["result"]
        body = {"taskId": mine["taskId"], "_meta": WITH_TASKS}
        stolen = await rig.send("tasks/cancel", body, rpc_id=2, principal="mallory")
        assert error_of(stolen) == (400, jsonrpc.INVALID_PARAMS)
        again = await rig.send("tasks/get", body, rpc_id=3, principal="alice")
        assert again.json()["result"]["status"] == "working"  # mallory changed nothing

    modern(scenario, **FAST)


def test_a_routing_header_naming_another_task_is_a_mismatch() -> None:
    async def scenario(rig: ModernRig) -> None:
        created = await call(rig, "work", seconds=0.3)
        body = {"taskId": created["taskId"], "_meta": WITH_TASKS}
        reply = await rig.send("tasks/get", body, rpc_id=2, mcp_name="another-task")
        assert error_of(reply) == (400, jsonrpc.HEADER_MISMATCH)

    modern(scenario, **FAST)


def test_questions_of_a_task_are_answered_with_tasks_update_one_by_one() -> None:
    async def scenario(rig: ModernRig) -> None:
        created = await call(rig, "ask_later", delay=0.4, questions=2)
        assert created["resultType"] == "task"
        asked = await settled(rig, created["taskId"], "input_required")
        for _ in range(50):  # both questions show once they have arrived
            if len(asked["inputRequests"]) == 2:
                break
            asked = await get(rig, created["taskId"])
        assert set(asked["inputRequests"]) == {"q1", "q2"}
        assert asked["inputRequests"]["q1"]["method"] == "elicitation/create"
        assert "requestState" not in asked
        ack = await task_request(
            rig,
            "tasks/update",
            created["taskId"],
            inputResponses={"q1": {"action": "accept"}, "never-asked": {"x": 1}},
        )
        assert set(ack.json()["result"]) == {"resultType", "_meta"}
        assert ack.json()["result"]["resultType"] == "complete"
        partial = await get(rig, created["taskId"])
        assert partial["status"] == "input_required"
        assert set(partial["inputRequests"]) == {"q2"}
        await task_request(
            rig, "tasks/update", created["taskId"], inputResponses={"q2": {"action": "decline"}}
        )
        done = await settled(rig, created["taskId"], "completed")
        assert done["result"]["content"][0]["text"] == "all answered"
        answers = {r["id"]: r["result"] for r in rig.backend.responses}
        assert answers == {"q1": {"action": "accept"}, "q2": {"action": "decline"}}

    modern(scenario, **FAST)


def test_cancel_stops_the_call_in_the_server_and_is_idempotent() -> None:
    async def scenario(rig: ModernRig) -> None:
        created = await call(rig, "work", seconds=5)
        ack = await task_request(rig, "tasks/cancel", created["taskId"])
        assert ack.status == 200 and ack.json()["result"]["resultType"] == "complete"
        assert "status" not in ack.json()["result"]
        assert [request_id for request_id, _ in rig.backend.abandoned] == [1]
        cancelled = await get(rig, created["taskId"])
        assert cancelled["status"] == "cancelled" and "result" not in cancelled
        again = await task_request(rig, "tasks/cancel", created["taskId"], rpc_id=51)
        assert again.json()["result"]["resultType"] == "complete"
        assert len(rig.backend.abandoned) == 1

    modern(scenario, **FAST)


def test_a_json_rpc_error_fails_the_task_and_a_tool_error_completes_it() -> None:
    async def scenario(rig: ModernRig) -> None:
        broken = await call(rig, "work", seconds=0.2, fail=True)
        failed = await settled(rig, broken["taskId"], "failed")
        assert failed["error"] == {"code": -32603, "message": "the work broke"}
        assert failed["statusMessage"] == "the work broke" and "result" not in failed
        erring = await call(rig, "work", rpc_id=2, seconds=0.2, tool_error=True)
        completed = await settled(rig, erring["taskId"], "completed")
        assert completed["result"]["isError"] is True

    modern(scenario, **FAST)


def test_a_result_larger_than_a_client_buffer_fails_its_task() -> None:
    async def scenario(rig: ModernRig) -> None:
        created = await call(rig, "work", seconds=0.2, size=70_000)
        failed = await settled(rig, created["taskId"], "failed")
        assert failed["error"]["code"] == jsonrpc.INTERNAL_ERROR
        assert "no room to keep the result" in failed["error"]["message"]

    modern(scenario, max_buffer=64 * 1024, **FAST)


def test_kept_results_share_a_byte_budget_and_the_oldest_finished_go_first() -> None:
    async def scenario(rig: ModernRig) -> None:
        first = await call(rig, "work", seconds=0.1, size=40_000)
        await settled(rig, first["taskId"], "completed")
        second = await call(rig, "work", rpc_id=2, seconds=0.1, size=40_000)
        done = await settled(rig, second["taskId"], "completed")
        assert len(done["result"]["content"][0]["text"]) == 40_000
        gone = await task_request(rig, "tasks/get", first["taskId"])
        assert error_of(gone) == (400, jsonrpc.INVALID_PARAMS)  # forgotten to make room

    modern(scenario, max_buffer=64 * 1024, task_memory=64 * 1024, **FAST)


def test_a_full_table_leaves_calls_synchronous() -> None:
    async def scenario(rig: ModernRig) -> None:
        first = await call(rig, "work", seconds=1)
        assert first["resultType"] == "task"
        second = await call(rig, "work", rpc_id=2, seconds=0.2)
        assert second["resultType"] == "complete"

    modern(scenario, max_sessions=1, **FAST)


def test_a_task_past_its_ttl_is_gone_and_its_call_cancelled() -> None:
    async def scenario(rig: ModernRig) -> None:
        created = await call(rig, "work", seconds=30)
        await asyncio.sleep(1.05)
        gone = await task_request(rig, "tasks/get", created["taskId"])
        assert error_of(gone) == (400, jsonrpc.INVALID_PARAMS)
        assert [reason for _, reason in rig.backend.abandoned] == ["the task's TTL elapsed"]

    modern(scenario, task_ttl_ms=1000, **FAST)


def test_without_tasks_nothing_of_the_extension_is_served() -> None:
    async def scenario(rig: ModernRig) -> None:
        discovered = (await rig.send("server/discover")).json()["result"]
        assert "extensions" not in discovered["capabilities"]
        result = await call(rig, "work", seconds=0.2)
        assert result["resultType"] == "complete"
        reply = await task_request(rig, "tasks/get", "anything")
        assert error_of(reply) == (404, jsonrpc.METHOD_NOT_FOUND)

    modern(scenario, task_after=None)


def test_a_listener_naming_a_task_hears_each_change_of_its_status() -> None:
    async def scenario(rig: ModernRig) -> None:
        created = await call(rig, "work", seconds=0.3)
        plain = {**META, CAPS: {}}
        refused = await rig.send(
            "subscriptions/listen",
            {"notifications": {"taskIds": [created["taskId"]]}, "_meta": plain},
            rpc_id=8,
        )
        assert error_of(refused) == (400, jsonrpc.MISSING_CLIENT_CAPABILITY)
        reply = await rig.send(
            "subscriptions/listen",
            {"notifications": {"taskIds": [created["taskId"], "not-a-task"]}, "_meta": WITH_TASKS},
            rpc_id=9,
            until=lambda body: body.count(b"data: ") >= 2,
        )
        events = [
            jsonrpc.loads(line[6:])
            for line in reply.body.split(b"\n")
            if line.startswith(b"data: ")
        ]
        assert events[0]["params"]["notifications"] == {"taskIds": [created["taskId"]]}
        assert events[1]["method"] == "notifications/tasks"
        status = events[1]["params"]
        assert (status["taskId"], status["status"]) == (created["taskId"], "completed")
        assert status["result"]["content"][0]["text"] == "worked 0.3s"
        assert status["_meta"]["io.modelcontextprotocol/subscriptionId"] == 9

    modern(scenario, **FAST)
