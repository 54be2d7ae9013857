"""Rate limits end to end: the n-th call of a client is refused with 429, Retry-After and a
JSON-RPC error naming the limit and the client; lists are never counted; clients have their
own buckets; a session answers only the identity that opened it."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.aggregator import Aggregator, aggregating, write_config
from tests.support.mcp_http import headers, initialize
from tests.support.recorder import Recorder
from tests.support.servers import echo_command

KEYS = {"ci": "ci-key-for-limits", "bot": "bot-key-for-limits"}
CLIENTS = {
    name: {"key_sha256": hashlib.sha256(key.encode()).hexdigest()} for name, key in KEYS.items()
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aggregator]:
    config = {
        "clients": CLIENTS,
        "upstreams": {"a": {"stdio": echo_command()}},
        "vmcps": {
            "lim": {
                "select": [{"upstreams": ["a"]}],
                "auth": {"keys": ["ci", "bot"]},
                "limits": {"rate": "3/minute", "tools": {"a/progress": "1/hour"}},
            }
        },
    }
    with aggregating(write_config(tmp_path_factory.mktemp("limits"), config)) as running:
        running.wait_for({"a": "up"})
        yield running


def client(name: str) -> httpx.Client:
    return httpx.Client(headers={"authorization": f"Bearer {KEYS[name]}"}, timeout=30)


def call(http: httpx.Client, url: str, session: str, n: int, tool: str = "a__echo") -> Any:
    body = {
        "jsonrpc": "2.0",
        "id": n,
        "method": "tools/call",
        "params": {"name": tool, "arguments": {"n": n}},
    }
    return http.post(url, json=body, headers=headers(session))


def test_the_fourth_call_is_429_and_lists_do_not_count(limited: Aggregator) -> None:
    url = limited.url("lim")
    with client("ci") as http:
        session = initialize(http, url)
        listing = {"jsonrpc": "2.0", "id": "l", "method": "tools/list"}
        for _ in range(10):
            assert http.post(url, json=listing, headers=headers(session)).status_code == 200
        assert [call(http, url, session, n).status_code for n in range(3)] == [200, 200, 200]
        refused = call(http, url, session, 3)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "20"
        error = refused.json()
        assert error["id"] == 3
        assert error["error"]["code"] == -32029
        assert error["error"]["message"] == (
            "vmcp lim: rate 3/minute exceeded by ci; retry in 20 s"
        )
    with client("bot") as http:  # its own bucket
        session = initialize(http, url)
        assert call(http, url, session, 0).status_code == 200
        assert call(http, url, session, 1, "a__progress").status_code == 200
        tool_limited = call(http, url, session, 2, "a__progress")
        assert tool_limited.status_code == 429
        assert "tools[a/progress] 1/hour exceeded by bot" in tool_limited.json()["error"]["message"]


def test_a_session_answers_only_the_identity_that_opened_it(limited: Aggregator) -> None:
    url = limited.url("lim")
    with client("ci") as ci:
        session = initialize(ci, url)
    with client("bot") as bot:
        listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        stolen = bot.post(url, json=listing, headers=headers(session))
        assert stolen.status_code == 403
        assert stolen.json()["error"]["message"] == (
            "vmcp lim: this session belongs to another identity"
        )


def test_limits_are_checked_in_the_configuration(tmp_path: Path) -> None:
    from mcpb.aggregator.config_file import validate
    from mcpb.aggregator.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        validate({"vmcps": {"v": {"limits": {"rate": "10/week"}}}}, "file.yaml")
    assert str(err.value).startswith("file.yaml: vmcps.v.limits.rate: ")


def test_another_identity_can_neither_listen_to_nor_end_a_session(limited: Aggregator) -> None:
    url = limited.url("lim")
    with client("ci") as ci:
        session = initialize(ci, url)
        with client("bot") as bot:
            stream = bot.get(url, headers={**headers(session), "accept": "text/event-stream"})
            assert stream.status_code == 403
            assert bot.delete(url, headers=headers(session)).status_code == 403
        listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        assert ci.post(url, json=listing, headers=headers(session)).status_code == 200


def test_a_tool_allow_list_hides_and_refuses(tmp_path: Path) -> None:
    config = {
        "clients": CLIENTS,
        "upstreams": {"a": {"stdio": echo_command()}},
        "vmcps": {
            "acl": {
                "select": [{"upstreams": ["a"]}],
                "auth": {"keys": ["ci", "bot"]},
                "access": {"bot": {"tools": ["a/echo"]}},
            }
        },
    }
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"a": "up"})
        url = running.url("acl")
        listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        with client("ci") as http:  # no entry: every selected tool
            session = initialize(http, url)
            everything = http.post(url, json=listing, headers=headers(session)).json()
            assert len(everything["result"]["tools"]) > 1
        with client("bot") as http:
            session = initialize(http, url)
            seen = http.post(url, json=listing, headers=headers(session)).json()
            assert [t["name"] for t in seen["result"]["tools"]] == ["a__echo"]
            assert call(http, url, session, 1).status_code == 200
            hidden = call(http, url, session, 2, "a__progress").json()
            assert hidden["error"] == {"code": -32602, "message": "Unknown tool: a__progress"}


def test_an_upstream_at_its_concurrency_limit_answers_503(tmp_path: Path) -> None:
    config = {
        "upstreams": {"a": {"stdio": echo_command(), "max_concurrency": 1, "queue": 0}},
        "vmcps": {"one": {"select": [{"upstreams": ["a"]}]}},
    }
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"a": "up"})
        url = running.url("one")
        with httpx.Client(timeout=30) as http:
            session = initialize(http, url)
            slow = {
                "jsonrpc": "2.0",
                "id": "slow",
                "method": "tools/call",
                "params": {"name": "a__sleep", "arguments": {"seconds": 1.5}},
            }
            holder = threading.Thread(
                target=lambda: http.post(url, json=slow, headers=headers(session))
            )
            holder.start()
            time.sleep(0.5)
            busy = call(http, url, session, 1)
            holder.join()
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "1"
            assert busy.json()["error"]["message"] == (
                "upstream a is busy: 1 calls at once and 0 waiting"
            )
            assert call(http, url, session, 2).status_code == 200  # the slot came back


def test_read_only_results_are_cached_per_identity_for_the_ttl(tmp_path: Path) -> None:
    recorder = Recorder()
    config = {
        "clients": CLIENTS,
        "upstreams": {"rec": {"url": recorder.url}},
        "vmcps": {
            "cached": {
                "select": [{"upstreams": ["rec"]}],
                "auth": {"keys": ["ci", "bot"]},
                "cache": {"ttl": 1.0},
            }
        },
    }

    def upstream_calls() -> int:
        return recorder.methods.count("tools/call")

    try:
        with aggregating(write_config(tmp_path, config)) as running:
            running.wait_for({"rec": "up"})
            url = running.url("cached")
            with client("ci") as ci, client("bot") as bot:
                ci_session, bot_session = initialize(ci, url), initialize(bot, url)
                texts = []
                for http, session in ((ci, ci_session), (ci, ci_session), (bot, bot_session)):
                    answer = call(http, url, session, 7, "rec__hello").json()
                    texts.append(answer["result"]["content"][0]["text"])
                assert texts == ["hi", "hi", "hi"]
                assert upstream_calls() == 2  # ci's second call was served from ci's entry
                body = {  # other arguments: another entry
                    "jsonrpc": "2.0",
                    "id": 8,
                    "method": "tools/call",
                    "params": {"name": "rec__hello", "arguments": {"other": True}},
                }
                assert ci.post(url, json=body, headers=headers(ci_session)).status_code == 200
                assert upstream_calls() == 3
                time.sleep(1.1)  # the ttl passes
                call(ci, url, ci_session, 9, "rec__hello")
                assert upstream_calls() == 4
    finally:
        recorder.close()
