"""Hostile manifests, archives, URLs and caches: one-line errors and the documented statuses.

Every case here once ended in a traceback (or worse, was accepted); each asserts the status,
the message and what is left behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mcpb.bundle.archive import Entry
from mcpb.bundle.errors import ArchiveError, FetchError
from mcpb.bundle.extract import open_bundle
from mcpb.bundle.meta import pack_bundle
from mcpb.loader.config import LoaderConfig
from mcpb.loader.fetch import FetchOptions, fetch
from mcpb.loader.obtain import obtain
from tests.support.faulty_http import FaultyServer, faulty_server
from tests.support.hostile import RawMember, raw_zip
from tests.support.loader_bundles import free_port, loader_env, make_bundle, manifest
from tests.support.manifests import minimal_manifest
from tests.support.servers import mcpb_executable

pytestmark = pytest.mark.abuse

DEEP = "[" * 20_000 + "]" * 20_000


def mcpb(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mcpb_executable(), *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def deep_bundle(path: Path) -> Path:
    body = json.dumps(minimal_manifest())[:-1] + f', "x": {DEEP}}}'
    path.write_bytes(raw_zip([RawMember("manifest.json", body.encode())]))
    return path


@pytest.mark.parametrize("command", ["unpack", "validate", "info"])
def test_a_deeply_nested_manifest_is_one_line_error_for_every_command(
    tmp_path: Path, command: str
) -> None:
    bundle = deep_bundle(tmp_path / "deep.mcpb")
    done = mcpb(command, str(bundle), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "nested too deeply" in lines[0], done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.mcpb"]  # nothing written


def test_the_loader_calls_a_deeply_nested_manifest_an_invalid_bundle(tmp_path: Path) -> None:
    bundle = deep_bundle(tmp_path / "deep.mcpb")
    from mcpb.bundle.digest import sha256_file

    env = loader_env(
        BUNDLE_URL=str(bundle),
        BUNDLE_SHA256=sha256_file(bundle),
        PORT=str(free_port()),
        MCPB_CACHE_DIR=str(tmp_path / "cache"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "mcpb.loader"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 66, done.stderr
    assert "nested too deeply" in done.stderr and "Traceback" not in done.stderr


def test_a_command_that_climbs_out_of_the_bundle_is_invalid(tmp_path: Path) -> None:
    data = manifest()
    data["server"]["mcp_config"]["command"] = "${__dirname}/../../../bin/sh"
    path, sha = make_bundle(tmp_path / "escape.mcpb", "print('x')\n", manifest_data=data)
    done = mcpb("validate", str(path))
    assert done.returncode == 1
    assert "server.mcp_config.command" in done.stderr + done.stdout
    assert "leaves the bundle" in done.stderr + done.stdout
    env = loader_env(
        BUNDLE_URL=str(path),
        BUNDLE_SHA256=sha,
        PORT=str(free_port()),
        MCPB_CACHE_DIR=str(tmp_path / "cache"),
    )
    ran = subprocess.run(
        [sys.executable, "-m", "mcpb.loader"], env=env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 66 and "leaves the bundle" in ran.stderr


def test_unpack_into_the_current_directory(tmp_path: Path) -> None:
    path, _ = make_bundle(tmp_path / "b.mcpb", "print('x')\n")
    here = tmp_path / "here"
    here.mkdir()
    done = mcpb("unpack", str(path), ".", cwd=here)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in here.iterdir()) == ["manifest.json", "server"]
    again = mcpb("unpack", str(path), ".", cwd=here)
    assert again.returncode == 2
    assert again.stderr.strip() == f"mcpb: error: {here}: directory is not empty"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:port/b.mcpb", "http://127.0.0.1:99999/b.mcpb", "http://[::1/b.mcpb"]
)
def test_a_url_with_a_bad_port_or_host_is_a_fetch_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(FetchError) as err:
        fetch(url, tmp_path / "b.mcpb", options=FetchOptions(attempts=1))
    assert str(err.value).startswith("http://")
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_to_a_bad_port_is_a_fetch_error(tmp_path: Path) -> None:
    state = FaultyServer(b"x" * 100, plan=["redirect-badport"])
    with faulty_server(state) as srv, pytest.raises(FetchError, match="port is not a number"):
        fetch(srv.url, tmp_path / "b.mcpb", options=FetchOptions(attempts=1))
    assert list(tmp_path.iterdir()) == []


def test_the_loader_exits_69_for_a_bad_port(tmp_path: Path) -> None:
    env = loader_env(
        BUNDLE_URL="http://127.0.0.1:http/b.mcpb",
        BUNDLE_SHA256="ab" * 32,
        PORT=str(free_port()),
        MCPB_CACHE_DIR=str(tmp_path / "cache"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "mcpb.loader"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 69, done.stderr
    assert "port is not a number" in done.stderr and "Traceback" not in done.stderr


def test_a_trickling_download_hits_the_deadline(tmp_path: Path) -> None:
    state = FaultyServer(b"y" * 200, plan=["trickle"], trickle=0.02)
    with faulty_server(state) as srv:
        options = FetchOptions(deadline=1.0, read_timeout=5, attempts=1)
        with pytest.raises(FetchError, match=r"took longer than 1s \(\d+ bytes received\)"):
            fetch(srv.url, tmp_path / "b.mcpb", options=options)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupted_cached_bundle_is_fetched_again(tmp_path: Path) -> None:
    good, sha = make_bundle(tmp_path / "good.mcpb", "print('x')\n")
    cache = tmp_path / "cache"
    with faulty_server(FaultyServer(good.read_bytes())) as srv:
        config = LoaderConfig(bundle_url=srv.url, sha256=sha, cache_dir=cache)
        first = obtain(config)
        bundle_file = cache / "bundles" / f"{sha}.mcpb"
        assert bundle_file.is_file()
        # The tree goes away (a cleanup) and the cached file rots.
        import shutil

        shutil.rmtree(first.tree)
        bundle_file.write_bytes(b"rotten" + bundle_file.read_bytes()[6:])
        again = obtain(config)
        assert not again.from_cache and again.tree.is_dir()
        assert len(srv.requests) == 2  # fetched again instead of failing forever
    with open_bundle(bundle_file) as healed:
        assert healed.manifest_data["name"] == "loader-test"


def test_the_proxy_appends_the_peer_to_a_forged_forwarded_for(tmp_path: Path) -> None:
    import asyncio

    import httpx

    from mcpb.loader.proxy import ProxyApp
    from mcpb.mcphttp.serve import serve_app

    seen: list[str] = []

    class Upstream(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.headers.get("X-Forwarded-For", ""))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    async def scenario() -> None:
        app = ProxyApp("127.0.0.1", server.server_address[1], is_alive=lambda: True)
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            serve_app(app, "127.0.0.1", 0, listening=lambda _h, p: bound.set_result(p))
        )
        port = await bound
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/x", headers={"x-forwarded-for": "6.6.6.6"})
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(scenario())
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["6.6.6.6, 127.0.0.1"]


def test_a_bundle_of_the_reference_layout_still_opens(tmp_path: Path) -> None:
    """The stricter layout checks accept what our writer (and every zip tool) produces."""
    info = pack_bundle(
        minimal_manifest(),
        [Entry.from_bytes("server/main.py", b"print(1)\n")],
        tmp_path / "ok.mcpb",
    )
    with open_bundle(info.path) as bundle:
        assert (
            bundle.names() == ["manifest.json", "server/main.py"]
            or "server/main.py" in bundle.names()
        )
    import zipfile

    with zipfile.ZipFile(tmp_path / "z.mcpb", "w") as z:  # data descriptors, as streams write
        z.writestr("manifest.json", json.dumps(minimal_manifest()))
    with open_bundle(tmp_path / "z.mcpb") as bundle:
        assert "manifest.json" in bundle.names()
    with pytest.raises(ArchiveError):
        open_bundle(tmp_path / "missing.mcpb")
