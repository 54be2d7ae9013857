"""Server→client requests and logging in shared mode reach a client only when it is certain.

The reproduction of a routing bug: a server whose tool ``ask {delay}`` sleeps, logs, then sends
``elicitation/create`` with a fixed message. Client A calls ``ask {delay: 1.0}`` at t=0, client B
``ask {delay: 0.1}`` at t=0.2. Guessing sent both questions to A (the oldest call) and gave B
A's answer. Now, in shared mode, B's question arrives while both clients have calls in flight,
so the bridge refuses it (the tool sees an error naming ``--stateful``) and drops B's log line;
A's question arrives once B is done and reaches A. In stateful mode each client gets its own.
Real ``mcpb bridge`` subprocess, real Python SDK clients.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
from typing import Any, Literal

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult, LoggingMessageNotificationParams

from tests.support.servers import SUPPORT, Bridge, bridged

ASKING_SERVER = shlex.join([sys.executable, "-I", "-S", str(SUPPORT / "asking_server.py")])


class Peer:
    """One client: the questions and log lines it saw, and its tool result."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.questions: list[str] = []
        self.logs: list[Any] = []
        self.result = ""

    async def on_elicitation(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params.message)
        return ElicitResult(action="accept", content={"who": self.name})

    async def on_log(self, params: LoggingMessageNotificationParams) -> None:
        self.logs.append(params.data)

    async def call(
        self,
        url: str,
        delay: float,
        start: float,
        connected: asyncio.Barrier,
        mode: Literal["legacy", "auto"] = "legacy",
    ) -> None:
        client = Client(
            url,
            elicitation_callback=self.on_elicitation,
            logging_callback=self.on_log,
            log_level="debug",  # 2026-07-28: each request asks for its logs
            mode=mode,  # legacy by default: sessions are what the attribution rules are about
        )
        async with client:
            await connected.wait()
            await asyncio.sleep(start)
            result = await client.call_tool("ask", {"delay": delay})
            (content,) = result.content
            self.result = getattr(content, "text", "")


def _run_pair(bridge: Bridge, mode: Literal["legacy", "auto"] = "legacy") -> tuple[Peer, Peer]:
    a, b = Peer("A"), Peer("B")

    async def both() -> None:
        connected = asyncio.Barrier(2)
        await asyncio.gather(
            a.call(bridge.mcp_url, 1.0, 0.0, connected, mode),
            b.call(bridge.mcp_url, 0.1, 0.2, connected, mode),
        )

    asyncio.run(asyncio.wait_for(both(), 30))
    return a, b


def test_shared_mode_never_hands_one_clients_question_to_another() -> None:
    with bridged(ASKING_SERVER) as bridge:
        for _ in range(2):
            a, b = _run_pair(bridge)
            # B's question came while A's call was also in flight: refused, never sent to A.
            assert b.questions == []
            assert b.result.startswith("refused: bridge: several client sessions")
            assert "--stateful" in b.result
            # A's question came when only A was waiting: it reached A, exactly once.
            assert a.questions == ["Who are you?"]
            assert a.result == "answer: A"
            # Log lines follow the same rule: B's was dropped, not broadcast to A.
            assert a.logs == ["asking"]
            assert b.logs == []
    assert any("refused elicitation/create" in line for line in bridge.log)


@pytest.mark.parametrize("mode", [(), ("--stateful",)], ids=["shared", "stateful"])
def test_2026_calls_follow_the_same_rule(mode: tuple[str, ...]) -> None:
    # 2026-07-28 requests have no session, and all go to one child (stateful mode too): B's
    # question, asked while both calls were in flight, is refused without a --stateful hint
    # (it would not help); A's, asked when only A's call was, reaches A as input_required.
    with bridged(ASKING_SERVER, *mode) as bridge:
        a, b = _run_pair(bridge, "auto")
    assert b.questions == []
    assert b.result.startswith("refused: bridge: several client sessions")
    assert "--stateful" not in b.result
    assert b.result.endswith("2026-07-28 requests have no session, so they share one child")
    assert (a.questions, a.result) == (["Who are you?"], "answer: A")
    assert (a.logs, b.logs) == (["asking"], [])


def test_stateful_mode_gives_each_client_its_own_question() -> None:
    with bridged(ASKING_SERVER, "--stateful") as bridge:
        a, b = _run_pair(bridge)
    assert (a.questions, a.result, a.logs) == (["Who are you?"], "answer: A", ["asking"])
    assert (b.questions, b.result, b.logs) == (["Who are you?"], "answer: B", ["asking"])


@pytest.mark.parametrize("mode", [(), ("--stateful",)], ids=["shared", "stateful"])
def test_a_lone_client_is_a_certain_owner(mode: tuple[str, ...]) -> None:
    # One session, nothing else in flight: shared mode routes exactly like stateful mode.
    with bridged(ASKING_SERVER, *mode) as bridge:
        peer = Peer("solo")

        async def one() -> None:
            await peer.call(bridge.mcp_url, 0.0, 0.0, asyncio.Barrier(1))

        asyncio.run(asyncio.wait_for(one(), 30))
    assert (peer.questions, peer.result, peer.logs) == (
        ["Who are you?"],
        "answer: solo",
        ["asking"],
    )
