"""Many clients, many sessions, dying children: the bridge's process model under pressure."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

import httpx
import pytest

from tests.support.mcp_http import (
    ainitialize,
    call,
    headers,
    initialize,
    initialize_body,
    tool_text,
)
from tests.support.servers import bridged, descendants, echo_command

MODES = [pytest.param((), id="shared"), pytest.param(("--stateful",), id="stateful")]


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@pytest.mark.parametrize("mode", MODES)
def test_fifty_clients_with_colliding_ids_each_get_their_own_answers(mode) -> None:
    with bridged(echo_command(), *mode) as bridge:

        async def client(index: int, http: httpx.AsyncClient) -> list[tuple[int, dict[str, Any]]]:
            sid = await ainitialize(http, bridge.mcp_url)
            got = []
            for round_ in range(5):
                # every client uses the same ids 1..5 and sends its own arguments
                message = call(round_ + 1, "echo", {"client": index, "round": round_})
                response = await http.post(bridge.mcp_url, json=message, headers=headers(sid))
                assert response.status_code == 200
                body = response.json()
                got.append((body["id"], json.loads(tool_text(body))))
            await http.delete(bridge.mcp_url, headers=headers(sid))
            return got

        async def scenario() -> list[list[tuple[int, dict[str, Any]]]]:
            limits = httpx.Limits(max_connections=60)
            async with httpx.AsyncClient(timeout=30, limits=limits) as http:
                return await asyncio.gather(*(client(i, http) for i in range(50)))

        results = asyncio.run(asyncio.wait_for(scenario(), 90))
        for index, answers in enumerate(results):
            assert answers == [
                (round_ + 1, {"client": index, "round": round_}) for round_ in range(5)
            ]


def shell_server(marker: str) -> str:
    """A stdio server in sh that answers the first request (the bridge gives a new child's
    first request id 1), leaves a grandchild ``sleep MARKER`` in its process group, then
    waits for stdin to close: stopping it cleanly needs the whole group killed."""
    answer = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "result": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "serverInfo": {"name": "sh", "version": "0"},
            },
        }
    )
    return f"read line; printf '%s\\n' '{answer}'; sleep {marker} & exec cat >/dev/null"


def processes_running(argv: list[str]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().split(b"\0")[:-1]
        except OSError:
            continue
        if [part.decode() for part in cmdline] == argv:
            found.append(int(entry))
    return found


@pytest.mark.slow
def test_thousand_stateful_sessions_leave_no_process_behind() -> None:
    """1,000 sessions opened and deleted, 8 at a time: every child and grandchild is gone."""
    marker = str(7000 + os.getpid() % 1000)
    with bridged(shell_server(marker), "--stateful") as bridge:

        async def worker(http: httpx.AsyncClient, count: int) -> int:
            done = 0
            for _ in range(count):
                sid = await ainitialize(http, bridge.mcp_url)
                deleted = await http.delete(bridge.mcp_url, headers=headers(sid))
                assert deleted.status_code == 200
                done += 1
            return done

        async def scenario() -> int:
            async with httpx.AsyncClient(timeout=30) as http:
                counts = await asyncio.gather(*(worker(http, 125) for _ in range(8)))
            return sum(counts)

        assert asyncio.run(asyncio.wait_for(scenario(), 180)) == 1000
        assert wait_until(lambda: not descendants(bridge.pid), 30), descendants(bridge.pid)
        assert wait_until(lambda: not processes_running(["sleep", marker]), 10)
        with httpx.Client(timeout=10) as http:
            ready = http.get(bridge.base_url + "/ready").json()
        assert ready["sessions"] == 0


def test_stopping_a_session_kills_its_whole_process_group() -> None:
    marker = str(8000 + os.getpid() % 1000)
    with bridged(shell_server(marker), "--stateful") as bridge, httpx.Client(timeout=30) as http:
        sid = initialize(http, bridge.mcp_url)
        assert wait_until(lambda: len(processes_running(["sleep", marker])) == 1, 5)
        assert http.delete(bridge.mcp_url, headers=headers(sid)).status_code == 200
        assert wait_until(lambda: not processes_running(["sleep", marker]), 5)
        assert wait_until(lambda: not descendants(bridge.pid), 5)


@pytest.mark.parametrize("mode", MODES)
def test_child_killed_mid_request_fails_it_and_the_next_request_succeeds(mode) -> None:
    with bridged(echo_command(), *mode) as bridge, httpx.Client(timeout=30) as http:
        sid = initialize(http, bridge.mcp_url)
        first_pid = int(
            tool_text(
                http.post(bridge.mcp_url, json=call(1, "pid", {}), headers=headers(sid)).json()
            )
        )
        assert first_pid in descendants(bridge.pid)

        async def scenario() -> dict[str, Any]:
            async with httpx.AsyncClient(timeout=30) as client:
                slow = asyncio.create_task(
                    client.post(
                        bridge.mcp_url, json=call(2, "sleep", {"seconds": 20}), headers=headers(sid)
                    )
                )
                await asyncio.sleep(0.3)
                os.kill(first_pid, signal.SIGKILL)
                body: dict[str, Any] = (await asyncio.wait_for(slow, 10)).json()
                return body

        failed = asyncio.run(scenario())
        assert failed["id"] == 2
        assert failed["error"]["code"] == -32000
        assert "exited" in failed["error"]["message"]

        after = http.post(bridge.mcp_url, json=call(3, "echo", {"ok": True}), headers=headers(sid))
        assert after.status_code == 200
        assert json.loads(tool_text(after.json())) == {"ok": True}
        second_pid = int(
            tool_text(
                http.post(bridge.mcp_url, json=call(4, "pid", {}), headers=headers(sid)).json()
            )
        )
        assert second_pid != first_pid
        # the restarted child was initialised by the bridge (replayed), exactly once
        stats = json.loads(
            tool_text(
                http.post(bridge.mcp_url, json=call(5, "stats", {}), headers=headers(sid)).json()
            )
        )
        assert stats == {"initialize": 1, "initialized": 1}
        assert wait_until(lambda: http.get(bridge.base_url + "/ready").status_code == 200, 10)


def test_shared_child_is_initialised_once_for_many_sessions() -> None:
    with bridged(echo_command()) as bridge, httpx.Client(timeout=30) as http:
        sessions = [initialize(http, bridge.mcp_url) for _ in range(5)]
        answer = http.post(bridge.mcp_url, json=call(1, "stats", {}), headers=headers(sessions[-1]))
        assert json.loads(tool_text(answer.json())) == {"initialize": 1, "initialized": 1}


def test_idle_stateful_session_expires_and_its_child_is_reaped() -> None:
    with (
        bridged(echo_command(), "--stateful", "--sessionTimeout", "1500") as bridge,
        httpx.Client(timeout=30) as http,
    ):
        sid = initialize(http, bridge.mcp_url)
        assert wait_until(lambda: len(descendants(bridge.pid)) == 1, 5)
        assert wait_until(lambda: not descendants(bridge.pid), 10)
        late = http.post(bridge.mcp_url, json=call(1, "echo", {}), headers=headers(sid))
        assert late.status_code == 404


def test_session_limit_answers_503_with_a_clear_body() -> None:
    with (
        bridged(echo_command(), "--stateful", "--max-sessions", "2") as bridge,
        httpx.Client(timeout=30) as http,
    ):
        kept = [initialize(http, bridge.mcp_url) for _ in range(2)]
        refused = http.post(bridge.mcp_url, json=initialize_body(9), headers=headers(version=None))
        assert refused.status_code == 503
        assert "too many sessions" in refused.json()["error"]["message"]
        assert refused.json()["id"] == 9
        assert http.delete(bridge.mcp_url, headers=headers(kept[0])).status_code == 200
        assert initialize(http, bridge.mcp_url)


def test_bridge_stop_reaps_every_child() -> None:
    with bridged(echo_command(), "--stateful") as bridge, httpx.Client(timeout=30) as http:
        for _ in range(3):
            initialize(http, bridge.mcp_url)
        children = descendants(bridge.pid)
        assert len(children) == 3
        assert bridge.stop() == 0
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}")


@pytest.mark.parametrize("mode", MODES)
def test_deleting_a_session_answers_its_request_in_flight(mode) -> None:
    with bridged(echo_command(), *mode) as bridge, httpx.Client(timeout=30) as http:
        sid = initialize(http, bridge.mcp_url)

        async def scenario() -> dict[str, Any]:
            async with httpx.AsyncClient(timeout=30) as client:
                slow = asyncio.create_task(
                    client.post(
                        bridge.mcp_url, json=call(1, "sleep", {"seconds": 3}), headers=headers(sid)
                    )
                )
                await asyncio.sleep(0.3)
                deleted = await client.delete(bridge.mcp_url, headers=headers(sid))
                assert deleted.status_code == 200
                started = time.monotonic()
                body: dict[str, Any] = (await asyncio.wait_for(slow, 10)).json()
                assert time.monotonic() - started < 2
                return body

        answer = asyncio.run(scenario())
        assert answer["id"] == 1
        assert answer["error"]["message"] == "the session ended"
        other = initialize(http, bridge.mcp_url)
        ok = http.post(bridge.mcp_url, json=call(2, "echo", {"n": 2}), headers=headers(other))
        assert json.loads(tool_text(ok.json())) == {"n": 2}


def test_a_server_that_never_answers_initialize_leaves_nothing_behind() -> None:
    with (
        bridged("exec cat >/dev/null", "--stateful", "--init-timeout", "0.5") as bridge,
        httpx.Client(timeout=30) as http,
    ):
        started = time.monotonic()
        response = http.post(bridge.mcp_url, json=initialize_body(1), headers=headers(version=None))
        assert response.status_code == 504
        assert "did not answer initialize" in response.json()["error"]["message"]
        assert response.json()["id"] == 1
        assert "mcp-session-id" not in response.headers
        assert time.monotonic() - started < 5
        assert wait_until(lambda: not descendants(bridge.pid), 5)
