"""The loader's orchestration: obtain a verified bundle, resolve its launch, serve it over HTTP.

Two phases with a clear line between them. :func:`prepare` does everything that can fail on bad
input — digest policy, cache lookup or download, SHA-256 check, compatibility, safe extraction,
manifest and ``user_config`` — and raises a typed error before any server process exists.
:func:`serve` then launches: stdio servers behind the bridge, bundles that declare
``transport: "streamable-http"`` in our ``_meta`` record on an internal loopback port behind
:class:`~mcpb.loader.proxy.ProxyApp`. :func:`run_loader` ties both together and turns every
outcome into an exit code (see :data:`EXIT_CODES`).

Serving contract for HTTP bundles: the server gets ``PORT`` (an internal port), ``HOST``
(``127.0.0.1``) and ``MCP_PATH`` in its environment and must listen there; the loader listens on
the public ``PORT`` and forwards everything but ``/health`` and ``/ready``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from mcpb.bundle.archive import MANIFEST_NAME, SIDECAR_NAME
from mcpb.bundle.digest import check_sha256, sha256_file
from mcpb.bundle.errors import (
    ArchiveError,
    FetchError,
    IncompatibleError,
    IntegrityError,
    ManifestError,
    McpbError,
    PlaceholderError,
    SignatureError,
    UsageError,
)
from mcpb.bundle.meta import BundleMeta, read_meta
from mcpb.loader.cache import BundleCache, CacheError
from mcpb.loader.compat import Machine, check_compatible, manifest_platforms
from mcpb.loader.config import LoaderConfig
from mcpb.loader.fetch import FetchOptions, fetch, is_local, local_path, redact
from mcpb.loader.supervise import STOP_SIGNALS, ServerProcess
from mcpb.loader.trusted_manifest import LaunchManifest, launch_manifest

if TYPE_CHECKING:
    from mcpb.bundle.manifest import Manifest

# Not imported here on purpose (a cached start needs none of them, and the server is spawned
# sooner without them): the manifest models (pydantic), extraction, bytecode compilation.

log = logging.getLogger("mcpb.loader")

EXIT_OK = 0
EXIT_CONFIG = 64  # loader environment / flags invalid, BUNDLE_SHA256 missing
EXIT_DIGEST = 65  # SHA-256 mismatch (nothing was extracted)
EXIT_BUNDLE = 66  # not a valid or safe bundle (archive, manifest, per-file record)
EXIT_INCOMPATIBLE = 67  # built for another platform or Python minor version
EXIT_FETCH = 69  # download failed (network, HTTP status, size limit)
EXIT_INTERNAL = 70  # a bug or an unexpected failure of the loader itself
EXIT_CACHE = 73  # cache directory cannot be created or written
EXIT_USER_CONFIG = 78  # user_config missing or invalid for this bundle

#: Error family → exit code; the first matching class wins (subclasses listed first).
EXIT_CODES: tuple[tuple[type[McpbError], int], ...] = (
    (PlaceholderError, EXIT_USER_CONFIG),
    (UsageError, EXIT_CONFIG),
    (IntegrityError, EXIT_DIGEST),
    (IncompatibleError, EXIT_INCOMPATIBLE),
    (FetchError, EXIT_FETCH),
    (CacheError, EXIT_CACHE),
    (ManifestError, EXIT_BUNDLE),
    (ArchiveError, EXIT_BUNDLE),
    (SignatureError, EXIT_BUNDLE),
)

HTTP_TRANSPORT = "streamable-http"
# The loader's own settings are not the server's: an inherited PORT would make some stdio
# servers bind the bridge's port. HTTP servers get their own PORT/HOST/MCP_PATH explicitly.
_STRIPPED_ENV = frozenset({"BUNDLE_URL", "BUNDLE_SHA256", "PORT", "HOST", "MCP_PATH"})


def exit_code_for(err: McpbError) -> int:
    """The documented exit code of an error family."""
    for cls, code in EXIT_CODES:
        if isinstance(err, cls):
            return code
    return EXIT_INTERNAL


@dataclass(frozen=True)
class Obtained:
    """A verified, extracted bundle in the cache."""

    sha256: str
    tree: Path
    manifest_data: dict[str, Any]
    meta: BundleMeta | None
    from_cache: bool


@dataclass(frozen=True)
class Prepared:
    """Everything needed to start the server; no process exists yet."""

    bundle: Obtained
    manifest: LaunchManifest
    command: list[str]
    env: dict[str, str]
    cwd: Path
    transport: str


def obtain(
    config: LoaderConfig,
    *,
    machine: Machine | None = None,
    fetch_options: FetchOptions | None = None,
) -> Obtained:
    """Fetch (or find in the cache), verify, check and extract the bundle.

    With a known digest and a cached tree nothing touches the network. A digest mismatch raises
    :class:`IntegrityError` before anything is extracted. ``fetch_options`` tunes timeouts and
    retries; the size limit always comes from ``config``.
    """
    machine = machine or Machine.current()
    cache = BundleCache(config.cache_dir)
    cache.prepare_dirs()
    cache.sweep_staging()
    opts = dataclasses.replace(fetch_options or FetchOptions(), max_size=config.max_bundle_size)
    url = config.bundle_url
    shown = url if is_local(url) else redact(url)
    sha = config.sha256
    if sha is None:
        return _obtain_unverified(config, cache, opts, shown, machine)
    with cache.lock(sha):
        fetched = False
        if not cache.has_tree(sha):
            if cache.has_bundle(sha):
                check_sha256(cache.bundle_path(sha), sha)
            else:
                log.info("fetching %s", shown)
                dest = cache.bundle_path(sha)
                partial = cache.staging / f"{sha}.partial"  # ours alone: we hold the sha lock
                fetch(url, dest, expected_sha256=sha, options=opts, partial=partial)
                fetched = True
        return _ensure_tree(cache, sha, shown, machine, fetched=fetched)


def _obtain_unverified(
    config: LoaderConfig, cache: BundleCache, opts: FetchOptions, shown: str, machine: Machine
) -> Obtained:
    """No digest given: allowed loudly, or for a local file the user named (``mcpb run``)."""
    url = config.bundle_url
    if config.allow_unverified:
        log.warning(
            "!!! MCPB_ALLOW_UNVERIFIED=1: running %s WITHOUT checking its SHA-256; "
            "anyone who can change that file controls this server !!!",
            shown,
        )
    elif not (config.trust_local and is_local(url)):
        raise UsageError(f"{shown}: a SHA-256 is required for remote bundles (--sha256)")
    if is_local(url):
        cached = _cached_local(cache, url, shown, machine)
        if cached is not None:
            return cached
    staged = cache.staging / f"{os.getpid()}-{uuid.uuid4().hex}.mcpb"
    computed = fetch(url, staged, options=opts).sha256
    log.info("%s: SHA-256 %s (computed, not verified)", shown, computed)
    with cache.lock(computed):
        if cache.has_bundle(computed):
            staged.unlink(missing_ok=True)
        else:
            staged.replace(cache.bundle_path(computed))
        return _ensure_tree(cache, computed, shown, machine, fetched=True)


def _cached_local(cache: BundleCache, url: str, shown: str, machine: Machine) -> Obtained | None:
    """A local file whose tree is cached: hashed where it lies, nothing copied.

    Only a cache miss needs the copy into staging (extraction must read the very bytes that
    were hashed); a hit reads the file once.
    """
    try:
        sha = sha256_file(local_path(url))
    except OSError:
        return None  # let fetch() report the unreadable file in its own words
    if not cache.has_tree(sha):
        return None
    log.info("%s: SHA-256 %s (computed, not verified)", shown, sha)
    with cache.lock(sha):
        return _ensure_tree(cache, sha, shown, machine, fetched=False)


def _ensure_tree(
    cache: BundleCache, sha: str, shown: str, machine: Machine, *, fetched: bool
) -> Obtained:
    """Extract the cached bundle unless its tree exists; check compatibility first."""
    tree = cache.tree_path(sha)
    if cache.has_tree(sha):
        data = _load_json(tree / MANIFEST_NAME)
        sidecar = tree / SIDECAR_NAME
        meta = read_meta(data, sidecar.read_bytes() if sidecar.is_file() else None, source=shown)
        _check(data, meta, shown, machine)
        log.info("%s: using cached tree %s", shown, tree)
        return Obtained(sha, tree, data, meta, from_cache=not fetched)
    return _fill_tree(cache, sha, shown, machine)


def _fill_tree(cache: BundleCache, sha: str, shown: str, machine: Machine) -> Obtained:
    """First start of a digest (its lock held): extract into staging, validate the manifest,
    byte-compile a Python server that will not cache its own bytecode, then rename the
    finished tree into place.

    Everything that makes later starts cheap happens here, once, before any other loader can
    see the tree: the manifest models run only on this path, and the bytecode is written where
    no server is reading yet.
    """
    import shutil

    from mcpb.bundle.extract import open_bundle, safe_extract
    from mcpb.bundle.manifest import parse_manifest
    from mcpb.loader.bytecode import compile_tree, launch_python, server_writes_bytecode

    tree = cache.tree_path(sha)
    bundle_file = cache.bundle_path(sha)
    with open_bundle(bundle_file) as bundle:
        data, meta = bundle.manifest_data, bundle.meta
    _check(data, meta, shown, machine)
    parse_manifest(data, source=f"{shown}: {MANIFEST_NAME}")
    staged = cache.staging / f"{sha}.{os.getpid()}-{uuid.uuid4().hex}.tree"
    try:
        result = safe_extract(bundle_file, staged)
        log.info("%s: extracted %d files to %s", shown, result.file_count, tree)
        python = launch_python(result.manifest_data, staged)
        if python is not None and not server_writes_bytecode(result.manifest_data, os.environ):
            compile_tree(staged, python, recorded_as=tree)
        try:
            staged.rename(tree)
        except OSError as err:
            where = f"cache {cache.root}: cannot move {tree.name} into place"
            raise CacheError(f"{where}: {err.strerror or err}") from None
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    return Obtained(sha, tree, result.manifest_data, result.meta, from_cache=False)


def _check(data: dict[str, Any], meta: BundleMeta | None, shown: str, machine: Machine) -> None:
    name = str(data.get("name") or shown)
    check_compatible(
        name=name,
        platform=meta.platform if meta else None,
        python=meta.python if meta else None,
        manifest_platforms=manifest_platforms(data),
        machine=machine,
    )


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        raise ArchiveError(f"{path}: cached manifest unreadable ({err})") from None
    if not isinstance(data, dict):
        raise ArchiveError(f"{path}: cached manifest is not a JSON object")
    return data


def user_config_values(
    config: LoaderConfig, manifest: LaunchManifest | Manifest
) -> dict[str, object]:
    """Typed ``user_config`` values: the ``MCPB_USER_CONFIG`` JSON object, overridden per key by
    ``MCPB_USER_CONFIG_<KEY>`` (``<KEY>`` upper-cased, other characters as ``_``).

    Matching and typing are the format library's (:func:`user_config_from_environ`); an
    unknown key is an error, so a typo cannot silently start the server without its value.
    """
    from mcpb.bundle.placeholders import ENV_PREFIX, user_config_from_environ

    environ = {f"{ENV_PREFIX}_{k}": v for k, v in config.user_config_strings.items()}
    if config.user_config:
        environ[ENV_PREFIX] = json.dumps(dict(config.user_config))
    return user_config_from_environ(manifest.user_config, environ)


def prepare(config: LoaderConfig, *, machine: Machine | None = None) -> Prepared:
    """Obtain the bundle, parse its manifest, resolve ``mcp_config`` against ``user_config``."""
    from mcpb.bundle.placeholders import resolve_launch

    bundle = obtain(config, machine=machine)
    manifest = launch_manifest(bundle.manifest_data, source=f"{bundle.tree}/{MANIFEST_NAME}")
    values = user_config_values(config, manifest)
    spec = resolve_launch(
        manifest.mcp_config,
        manifest.user_config,
        values,
        bundle_dir=bundle.tree,
        os_name="linux",
        home=Path.home(),
    )
    transport = (bundle.meta.transport if bundle.meta else None) or "stdio"
    if transport not in ("stdio", HTTP_TRANSPORT):
        raise ArchiveError(f"{manifest.name}: unknown transport {transport!r} in our _meta record")
    env = {k: v for k, v in os.environ.items() if not _loader_only(k)}
    env.update(spec.env)
    return Prepared(
        bundle=bundle,
        manifest=manifest,
        command=[spec.command, *spec.args],
        env=env,
        cwd=spec.cwd,
        transport=transport,
    )


def _loader_only(name: str) -> bool:
    return name in _STRIPPED_ENV or name.startswith("MCPB_")


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on ``host`` for the internal server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def stop_signals(on_stop: Callable[[], None]) -> Generator[None, None, None]:
    """Route SIGTERM/SIGINT to ``on_stop`` (plain handlers, so a server library that swaps
    and later restores and re-raises them still reaches us)."""
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def handler(_signum: int, _frame: FrameType | None) -> None:
        on_stop()

    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


async def serve(config: LoaderConfig, prepared: Prepared) -> int:
    """Run the server until it exits or a stop signal arrives; the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    requested = False

    def on_stop() -> None:
        nonlocal requested
        requested = True
        loop.call_soon_threadsafe(stop.set)

    with stop_signals(on_stop):
        if prepared.transport == HTTP_TRANSPORT:
            code = await _serve_http(config, prepared, stop)
        else:
            code = await _serve_stdio(config, prepared, stop)
        await asyncio.sleep(0)  # a signal re-raised by the server library lands here
    return EXIT_OK if requested else code


