"""Rate limits and quotas of one vMCP, per client identity, in memory.

``N/second|minute|hour|day`` is a token bucket of ``N`` calls refilled evenly over the period
(``10/minute``: a burst of ten, then one every six seconds). A quota is a count per fixed window
of the period (``1000/day``: UTC days), reset when the window ends. They count calls —
``tools/call``, ``prompts/get``, ``resources/read`` — never ``initialize``, lists or
notifications.

Per vMCP (``limits`` in its configuration):

* ``rate``: per client identity;
* ``tools``: ``{glob over UPSTREAM/TOOL: rate}``, per client identity and pattern;
* ``quota``: per client identity and window;
* ``total``: the whole vMCP, every client together.

A refused call gets HTTP 429, ``Retry-After`` (whole seconds until a call would be allowed) and
a JSON-RPC error naming the limit and the client. The state lives in this process only (the
scale-out work will share it); the number of identities tracked is bounded, the oldest
forgotten first.
"""

from __future__ import annotations

import fnmatch
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from mcpb.mcphttp.errors import HTTPError

PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
RATE_PATTERN = r"^[1-9][0-9]{0,8}/(second|minute|hour|day)$"
#: The JSON-RPC error code of a refused call (server-defined range).
RATE_LIMITED = -32029
#: Identities (buckets) remembered per limit before the oldest are dropped.
MAX_TRACKED = 100_000
COUNTED = frozenset({"tools/call", "prompts/get", "resources/read"})
_RATE = re.compile(RATE_PATTERN)


@dataclass(frozen=True)
class Rate:
    """``count`` calls per ``period`` seconds; ``text`` is how the configuration wrote it."""

    count: int
    period: float
    text: str

    @classmethod
    def parse(cls, text: str) -> Rate:
        if not _RATE.match(text):
            raise ValueError(f"{text!r}: expected N/second, N/minute, N/hour or N/day")
        count, _, unit = text.partition("/")
        return cls(int(count), PERIODS[unit], text)


class TokenBucket:
    """``rate.count`` tokens at most, refilled at ``count/period`` per second."""

    __slots__ = ("level", "rate", "stamp")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.level = float(rate.count)
        self.stamp = now

    def wait(self, now: float) -> float:
        """0 when a call may go now, else the seconds until one may (refills to ``now``)."""
        per_second = self.rate.count / self.rate.period
        self.level = min(float(self.rate.count), self.level + (now - self.stamp) * per_second)
        self.stamp = now
        return 0.0 if self.level >= 1.0 else (1.0 - self.level) / per_second

    def charge(self) -> None:
        """Count one call (after :meth:`wait` said 0)."""
        self.level -= 1.0


class Window:
    """A quota: ``rate.count`` calls per fixed window of ``rate.period`` seconds (epoch-aligned)."""

    __slots__ = ("rate", "start", "used")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.start = now - now % rate.period
        self.used = 0

    def wait(self, now: float) -> float:
        """0 when the window has room, else the seconds until the next window."""
        if now - self.start >= self.rate.period:
            self.start = now - now % self.rate.period
            self.used = 0
        return 0.0 if self.used < self.rate.count else self.start + self.rate.period - now

    def charge(self) -> None:
        self.used += 1


class _Tracked:
    """One limit's state per key, bounded in entries (the oldest key is forgotten first)."""

    def __init__(self, make: Callable[[float], TokenBucket | Window]) -> None:
        self.make = make
        self.states: dict[str, TokenBucket | Window] = {}

    def get(self, key: str, now: float) -> TokenBucket | Window:
        state = self.states.get(key)
        if state is None:
            if len(self.states) >= MAX_TRACKED:
                self.states.pop(next(iter(self.states)))
            state = self.states[key] = self.make(now)
        return state


class RateLimitedError(HTTPError):
    """429 with ``Retry-After``; the JSON-RPC error names the limit and the client."""

    def __init__(self, text: str, wait: float, rpc_id: object) -> None:
        retry = max(1, math.ceil(wait))
        super().__init__(
            429,
            text,
            rpc_id=rpc_id,
            code=RATE_LIMITED,
            headers=[(b"retry-after", str(retry).encode())],
        )
        self.retry_after = retry


class Limiter:
    """The limits of one vMCP (module docstring); ``clock`` is injectable for tests."""

    def __init__(
        self,
        vmcp: str,
        rate: Rate | None = None,
        tools: dict[str, Rate] | None = None,
        quota: Rate | None = None,
        total: Rate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.vmcp = vmcp
        self.clock = clock
        self._checks: list[tuple[str, Rate, _Tracked, str | None]] = []
        if total is not None:
            self._add("total", total, TokenBucket, None)
        if rate is not None:
            self._add("rate", rate, TokenBucket, None)
        for pattern, tool_rate in (tools or {}).items():
            self._add(f"tools[{pattern}]", tool_rate, TokenBucket, pattern)
        if quota is not None:
            self._add("quota", quota, Window, None)

    def _add(
        self,
        label: str,
        rate: Rate,
        kind: Callable[[Rate, float], TokenBucket | Window],
        pattern: str | None,
    ) -> None:
        self._checks.append((label, rate, _Tracked(lambda now: kind(rate, now)), pattern))

    def admit(self, client: str, method: str, target: str | None, rpc_id: object) -> None:
        """Count one call of ``client`` (``target``: the original ``UPSTREAM/TOOL`` of a tool
        call); raise :class:`RateLimitedError` when a limit refuses it.

        Every applicable limit is checked before any is charged, so a refused call costs
        nothing.
        """
        if method not in COUNTED:
            return
        now = self.clock()
        applicable = [
            check
            for check in self._checks
            if check[3] is None
            or (method == "tools/call" and target and fnmatch.fnmatchcase(target, check[3]))
        ]
        states = []
        for label, rate, tracked, _pattern in applicable:
            state = tracked.get("" if label == "total" else client, now)
            wait = state.wait(now)
            if wait > 0:
                whose = "every client" if label == "total" else client
                raise RateLimitedError(
                    f"vmcp {self.vmcp}: {label} {rate.text} exceeded by {whose}; "
                    f"retry in {max(1, math.ceil(wait))} s",
                    wait,
                    rpc_id,
                )
            states.append(state)
        for state in states:
            state.charge()
