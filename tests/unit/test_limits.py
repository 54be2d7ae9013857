"""Token buckets and quotas of a vMCP, asserted exactly on an injected clock."""

from __future__ import annotations

import pytest

from mcpb.aggregator.limits import RATE_LIMITED, Limiter, Rate, RateLimitedError


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def calls(limiter: Limiter, client: str, n: int, target: str = "up/tool") -> int:
    """How many of ``n`` calls in a row are admitted."""
    admitted = 0
    for i in range(n):
        try:
            limiter.admit(client, "tools/call", target, i)
        except RateLimitedError:
            continue
        admitted += 1
    return admitted


def test_the_nth_call_is_refused_and_the_bucket_refills_evenly() -> None:
    clock = Clock()
    limiter = Limiter("dev", rate=Rate.parse("3/minute"), clock=clock)
    assert calls(limiter, "ci", 3) == 3
    with pytest.raises(RateLimitedError) as err:
        limiter.admit("ci", "tools/call", "up/tool", 7)
    refused = err.value
    assert refused.status == 429 and refused.code == RATE_LIMITED and refused.rpc_id == 7
    assert refused.headers == [(b"retry-after", b"20")]  # one token every 20 s
    assert refused.text == "vmcp dev: rate 3/minute exceeded by ci; retry in 20 s"
    assert calls(limiter, "bot", 3) == 3  # per client
    clock.now += 19.9
    assert calls(limiter, "ci", 1) == 0
    clock.now += 0.1
    assert calls(limiter, "ci", 2) == 1  # exactly one token came back
    clock.now += 600
    assert calls(limiter, "ci", 5) == 3  # never more than the burst


def test_only_calls_count() -> None:
    limiter = Limiter("dev", rate=Rate.parse("1/hour"), clock=Clock())
    for method in ("initialize", "tools/list", "ping", "completion/complete"):
        for _ in range(5):
            limiter.admit("ci", method, None, 1)
    limiter.admit("ci", "prompts/get", None, 1)
    with pytest.raises(RateLimitedError):
        limiter.admit("ci", "resources/read", None, 2)


def test_tool_patterns_quota_windows_and_the_total() -> None:
    clock = Clock(86400.0 * 100 + 3600)  # 01:00 UTC
    limiter = Limiter(
        "dev",
        tools={"*/expensive_*": Rate.parse("2/minute")},
        quota=Rate.parse("5/day"),
        total=Rate.parse("100/second"),
        clock=clock,
    )
    assert calls(limiter, "ci", 3, "up/expensive_report") == 2
    assert calls(limiter, "ci", 3, "up/cheap") == 3  # the pattern does not apply; the quota does
    with pytest.raises(RateLimitedError) as err:
        limiter.admit("ci", "tools/call", "up/cheap", 1)
    assert err.value.text.startswith("vmcp dev: quota 5/day exceeded by ci")
    assert err.value.retry_after == 23 * 3600  # until the next UTC day
    clock.now += 23 * 3600
    assert calls(limiter, "ci", 1, "up/cheap") == 1  # a new window
    total = Limiter("dev", total=Rate.parse("2/second"), clock=Clock())
    assert calls(total, "a", 1) + calls(total, "b", 1) == 2
    with pytest.raises(RateLimitedError) as shared:
        total.admit("c", "tools/call", "up/t", 1)
    assert "total 2/second exceeded by every client" in shared.value.text


def test_a_refused_call_costs_nothing() -> None:
    clock = Clock()
    limiter = Limiter(
        "dev", rate=Rate.parse("10/minute"), tools={"up/t": Rate.parse("1/minute")}, clock=clock
    )
    assert calls(limiter, "ci", 1, "up/t") == 1
    assert calls(limiter, "ci", 5, "up/t") == 0  # refused by the tool limit...
    assert calls(limiter, "ci", 20, "up/other") == 9  # ...without spending the rate's tokens


@pytest.mark.parametrize("text", ["0/minute", "10/week", "ten/second", "5"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(ValueError, match="expected N/second"):
        Rate.parse(text)