async def _serve_stdio(config: LoaderConfig, prepared: Prepared, stop: asyncio.Event) -> int:
    from mcpb.loader.bridge import BridgeConfig, serve_bridge

    bridge_config = BridgeConfig(
        host=config.host,
        port=config.port,
        mcp_path=config.mcp_path,
        kill_grace=config.stop_grace,
        stateful=config.bridge_mode == "stateful",
        max_sessions=config.session_limit,
        session_timeout=config.session_timeout,
    )

    def ready() -> None:
        log.info("serving %s on http://%s:%d%s", prepared.manifest.name, *_where(config))

    task = asyncio.ensure_future(
        serve_bridge(bridge_config, prepared.command, prepared.env, prepared.cwd, ready=ready)
    )
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        try:
            await asyncio.wait_for(task, config.stop_grace + 2)
        except asyncio.CancelledError:
            pass
        except TimeoutError:
            log.error("the bridge did not stop within %.1fs", config.stop_grace + 2)
        return EXIT_OK
    if task.exception() is not None:
        exc = task.exception()
        if isinstance(exc, McpbError):
            raise exc
        log.error("bridge failed: %r", exc)
        return EXIT_INTERNAL
    return EXIT_OK


def _where(config: LoaderConfig) -> tuple[str, int, str]:
    return config.host, config.port, config.mcp_path


