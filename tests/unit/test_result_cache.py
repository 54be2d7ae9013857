"""The result cache: per identity, fresh for the ttl, successes only, bounded."""

from __future__ import annotations

import orjson

from mcpb.aggregator.result_cache import ResultCache


def key(cache: ResultCache, identity: str, arguments: object) -> tuple[str, str, bytes]:
    made = cache.key(identity, "t", arguments)
    assert made is not None
    return made


def answer(text: str, *, error: bool = False) -> bytes:
    result = {"content": [{"type": "text", "text": text}], "isError": error}
    return orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": result})


def test_entries_are_per_identity_fresh_for_the_ttl_and_only_successes() -> None:
    now = [0.0]
    cache = ResultCache(10, 100, 1 << 20, clock=lambda: now[0])
    alice = key(cache, "sub:alice", {"b": 1, "a": 2})
    cache.put_answer(alice, answer("x"))
    assert cache.get(key(cache, "sub:alice", {"a": 2, "b": 1})) is not None  # key order
    assert cache.get(key(cache, "sub:bob", {"a": 2, "b": 1})) is None  # never shared
    now[0] = 10.0
    assert cache.get(alice) is None  # expired
    cache.put_answer(alice, answer("bad", error=True))
    cache.put_answer(alice, b'{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}}')
    assert cache.get(alice) is None and cache.size == 0


def test_bounded_in_entries_and_bytes_least_recently_used_first() -> None:
    cache = ResultCache(60, 2, 1 << 20)
    keys = [key(cache, "c", i) for i in range(3)]
    for entry in keys[:2]:
        cache.put_answer(entry, answer("x"))
    cache.get(keys[0])  # used: the other one is now the oldest
    cache.put_answer(keys[2], answer("x"))
    assert [cache.get(k) is not None for k in keys] == [True, False, True]
    small = ResultCache(60, 100, 300)  # room for one of the answers below, not two
    small.put_answer(keys[0], answer("y" * 150))
    small.put_answer(keys[1], answer("z" * 150))
    assert small.get(keys[0]) is None and small.get(keys[1]) is not None
    assert small.size == len(orjson.dumps(orjson.loads(answer("z" * 150))["result"]))
