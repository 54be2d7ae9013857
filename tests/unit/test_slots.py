"""Per-upstream concurrency: slots, a bounded queue in arrival order, a bounded wait."""

from __future__ import annotations

import asyncio

import pytest

from mcpb.aggregator.slots import Slots, UpstreamBusyError


def test_slots_queue_in_order_and_refuse_when_full() -> None:
    async def scenario() -> list[str]:
        slots = Slots("db", limit=1, queue=2, timeout=5)
        order: list[str] = []
        await slots.acquire(0)

        async def wait(label: str) -> None:
            await slots.acquire(label)
            order.append(label)

        first = asyncio.create_task(wait("first"))
        second = asyncio.create_task(wait("second"))
        await asyncio.sleep(0.01)
        with pytest.raises(UpstreamBusyError) as err:
            await slots.acquire(9)
        assert err.value.status == 503 and err.value.rpc_id == 9
        assert err.value.headers == [(b"retry-after", b"1")]
        assert err.value.text == "upstream db is busy: 1 calls at once and 2 waiting"
        slots.release()
        await first
        assert slots.busy == 1
        slots.release()
        await second
        slots.release()
        assert slots.busy == 0
        return order

    assert asyncio.run(scenario()) == ["first", "second"]


def test_a_wait_that_runs_out_is_refused_and_leaves_no_slot_behind() -> None:
    async def scenario() -> None:
        slots = Slots("db", limit=1, queue=5, timeout=0.05)
        await slots.acquire(0)
        with pytest.raises(UpstreamBusyError, match=r"no slot within 0\.05 s"):
            await slots.acquire(1)
        slots.release()
        assert slots.busy == 0
        await slots.acquire(2)  # free again
        assert slots.busy == 1

    asyncio.run(scenario())
