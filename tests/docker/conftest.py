"""Fixtures for tests that run the base images in a real Docker engine.

No engine answering → the tests skip, unless ``MCPB_REQUIRE_DOCKER=1`` (CI) makes them fail.
Images are built (or reused: same inputs, same key label) by the project's own image build;
bundles are built by ``mcpb build`` from real PyPI/npm packages and the C example, and served to
the containers by a loopback HTTP server on the host (containers use ``--network host``, so no
traffic leaves loopback).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpb.bundle.digest import sha256_file
from mcpb.bundle.platform import Platform, parse_platform
from mcpb.bundler.builder.pipeline import BuildOptions, BuildResult, build
from mcpb.bundler.builder.source import parse_source
from mcpb.bundler.image import engine
from mcpb.bundler.image.build import BuildSettings, ImageResult, build_one
from mcpb.bundler.image.cache import default_cache_dir
from mcpb.bundler.image.labels import provenance
from mcpb.bundler.image.spec import ImageSpec, parse_runtime
from tests.support.ports import free_port as free_port

REPO = Path(__file__).resolve().parents[2]
AMD64 = parse_platform("linux/amd64")
ARM64 = parse_platform("linux/arm64")
TIME_TOOLS = ["convert_time", "get_current_time"]


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine answers, or skip (fail when ``MCPB_REQUIRE_DOCKER=1``)."""
    if engine.engine_answers():
        return
    message = "no Docker engine answers `docker version` (start dockerd)"
    if os.environ.get("MCPB_REQUIRE_DOCKER") == "1":
        pytest.fail(f"MCPB_REQUIRE_DOCKER=1 but {message}")
    pytest.skip(message)


class Images:
    """Base images built on first use, once per session."""

    def __init__(self) -> None:
        self.settings = BuildSettings(
            workspace=REPO,
            cache_dir=default_cache_dir(),
            provenance=provenance(REPO, version("mcpb-bundler")),
        )
        self.built: dict[tuple[str, Platform, tuple[str, ...]], ImageResult] = {}

    def get(
        self, runtime: str, platform: Platform = AMD64, apt_packages: tuple[str, ...] = ()
    ) -> ImageResult:
        key = (runtime, platform, apt_packages)
        if key not in self.built:
            spec = ImageSpec(parse_runtime(runtime), platform, extra_packages=apt_packages)
            self.built[key] = build_one(spec, self.settings)
        return self.built[key]


@pytest.fixture(scope="session")
def images(docker_engine: None) -> Images:
    return Images()


class BundleServer:
    """A loopback HTTP server for a directory of bundles, counting requests per path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits: dict[str, int] = {}
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, bundle: Path) -> str:
        """The URL of ``bundle``, copied under the served root in a folder named by its digest
        (bundles of different builds share file names)."""
        path = f"{sha256_file(bundle)[:16]}/{bundle.name}"
        target = self.root / path
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            shutil.copy2(bundle, target)
        return f"http://127.0.0.1:{self.port}/{path}"

    def hits_of(self, url: str) -> int:
        """How many GETs the server answered for ``url``."""
        return self.hits.get("/" + url.split("/", 3)[3], 0)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def bundle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BundleServer]:
    server = BundleServer(tmp_path_factory.mktemp("served"))
    yield server
    server.close()


class Bundles:
    """Bundles built by ``mcpb build`` on first use, once per session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.results: dict[str, BuildResult] = {}

    def _build(
        self, label: str, source: str, platforms: tuple[Platform, ...], **kw: Any
    ) -> BuildResult:
        if label not in self.results:
            out = self.root / label
            options = BuildOptions(
                source=parse_source(source), platforms=platforms, out_dir=out, **kw
            )
            self.results[label] = build(options)
        return self.results[label]

    def time(self, python: str, platform: Platform = AMD64) -> Path:
        """mcp-server-time from PyPI, vendored for ``python`` (both platforms, built once)."""
        result = self._build(
            f"time-{python}", "pypi:mcp-server-time", (AMD64, ARM64), python=python
        )
        return next(b.path for b in result.bundles if b.platform == platform)

    def everything(self) -> Path:
        """@modelcontextprotocol/server-everything from npm, for amd64."""
        result = self._build("everything", "npm:@modelcontextprotocol/server-everything", (AMD64,))
        return result.bundles[0].path

    def c_example(self) -> Path:
        """examples/c-binary compiled for amd64 by its Makefile."""
        if "c" not in self.results:
            project = self.root / "c-src"
            shutil.copytree(
                REPO / "examples" / "c-binary", project, ignore=shutil.ignore_patterns("bin")
            )
            subprocess.run(
                ["make", "-s", "bin/linux-amd64/mcp-c-server"], cwd=project, check=True, timeout=300
            )
            self._build("c", str(project), (AMD64,))
        return self.results["c"].bundles[0].path


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    return Bundles(tmp_path_factory.mktemp("bundles"))


@dataclass
class Container:
    """A container started by a test; removed (with its anonymous volumes) at the end."""

    cid: str
    port: int
    image: str
    removed: bool = field(default=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self) -> dict[str, Any]:
        return engine.container_state(self.cid)

    def logs(self) -> str:
        return engine.logs(self.cid)

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until ``/ready`` answered 200; fails with the logs if it exits first."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            state = self.state()
            if not state["Running"]:
                pytest.fail(f"container exited {state['ExitCode']} before ready:\n{self.logs()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/ready", timeout=2).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.2)
        pytest.fail(f"not ready after {timeout} s:\n{self.logs()}")

    def wait_exit(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if not state["Running"]:
                return int(state["ExitCode"])
            time.sleep(0.2)
        pytest.fail(f"still running after {timeout} s:\n{self.logs()}")

    def wait_health(self, wanted: str = "healthy", timeout: float = 40.0) -> str:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = str(self.state().get("Health", {}).get("Status", ""))
            if status == wanted:
                return status
            time.sleep(0.5)
        return status


@pytest.fixture
def run_container(docker_engine: None) -> Iterator[Any]:
    """``run_container(image, url, sha, platform=AMD64, env={}, **RunOptions fields)`` →
    Container, on the host network (everything stays on loopback)."""
    started: list[Container] = []

    def run(
        image: str,
        url: str,
        sha256: str,
        *,
        platform: Platform = AMD64,
        env: dict[str, str] | None = None,
        **options: Any,
    ) -> Container:
        port = free_port()
        environment = {"PORT": str(port), "BUNDLE_URL": url, "BUNDLE_SHA256": sha256, **(env or {})}
        run_options = engine.RunOptions(
            env=environment, platform=platform, network="host", **options
        )
        cid = engine.run_detached(image, run_options)
        container = Container(cid, port, image)
        started.append(container)
        return container

    yield run
    for container in started:
        engine.remove(container.cid)
