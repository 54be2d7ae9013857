"""``mcpb bridge`` as a command: supergateway's flags, CORS and Origin options, failures."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import threading
import time

import httpx

from tests.support.mcp_http import call, headers, initialize, tool_text
from tests.support.servers import bridged, echo_command, mcpb_executable


def test_supergateway_command_line_works_unchanged() -> None:
    args = (
        "--outputTransport",
        "sse",
        "--ssePath",
        "/events",
        "--messagePath",
        "/send",
        "--streamableHttpPath",
        "/rpc",
        "--healthEndpoint",
        "/healthz",
        "--healthEndpoint",
        "/livez",
        "--stateful",
        "--sessionTimeout",
        "60000",
        "--logLevel",
        "info",
    )
    with bridged(echo_command(), *args) as bridge, httpx.Client(timeout=20) as http:
        assert any(line.endswith("/events") for line in bridge.log if "listening on" in line)
        assert http.get(bridge.base_url + "/healthz").text == "ok"
        assert http.get(bridge.base_url + "/livez").text == "ok"
        assert http.get(bridge.base_url + "/health").status_code == 404
        sid = initialize(http, bridge.base_url + "/rpc")
        answer = http.post(bridge.base_url + "/rpc", json=call(1, "echo", {}), headers=headers(sid))
        assert answer.status_code == 200
        with http.stream("GET", bridge.base_url + "/events") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines) == "event: endpoint"
            endpoint = next(lines)
            assert endpoint.startswith("data: /send?sessionId=")


def test_bare_cors_flag_allows_any_origin_and_answers_preflight() -> None:
    with bridged(echo_command(), "--cors") as bridge, httpx.Client(timeout=20) as http:
        sid = initialize(http, bridge.mcp_url)
        origin = "https://app.example"
        hdrs = {**headers(sid), "origin": origin}
        answer = http.post(bridge.mcp_url, json=call(1, "echo", {"c": 1}), headers=hdrs)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "mcp-session-id" in answer.headers["access-control-expose-headers"]
        preflight = http.options(
            bridge.mcp_url,
            headers={"origin": origin, "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 204
        assert "mcp-session-id" in preflight.headers["access-control-allow-headers"]


def test_allow_origin_list_replaces_the_loopback_default() -> None:
    with (
        bridged(echo_command(), "--allow-origin", "https://app.example") as bridge,
        httpx.Client(timeout=20) as http,
    ):
        sid = initialize(http, bridge.mcp_url)
        for origin, status in (
            ("https://app.example", 200),
            ("https://other.example", 403),
            ("http://localhost:3000", 403),
        ):
            hdrs = {**headers(sid), "origin": origin}
            answer = http.post(bridge.mcp_url, json=call(1, "echo", {}), headers=hdrs)
            assert answer.status_code == status, origin


def test_unstartable_command_exits_non_zero_naming_it() -> None:
    result = subprocess.run(
        [mcpb_executable(), "bridge", "--stdio", "/nonexistent/server --flag", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "/nonexistent/server" in result.stderr


def test_port_in_use_exits_non_zero_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [mcpb_executable(), "bridge", "--stdio", echo_command(), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_ready_reports_a_crashing_child_while_health_stays_up() -> None:
    with (
        bridged(echo_command("--fail-start")) as bridge,
        httpx.Client(timeout=20) as http,
    ):
        time.sleep(0.3)
        assert http.get(bridge.base_url + "/health").status_code == 200
        ready = http.get(bridge.base_url + "/ready")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        assert any("exited with code 3" in line for line in bridge.log)
        # restarts back off exponentially: 0.1 s, 0.2 s, 0.4 s, ...
        deadline = time.monotonic() + 5
        delays: list[str] = []
        while time.monotonic() < deadline and len(delays) < 3:
            delays = re.findall(r"restarting the stdio server in ([\d.]+)s", "\n".join(bridge.log))
            time.sleep(0.05)
        assert delays[:3] == ["0.1", "0.2", "0.4"]


def test_ready_is_200_when_the_shared_child_answers() -> None:
    with bridged(echo_command()) as bridge, httpx.Client(timeout=20) as http:
        ready = http.get(bridge.base_url + "/ready")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "sessions": 0, "reason": None}
        sid = initialize(http, bridge.mcp_url)
        assert tool_text(
            http.post(bridge.mcp_url, json=call(1, "pid", {}), headers=headers(sid)).json()
        ).isdigit()


def test_sse_streams_send_keepalive_comments_and_logs_fingerprint_sessions() -> None:
    with (
        bridged(echo_command(), "--keepalive", "0.2") as bridge,
        httpx.Client(timeout=20) as http,
    ):
        sid = initialize(http, bridge.mcp_url)
        hdrs = {**headers(sid), "accept": "text/event-stream"}
        comments = []
        started = time.monotonic()
        with http.stream("GET", bridge.mcp_url, headers=hdrs) as stream:
            for line in stream.iter_lines():
                if line.startswith(":"):
                    comments.append(line)
                if len(comments) >= 3 or time.monotonic() - started > 5:
                    break
        assert comments[0] == ": stream open"
        assert comments[1:] == [": keepalive", ": keepalive"]
        digest = hashlib.sha256(sid.encode()).hexdigest()[:12]
        opened = [line for line in bridge.log if "session opened" in line]
        assert any(f"id sha256:{digest}" in line for line in opened)
        assert not any(sid in line for line in bridge.log)


def test_ready_stays_200_while_a_one_at_a_time_child_is_busy() -> None:
    with bridged(echo_command()) as bridge, httpx.Client(timeout=20) as http:
        sid = initialize(http, bridge.mcp_url)
        with httpx.Client(timeout=20) as other:
            slow = threading.Thread(
                target=other.post,
                args=(bridge.mcp_url,),
                kwargs={"json": call(1, "sleep", {"seconds": 3}), "headers": headers(sid)},
            )
            slow.start()
            time.sleep(0.3)
            started = time.monotonic()
            ready = http.get(bridge.base_url + "/ready")
            assert ready.status_code == 200
            assert time.monotonic() - started < 1.5
            slow.join(10)
