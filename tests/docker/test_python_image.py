"""mcpb-python images in a real Docker engine, serving mcp-server-time from PyPI.

The bundle is served over HTTP from the host on loopback; containers use ``--network host``.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from mcpb.bundle.digest import sha256_file
from mcpb.bundler.image import engine
from mcpb.bundler.image.build import build_one
from tests.docker.conftest import ARM64, TIME_TOOLS
from tests.support.mcp_calls import TOKYO_NOON, list_and_call
from tests.support.servers import mcpb_executable

pytestmark = [pytest.mark.docker, pytest.mark.slow]

LOADER = ["python3", "-I", "/opt/mcpb/loader.py"]


@pytest.mark.parametrize("python", ["3.11", "3.13"])
def test_serves_the_time_bundle_and_turns_healthy(
    python, images, bundles, bundle_server, run_container
) -> None:
    image = images.get(f"python:{python}")
    bundle = bundles.time(python)
    c = run_container(image.refs[0], bundle_server.url(bundle), sha256_file(bundle))
    c.wait_ready()
    tools, text = list_and_call(f"{c.base}/mcp", "convert_time", TOKYO_NOON)
    assert tools == TIME_TOOLS
    assert json.loads(text)["target"]["datetime"].endswith("T21:00:00+09:00")
    assert c.wait_health("healthy") == "healthy"
    assert (
        f"Python {python}"
        in subprocess.run(
            ["docker", "exec", c.cid, "python3", "-V"], capture_output=True, text=True, check=True
        ).stdout
    )


def test_wrong_digest_exits_nonzero_with_the_mismatch_and_runs_nothing(
    images, bundles, bundle_server, run_container
) -> None:
    image = images.get("python:3.13")
    bundle = bundles.time("3.13")
    other = sha256_file(bundles.time("3.13", ARM64))
    url = bundle_server.url(bundle)
    c = run_container(image.refs[0], url, other)
    assert c.wait_exit(60) == 65
    logs = c.logs()
    assert f"SHA256 mismatch: expected {other}, got {sha256_file(bundle)}" in logs
    assert "extracted" not in logs and "serving" not in logs
    assert bundle_server.hits_of(url) >= 1  # it was downloaded, then refused


def _processes(cid: str) -> list[tuple[int, str, str]]:
    """(host pid, state, command) of every process in the container."""
    out = subprocess.run(
        ["docker", "top", cid, "-eo", "pid,stat,uid,args"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[1:]
    rows = []
    for line in out:
        pid, stat, uid, args = line.split(None, 3)
        rows.append((int(pid), stat, f"{uid} {args}"))
    return rows


def test_docker_stop_exits_zero_within_the_grace_period_leaving_no_process(
    images, bundles, bundle_server, run_container
) -> None:
    image = images.get("python:3.13")
    bundle = bundles.time("3.13")
    c = run_container(image.refs[0], bundle_server.url(bundle), sha256_file(bundle))
    c.wait_ready()
    list_and_call(f"{c.base}/mcp", "get_current_time", {"timezone": "UTC"})
    procs = _processes(c.cid)
    commands = " | ".join(p[2] for p in procs)
    assert any("/opt/mcpb/loader.py" in p[2] for p in procs), commands
    assert any("mcp_server_time" in p[2] or "server/main.py" in p[2] for p in procs), commands
    assert not [p for p in procs if p[1].startswith("Z")], commands  # no zombie
    started = time.monotonic()
    engine.stop(c.cid, grace=10)
    elapsed = time.monotonic() - started
    state = c.state()
    assert state["ExitCode"] == 0, c.logs()
    assert not state["OOMKilled"]
    assert elapsed < 10, f"stop took {elapsed:.1f} s: SIGKILL after the grace period"
    alive = [pid for pid, _, _ in procs if Path(f"/proc/{pid}").exists()]
    assert alive == []


def test_read_only_root_tmpfs_user_10001_and_a_cache_volume(
    images, bundles, bundle_server, run_container
) -> None:
    image = images.get("python:3.13")
    bundle = bundles.time("3.13")
    volume = f"mcpb-test-cache-{uuid.uuid4().hex[:8]}"
    args: dict[str, Any] = {
        "read_only": True,
        "tmpfs": ("/tmp",),
        "user": "10001",
        "volumes": ((volume, "/var/cache/mcpb", False),),
    }
    url, sha = bundle_server.url(bundle), sha256_file(bundle)
    made = []
    try:
        first = run_container(image.refs[0], url, sha, **args)
        made.append(first)
        first.wait_ready()
        _, text = list_and_call(f"{first.base}/mcp", "convert_time", TOKYO_NOON)
        assert "21:00:00+09:00" in text
        assert {p[2].split()[0] for p in _processes(first.cid)} == {"10001"}
        code, output = engine.exec_in(first.cid, ["python3", "-c", "open('/opt/mcpb/x', 'w')"])
        assert code != 0 and "Read-only file system" in output
        engine.stop(first.cid)
        assert first.state()["ExitCode"] == 0
        hits = bundle_server.hits_of(url)
        second = run_container(image.refs[0], url, sha, **args)
        made.append(second)
        second.wait_ready()
        assert "using cached tree" in second.logs()
        assert bundle_server.hits_of(url) == hits  # served from the volume
        tools, _ = list_and_call(f"{second.base}/mcp", "get_current_time", {"timezone": "UTC"})
        assert tools == TIME_TOOLS
    finally:
        for container in made:
            engine.remove(container.cid)
        engine.remove_volume(volume)


PROBE = """
import json, os, pathlib, shutil, sys
doc = pathlib.Path("/usr/share/doc")
print(json.dumps({
    "tools": {n: shutil.which(n) for n in ("apt", "apt-get", "dpkg", "pip", "pip3", "perl")},
    "dpkg_db": os.path.exists("/var/lib/dpkg"),
    "man": os.path.exists("/usr/share/man"),
    "docs": sorted({p.name for p in doc.rglob("*") if p.is_file()}) if doc.exists() else [],
    "uid": os.getuid(),
    "python": "%d.%d" % sys.version_info[:2],
    "ca": os.path.getsize("/etc/ssl/certs/ca-certificates.crt"),
}))
"""


@pytest.mark.parametrize("python", ["3.11", "3.13"])
def test_image_is_small_locked_down_and_labelled(python, images) -> None:
    result = images.get(f"python:{python}")
    info = engine.inspect_image(result.refs[0])
    assert info is not None
    assert info.size < 100_000_000, f"{result.refs[0]} is {info.size / 1e6:.1f} MB"
    config = info.config
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == LOADER
    assert config["Healthcheck"]["Test"] == ["CMD", "python3", "-I", "/opt/mcpb/healthcheck.py"]
    assert "/var/cache/mcpb" in config["Volumes"]
    labels = info.labels
    assert labels["org.opencontainers.image.version"] == version("mcpb-bundler")
    assert re.fullmatch(r"[0-9a-f]{40}", labels["org.opencontainers.image.revision"])
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", labels["org.opencontainers.image.created"]
    )
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert labels["io.github.mcpb-toolchain.image-key"] == result.key
    probe = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--read-only",
            "--entrypoint",
            "python3",
            result.refs[0],
            "-I",
            "-c",
            PROBE,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    facts = json.loads(probe.stdout)
    assert facts["tools"] == dict.fromkeys(("apt", "apt-get", "dpkg", "pip", "pip3", "perl"))
    assert not facts["dpkg_db"] and not facts["man"]
    assert set(facts["docs"]) <= {"copyright"}
    assert facts["uid"] == 10001
    assert facts["python"] == python
    assert facts["ca"] > 100_000  # the Mozilla roots, for https:// bundle URLs


def test_a_second_build_reuses_the_image(images) -> None:
    # built back to back (the session's image may predate edits to loader/ in this checkout)
    first = build_one(images.get("python:3.13").spec, images.settings)
    again = build_one(first.spec, images.settings)
    assert again.reused
    assert (again.image_id, again.key) == (first.image_id, first.key)
    assert again.seconds < 60


def test_cli_image_build_reports_json(images) -> None:
    images.get("python:3.13")
    proc = subprocess.run(
        [mcpb_executable(), "image", "build", "-r", "python:3.13", "-p", "amd64", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)
    assert entry["runtime"] == "python:3.13" and entry["platform"] == "linux/amd64"
    assert entry["refs"] == ["mcpb-python:3.13", "mcpb-python:3.13-amd64"]
    assert entry["reused"] is True and 30e6 < entry["size"] < 100e6
    bad = subprocess.run(
        [mcpb_executable(), "image", "build", "-r", "python:3.12"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "no image for Python 3.12" in bad.stderr
