"""Phase 3 of the loader: run — serve the launch plan until it exits or a stop signal arrives.

stdio servers are served through the bridge (:mod:`mcpb.loader.bridge`); bundles that declare
``transport: "streamable-http"`` run on an internal loopback port behind
:class:`~mcpb.loader.proxy.ProxyApp`. Both are served by :func:`mcpb.mcphttp.serve_app` in the
event loop of :func:`mcpb.mcphttp.run`. :func:`run_loader` ties the three phases together and
turns every outcome into an exit code (``service_exit_code`` of the error classes; the table is
in ``docs/exit-codes.md``).

Serving contract for HTTP bundles: the server gets ``PORT`` (an internal port), ``HOST``
(``127.0.0.1``) and ``MCP_PATH`` in its environment and must listen there; the loader listens on
the public ``PORT`` and forwards everything but ``/health`` and ``/ready``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Generator, Mapping
from types import FrameType
from typing import Any

from mcpb.bundle.errors import McpbError, UsageError
from mcpb.loader.compat import Machine
from mcpb.loader.config import LOG_LEVEL_VARIABLE, LoaderConfig
from mcpb.loader.launch import HTTP_TRANSPORT, LaunchSpec, plan_launch
from mcpb.loader.obtain import obtain
from mcpb.loader.process_group import GroupProcess
from mcpb.loader.supervise import STOP_SIGNALS
from mcpb.mcphttp.serve import free_port
from mcpb.mcphttp.serve import run as run_loop

log = logging.getLogger("mcpb.loader")

EXIT_OK = 0
#: A failure of the loader itself (the base class's ``service_exit_code``).
EXIT_INTERNAL = McpbError.service_exit_code


def exit_code_for(err: McpbError) -> int:
    """The documented exit code of an error family (``service_exit_code``)."""
    return err.service_exit_code


def prepare(config: LoaderConfig, *, machine: Machine | None = None) -> LaunchSpec:
    """Phases 1 and 2: obtain the bundle, then plan its launch."""
    return plan_launch(config, obtain(config, machine=machine))


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


async def serve(config: LoaderConfig, spec: LaunchSpec) -> int:
    """Run the server until it exits or a stop signal arrives; the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    requested = False

    def on_stop() -> None:
        nonlocal requested
        requested = True
        loop.call_soon_threadsafe(stop.set)

    with stop_signals(on_stop):
        if spec.transport == HTTP_TRANSPORT:
            code = await _serve_http(config, spec, stop)
        else:
            code = await _serve_stdio(config, spec, stop)
        await asyncio.sleep(0)  # a signal re-raised by the server library lands here
    return EXIT_OK if requested else code


async def _until_stopped(serving: Awaitable[None], stop: asyncio.Event, grace: float) -> int:
    """Run ``serving`` until it ends or ``stop`` is set; 0, or what it raised."""
    task = asyncio.ensure_future(serving)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        try:
            await asyncio.wait_for(task, grace + 2)
        except asyncio.CancelledError:
            pass
        except TimeoutError:
            log.error("the server did not stop within %.1fs", grace + 2)
        return EXIT_OK
    exc = task.exception()
    if exc is None:
        return EXIT_OK
    if isinstance(exc, McpbError):
        raise exc
    log.error("serving failed: %r", exc)
    return EXIT_INTERNAL


async def _serve_stdio(config: LoaderConfig, spec: LaunchSpec, stop: asyncio.Event) -> int:
    from mcpb.loader.bridge import BridgeConfig, StdioSettings, serve_bridge
    from mcpb.mcphttp.settings import HttpSettings

    bridge_config = BridgeConfig(
        http=HttpSettings(
            host=config.host,
            port=config.port,
            mcp_path=config.mcp_path,
            max_sessions=config.session_limit,
            session_timeout=config.session_timeout,
            task_after=config.task_after,
        ),
        stdio=StdioSettings(
            kill_grace=config.stop_grace,
            stateful_hint=config.stateful_hint,
            request_timeout=config.request_timeout,
            crash_limit=config.crash_limit,
        ),
        stateful=config.bridge_mode == "stateful",
    )

    def ready() -> None:
        log.info("serving %s on http://%s:%d%s", spec.name, *_where(config))

    serving = serve_bridge(bridge_config, spec.command, spec.env, spec.cwd, ready=ready)
    return await _until_stopped(serving, stop, config.stop_grace)


def _where(config: LoaderConfig) -> tuple[str, int, str]:
    return config.host, config.port, config.mcp_path


async def _serve_http(config: LoaderConfig, spec: LaunchSpec, stop: asyncio.Event) -> int:
    from mcpb.loader.proxy import ProxyApp
    from mcpb.mcphttp.serve import serve_app

    internal = free_port()
    env = dict(spec.env)
    env.update({"PORT": str(internal), "HOST": "127.0.0.1", "MCP_PATH": config.mcp_path})
    server = GroupProcess(spec.command, env, spec.cwd, spec.name)
    exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def start_server() -> None:  # after the public port is bound: a busy one fails first
        try:
            await server.start(stdin=asyncio.subprocess.DEVNULL)
        except OSError as err:
            raise UsageError(f"cannot start {spec.command[0]!r}: {err.strerror}") from None
        log.info("started server pid %s: %s", server.pid, " ".join(spec.command))
        waiter = asyncio.ensure_future(server.wait())
        waiter.add_done_callback(lambda done: exited.set_result(done.result()))

    def ready() -> None:
        log.info(
            "serving %s (its own HTTP server on port %d) on http://%s:%d%s",
            spec.name,
            internal,
            *_where(config),
        )

    app = ProxyApp("127.0.0.1", internal, is_alive=lambda: server.running)
    serving = asyncio.ensure_future(
        serve_app(app, config.host, config.port, startup=start_server, ready=ready)
    )
    try:
        code = await _until_stopped(_first(serving, exited), stop, config.stop_grace)
    finally:
        serving.cancel()
        await server.stop(config.stop_grace)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(serving, 5)
    if stop.is_set():
        return EXIT_OK
    if not exited.done():
        log.error("proxy stopped unexpectedly")
        return code or EXIT_INTERNAL
    exit_status = exited.result()
    log.error("server exited with code %d", exit_status)
    return exit_status


async def _first(*tasks: asyncio.Future[Any]) -> None:
    """Wait until one of ``tasks`` ends; re-raise what a failed one raised."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


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
            spec = prepare(config, machine=machine)
        return run_loop(serve(config, spec))
    except McpbError as err:
        log.error("%s", err.message)
        return exit_code_for(err)
    except (StopRequested, KeyboardInterrupt):
        log.info("stopped before the server started")
        return EXIT_OK


def configure_logging(env: Mapping[str, str], program: str = "mcpb-loader") -> None:
    """One line per event on stderr, each starting with ``program``; ``MCPB_LOG_LEVEL``
    (default INFO)."""
    level = env.get(LOG_LEVEL_VARIABLE, "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format=f"{program}: %(levelname)s %(message)s",
    )
