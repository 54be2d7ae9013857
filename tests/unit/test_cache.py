"""The bundle cache: reuse without network, concurrent loaders, nothing extracted on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcpb.bundle.errors import FetchError, IncompatibleError, IntegrityError, UsageError
from mcpb.bundle.platform import Arch, Platform
from mcpb.loader.cache import BundleCache
from mcpb.loader.compat import Machine
from mcpb.loader.config import LoaderConfig
from mcpb.loader.fetch import FetchOptions
from mcpb.loader.obtain import obtain
from tests.support.faulty_http import FaultyServer, faulty_server
from tests.support.loader_bundles import STDIO_SERVER, make_bundle

AMD64_311 = Machine(Platform("linux", Arch.AMD64), "3.11")


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, str]:
    return make_bundle(tmp_path / "b.mcpb", STDIO_SERVER)


def config(url: str, cache: Path, sha: str | None, **kw: object) -> LoaderConfig:
    return LoaderConfig(bundle_url=url, sha256=sha, cache_dir=cache, **kw)  # type: ignore[arg-type]


def entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


def test_second_start_needs_no_network(tmp_path: Path, bundle: tuple[Path, str]) -> None:
    path, sha = bundle
    cache = tmp_path / "cache"
    with faulty_server(FaultyServer(path.read_bytes())) as srv:
        first = obtain(config(srv.url, cache, sha), machine=AMD64_311)
        url = srv.url
        assert len(srv.requests) == 1
    # the server is stopped now: a network access would fail with connection refused
    second = obtain(config(url, cache, sha), machine=AMD64_311)
    assert not first.from_cache
    assert second.from_cache
    assert second.tree == first.tree == cache / "trees" / sha
    assert (second.tree / "server" / "main.py").read_text() == STDIO_SERVER
    assert second.manifest.name == "loader-test"
    assert entries(cache / "staging") == []


def test_cached_bundle_without_tree_is_rechecked(tmp_path: Path, bundle: tuple[Path, str]) -> None:
    path, sha = bundle
    cache = BundleCache(tmp_path / "cache")
    cache.prepare_dirs()
    cache.bundle_path(sha).write_bytes(path.read_bytes()[:-1] + b"X")  # corrupted in place
    once = FetchOptions(attempts=1)
    # The rotten copy is removed and the bundle fetched again (which fails here: no server).
    with pytest.raises(FetchError, match="connection refused"):
        obtain(
            config("http://127.0.0.1:9/unused", cache.root, sha),
            machine=AMD64_311,
            fetch_options=once,
        )
    assert entries(cache.root / "trees") == []
    assert entries(cache.root / "bundles") == []


def test_digest_mismatch_extracts_nothing(tmp_path: Path, bundle: tuple[Path, str]) -> None:
    path, _ = bundle
    cache = tmp_path / "cache"
    wrong = "ab" * 32
    with faulty_server(FaultyServer(path.read_bytes())) as srv, pytest.raises(IntegrityError):
        obtain(config(srv.url, cache, wrong), machine=AMD64_311)
    assert entries(cache / "trees") == []
    assert entries(cache / "bundles") == []
    assert entries(cache / "staging") == []


def test_incompatible_platform_names_both(tmp_path: Path) -> None:
    path, sha = make_bundle(tmp_path / "arm.mcpb", STDIO_SERVER, platform="linux/arm64")
    cache = tmp_path / "cache"
    with pytest.raises(IncompatibleError) as err:
        obtain(config(str(path), cache, sha), machine=AMD64_311)
    assert "built for linux/arm64" in str(err.value)
    assert "this machine is linux/amd64" in str(err.value)
    assert entries(cache / "trees") == []


def test_incompatible_python_names_both(tmp_path: Path) -> None:
    path, sha = make_bundle(tmp_path / "py.mcpb", STDIO_SERVER, python="3.13")
    with pytest.raises(IncompatibleError) as err:
        obtain(config(str(path), tmp_path / "cache", sha), machine=AMD64_311)
    assert "Python 3.13" in str(err.value)
    assert "runs Python 3.11" in str(err.value)
    # the same bundle on a matching machine is accepted
    ok = obtain(
        config(str(path), tmp_path / "cache", sha),
        machine=Machine(Platform("linux", Arch.AMD64), "3.13"),
    )
    assert ok.meta is not None
    assert ok.meta.python == "3.13"


def test_unverified_remote_is_refused_local_trusted(
    tmp_path: Path, bundle: tuple[Path, str]
) -> None:
    path, sha = bundle
    cache = tmp_path / "cache"
    with pytest.raises(UsageError, match="SHA-256 is required"):
        obtain(config("http://127.0.0.1:9/b.mcpb", cache, None), machine=AMD64_311)
    with pytest.raises(UsageError):
        obtain(config(str(path), cache, None), machine=AMD64_311)  # images: no trust
    local = obtain(config(str(path), cache, None, local=True), machine=AMD64_311)
    assert local.sha256 == sha


def test_allow_unverified_warns_loudly(
    tmp_path: Path, bundle: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, sha = bundle
    with faulty_server(FaultyServer(path.read_bytes())) as srv:
        got = obtain(
            config(srv.url, tmp_path / "c", None, allow_unverified=True), machine=AMD64_311
        )
    assert got.sha256 == sha
    assert any("WITHOUT checking its SHA-256" in r.getMessage() for r in caplog.records)


OBTAIN = """
import json, sys
from pathlib import Path
from mcpb.loader.obtain import obtain
from mcpb.loader.config import LoaderConfig
from mcpb.loader.fetch import FetchOptions
import time
start = time.time()
got = obtain(LoaderConfig(bundle_url=sys.argv[1], sha256=sys.argv[2], cache_dir=Path(sys.argv[3])))
out = {"tree": str(got.tree), "from_cache": got.from_cache, "start": start, "end": time.time()}
print(json.dumps(out))
"""


def test_two_loaders_at_once_share_one_download(tmp_path: Path) -> None:
    path, sha = make_bundle(tmp_path / "b.mcpb", STDIO_SERVER)
    cache = tmp_path / "cache"
    # the first download stalls, so the second process arrives while the first holds the lock
    state = FaultyServer(path.read_bytes(), plan=["stall"], stall=2.0)
    with faulty_server(state) as srv:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OBTAIN, srv.url, sha, str(cache)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            results.append(json.loads(out))
        assert len(srv.requests) == 1  # one download for both
    # both were inside obtain() at the same time: the second waited on the first's lock
    assert max(r["start"] for r in results) < min(r["end"] for r in results)
    assert {r["tree"] for r in results} == {str(cache / "trees" / sha)}
    assert sorted(r["from_cache"] for r in results) == [False, True]
    assert entries(cache / "trees") == [sha]
    assert entries(cache / "bundles") == [f"{sha}.mcpb"]
    assert entries(cache / "staging") == []
    tree = cache / "trees" / sha
    assert (tree / "server" / "main.py").read_text() == STDIO_SERVER
    assert not [p for p in (cache / "trees").iterdir() if p.name.startswith(".")]


def test_lock_serialises_holders(tmp_path: Path) -> None:
    cache = BundleCache(tmp_path)
    sha = "cd" * 32
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from mcpb.loader.cache import "
            "BundleCache\nwith BundleCache(Path(sys.argv[1])).lock(sys.argv[2]):\n"
            "    print('locked', flush=True); time.sleep(0.8)",
            str(tmp_path),
            sha,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    with cache.lock(sha):
        waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert waited > 0.4


def test_manifest_platforms_without_linux_is_refused(tmp_path: Path) -> None:
    from tests.support.loader_bundles import manifest

    data = manifest(compatibility={"platforms": ["darwin", "win32"]})
    path, sha = make_bundle(tmp_path / "mac.mcpb", STDIO_SERVER, manifest_data=data)
    with pytest.raises(IncompatibleError, match=r"\[darwin, win32\], this machine is linux"):
        obtain(config(str(path), tmp_path / "cache", sha), machine=AMD64_311)
    assert entries(tmp_path / "cache" / "trees") == []


def test_failed_download_resumes_on_the_next_start(tmp_path: Path) -> None:
    from mcpb.bundle.errors import FetchError

    path, sha = make_bundle(tmp_path / "b.mcpb", STDIO_SERVER)
    body = path.read_bytes()
    cache = tmp_path / "cache"
    # every attempt of the first start is cut short: it fails, keeping what it got
    plan = ["short"] * 5
    fast = FetchOptions(backoff_initial=0.01, backoff_max=0.01)
    with faulty_server(FaultyServer(body, plan=plan)) as srv, pytest.raises(FetchError):
        obtain(config(srv.url, cache, sha), machine=AMD64_311, fetch_options=fast)
    kept = (cache / "staging" / f"{sha}.partial").stat().st_size
    assert 0 < kept < len(body)
    with faulty_server(FaultyServer(body)) as srv:
        got = obtain(config(srv.url, cache, sha), machine=AMD64_311)
        assert srv.requests[0]["Range"] == f"bytes={kept}-"
    assert (got.tree / "server" / "main.py").read_text() == STDIO_SERVER
    assert entries(cache / "staging") == []
