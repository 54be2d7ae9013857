"""Running the aggregator: load and plan, serve until stopped, reload on change, exit cleanly.

:func:`run_aggregator` is what ``mcpb aggregate`` and ``python -m mcpb.aggregator`` call: the
configuration is read and validated and every bundle fetched and verified *before* the port
is bound (an invalid file never starts a half-configured gateway), then
:func:`serve_aggregator` serves until SIGTERM/SIGINT, ends every stream, stops every child and
returns 0. With ``watch: true`` the file is polled; a broken new version keeps the running
configuration and logs why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mcpb.aggregator.admin import AdminApi
from mcpb.aggregator.app import AggregatorApp
from mcpb.aggregator.config import AggregatorConfig
from mcpb.aggregator.config_file import load_config_file
from mcpb.aggregator.credentials import admin_token, check_admin_distinct, client_keys
from mcpb.aggregator.errors import ConfigError
from mcpb.aggregator.gateway import Gateway
from mcpb.aggregator.sources import SpawnPlan, plan_changes
from mcpb.aggregator.tracing import configure_tracing
from mcpb.aggregator.upstream import UpstreamSettings
from mcpb.bundle.errors import McpbError
from mcpb.loader.config import default_cache_dir
from mcpb.loader.run import configure_logging as configure_loader_logging
from mcpb.loader.run import stop_signals
from mcpb.mcphttp.serve import run, serve_app
from mcpb.mcphttp.settings import HttpSettings

log = logging.getLogger("mcpb.aggregator")

CONFIG_VARIABLE = "MCPB_AGGREGATOR_CONFIG"
_WATCH_INTERVAL = 1.0


@dataclass(frozen=True)
class AggregatorOptions:
    """Where the configuration is and how the gateway listens (flags or environment)."""

    config_path: Path
    host: str = "127.0.0.1"
    port: int = 8000
    cache_dir: Path = field(default_factory=lambda: default_cache_dir(os.environ))
    admin_token: str | None = None
    check_interval: float = 5.0


def http_settings(options: AggregatorOptions, config: AggregatorConfig) -> HttpSettings:
    """The transport settings every vMCP is served with."""
    return HttpSettings(
        host=options.host,
        port=options.port,
        max_sessions=config.max_sessions,
        session_timeout=config.session_timeout,
        task_after=config.task_after,
    )


def prepare(options: AggregatorOptions) -> tuple[AggregatorConfig, dict[str, SpawnPlan]]:
    """The validated configuration and the launch plans of its spawned upstreams."""
    config = load_config_file(options.config_path)
    return config, plan_changes(None, config, options.cache_dir)


async def serve_aggregator(
    options: AggregatorOptions,
    config: AggregatorConfig,
    plans: Mapping[str, SpawnPlan],
    *,
    listening: Callable[[str, int], None] | None = None,
) -> None:
    """Serve until cancelled; everything started is stopped before this returns."""
    token = admin_token(config, options.admin_token)
    check_admin_distinct(token, client_keys(config))
    gateway = Gateway(
        config,
        http_settings(options, config),
        UpstreamSettings(
            request_timeout=config.request_timeout, check_interval=options.check_interval
        ),
    )
    current_token: list[str | None] = [token]
    admin = AdminApi(gateway, lambda: current_token[0], options.cache_dir)
    tracing = configure_tracing(os.environ)
    app = AggregatorApp(gateway, admin, tracing=tracing)
    watcher: asyncio.Task[None] | None = None

    async def startup() -> None:
        nonlocal watcher
        await gateway.start(plans)
        if config.watch:
            watcher = asyncio.create_task(_watch(options, gateway))

    async def shutdown() -> None:
        if watcher is not None:
            watcher.cancel()
        await gateway.close()
        if tracing is not None:
            tracing.shutdown()

    def ready() -> None:
        names = ", ".join(f"/vmcp/{name}/mcp" for name in gateway.vmcps) or "no vMCPs yet"
        log.info("aggregator on http://%s:%d serving %s", options.host, options.port, names)

    await serve_app(
        app,
        options.host,
        options.port,
        startup=startup,
        shutdown=shutdown,
        listening=listening,
        ready=ready,
    )


async def _watch(options: AggregatorOptions, gateway: Gateway) -> None:
    path = options.config_path
    seen = _stamp(path)
    while True:
        await asyncio.sleep(_WATCH_INTERVAL)
        stamp = _stamp(path)
        if stamp == seen:
            continue
        seen = stamp
        try:
            new = load_config_file(path)
            plans = await asyncio.to_thread(plan_changes, gateway.config, new, options.cache_dir)
        except McpbError as err:
            log.error("%s changed but is not used (the running configuration stays): %s", path, err)
            continue
        await gateway.apply(new, plans)
        log.info("reloaded %s", path)


def _stamp(path: Path) -> tuple[float, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime, info.st_size


async def _until_stopped(work: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_stop() -> None:
        loop.call_soon_threadsafe(stop.set)

    with stop_signals(on_stop):
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([work, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
        else:
            work.result()


def run_aggregator(
    options: AggregatorOptions, *, listening: Callable[[str, int], None] | None = None
) -> int:
    """Prepare and serve; errors become one log line and the error class's exit code
    (``service_exit_code``: 78 for a bad configuration, 69 for an upstream that cannot be
    prepared, 64 for a port in use)."""
    try:
        config, plans = prepare(options)

        async def main() -> None:
            serving = serve_aggregator(options, config, plans, listening=listening)
            await _until_stopped(asyncio.create_task(serving))

        run(main())
    except McpbError as err:
        log.error("%s", err.message)
        return err.service_exit_code
    except KeyboardInterrupt:
        return 0
    return 0


def options_from_env(env: Mapping[str, str]) -> AggregatorOptions:
    """The image's configuration: ``MCPB_AGGREGATOR_CONFIG``, ``HOST``, ``PORT``, the cache and
    the admin token."""
    from mcpb.loader.config import IMAGE_HOST, parse_host, parse_port

    location = env.get(CONFIG_VARIABLE, "").strip()
    if not location:
        raise ConfigError(f"{CONFIG_VARIABLE} must name the configuration file")
    return AggregatorOptions(
        config_path=Path(location),
        host=parse_host("HOST", env["HOST"]) if env.get("HOST") else IMAGE_HOST,
        port=parse_port("PORT", env["PORT"]) if env.get("PORT") else 8000,
        cache_dir=default_cache_dir(env),
    )


def configure_logging(env: Mapping[str, str] = os.environ) -> None:
    """The loader's one-line-per-event logging, as ``mcpb-aggregator``."""
    configure_loader_logging(env, "mcpb-aggregator")