async def _serve_http(config: LoaderConfig, prepared: Prepared, stop: asyncio.Event) -> int:
    import uvicorn

    from mcpb.loader.bridge.serve import _QuietServer, bind_socket
    from mcpb.loader.proxy import ProxyApp

    sock = bind_socket(config.host, config.port)  # before the server starts: a busy port fails
    internal = free_port()
    env = dict(prepared.env)
    env.update({"PORT": str(internal), "HOST": "127.0.0.1", "MCP_PATH": config.mcp_path})
    server = ServerProcess(prepared.command, env, prepared.cwd)
    try:
        await server.start()
    except OSError as err:
        sock.close()
        raise UsageError(f"cannot start {prepared.command[0]!r}: {err.strerror}") from None

    def alive() -> bool:
        return server.proc is not None and server.proc.returncode is None

    app = ProxyApp("127.0.0.1", internal, is_alive=alive)
    uv = _QuietServer(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    proxy = asyncio.ensure_future(uv.serve(sockets=[sock]))
    exited = asyncio.ensure_future(server.wait())
    stopper = asyncio.ensure_future(stop.wait())
    log.info(
        "serving %s (its own HTTP server on port %d) on http://%s:%d%s",
        prepared.manifest.name,
        internal,
        *_where(config),
    )
    await asyncio.wait({proxy, exited, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    uv.should_exit = True
    await server.stop(config.stop_grace)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(proxy, 5)
    sock.close()
    if stop.is_set():
        return EXIT_OK
    if proxy.done() and not exited.done():
        log.error("proxy stopped unexpectedly")
        return EXIT_INTERNAL
    code = exited.result()
    log.error("server exited with code %d", code)
    return code


class StopRequested(BaseException):
    """Raised by a stop signal while preparing, so downloads and locks unwind cleanly."""


def run_loader(config: LoaderConfig, *, machine: Machine | None = None) -> int:
    """Prepare and serve; every outcome becomes an exit code (errors logged in one line).

    A stop signal while the bundle is still being fetched or extracted unwinds through the
    normal cleanup (temporary files removed, cache lock released) and exits 0.
    """

    def interrupt() -> None:
        raise StopRequested

    try:
        with stop_signals(interrupt):
            prepared = prepare(config, machine=machine)
        return asyncio.run(serve(config, prepared))
    except McpbError as err:
        log.error("%s", err.message)
        return exit_code_for(err)
    except (StopRequested, KeyboardInterrupt):
        log.info("stopped before the server started")
        return EXIT_OK


def configure_logging(env: Mapping[str, str]) -> None:
    """One line per event on stderr; ``MCPB_LOG_LEVEL`` (default INFO)."""
    level = env.get("MCPB_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="mcpb-loader: %(levelname)s %(message)s",
    )
