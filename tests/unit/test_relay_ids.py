"""Ids a vMCP gives server→client requests on their way to a client."""

from __future__ import annotations

from mcpb.aggregator.relay import ClientState, Relay
from mcpb.mcphttp import Session


def test_an_upstreams_string_id_is_kept_while_unique_and_numbers_are_renamed() -> None:
    client = ClientState(Session("s", False, "s1"))
    one = Relay(client, "one", "")
    two = Relay(client, "two", "")
    assert client.ask_id("one", one, "user_name") == "user_name"  # the server's chosen key
    assert client.ask_id("two", two, "user_name") == "two-1"  # taken: renamed
    assert client.ask_id("one", one, 0) == "one-2"
    assert client.ask_id("two", two, 0) == "two-3"  # both count from 0: never confused
    assert client.asked["two-1"].upstream_id == "user_name"
    assert client.client_id_for("two", 0) == "two-3"
    client.asked.pop("user_name")
    assert client.ask_id("two", two, "user_name") == "user_name"  # free again


def test_a_generated_id_never_takes_one_in_use() -> None:
    client = ClientState(Session("s", False, "s1"))
    relay = Relay(client, "a", "")
    assert client.ask_id("b", relay, "a-1") == "a-1"
    assert client.ask_id("a", relay, 5) == "a-2"
