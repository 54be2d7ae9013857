"""Phase 2 of the loader: the launch plan — what to start, with what, where, served how.

Pure computation over the obtained bundle and the configuration: ``user_config`` values are
typed against the manifest, ``mcp_config`` is resolved (placeholders, ``platform_overrides``),
the server's environment is the loader's minus its own settings plus the manifest's, and the
transport comes from our ``_meta`` record. The result is one :class:`LaunchSpec`, passed whole
to the run phase; nothing here starts a process.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mcpb.bundle.errors import (
    ArchiveError,
    Issue,
    ManifestError,
    MissingUserConfigError,
    PlaceholderError,
)
from mcpb.bundle.manifest_view import ManifestView
from mcpb.loader.config import LoaderConfig
from mcpb.loader.obtain import Obtained

STDIO_TRANSPORT = "stdio"
HTTP_TRANSPORT = "streamable-http"
# The loader's own settings are not the server's: an inherited PORT would make some stdio
# servers bind the bridge's port. HTTP servers get their own PORT/HOST/MCP_PATH explicitly.
_STRIPPED_ENV = frozenset({"BUNDLE_URL", "BUNDLE_SHA256", "PORT", "HOST", "MCP_PATH"})


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start the server; no process exists yet.

    ``env`` is the server's complete environment; ``transport`` is ``stdio`` (served through the
    bridge) or ``streamable-http`` (the server listens itself, behind the proxy).
    """

    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    transport: str


def user_config_values(config: LoaderConfig, manifest: ManifestView) -> dict[str, object]:
    """Typed ``user_config`` values: the ``MCPB_USER_CONFIG`` JSON object, overridden per key by
    ``MCPB_USER_CONFIG_<KEY>`` / ``--user-config KEY=VALUE`` (``<KEY>`` upper-cased, other
    characters as ``_``).

    Matching and typing are the format library's (:func:`user_config_from_environ`); an
    unknown key is an error, so a typo cannot silently start the server without its value.
    """
    from mcpb.bundle.placeholders import ENV_PREFIX, user_config_from_environ

    environ = {f"{ENV_PREFIX}_{k}": v for k, v in config.user_config_strings.items()}
    if config.user_config:
        environ[ENV_PREFIX] = json.dumps(dict(config.user_config))
    return user_config_from_environ(manifest.user_config, environ)


def plan_launch(
    config: LoaderConfig, bundle: Obtained, environ: Mapping[str, str] | None = None
) -> LaunchSpec:
    """Resolve how to start ``bundle``; ``environ`` (default: this process's) is inherited."""
    from mcpb.bundle.placeholders import resolve_launch

    manifest = bundle.manifest
    _check_command_stays_inside(manifest)
    values = user_config_values(config, manifest)
    try:
        resolved = resolve_launch(
            manifest.mcp_config,
            manifest.user_config,
            values,
            bundle_dir=bundle.tree,
            os_name="linux",
            home=Path.home(),
        )
    except MissingUserConfigError as exc:
        raise PlaceholderError(f"{exc}; {how_to_configure(manifest)}") from None
    transport = (bundle.meta.transport if bundle.meta else None) or STDIO_TRANSPORT
    if transport not in (STDIO_TRANSPORT, HTTP_TRANSPORT):
        raise ArchiveError(f"{manifest.name}: unknown transport {transport!r} in our _meta record")
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if not _loader_only(k)}
    env.update(resolved.env)
    return LaunchSpec(
        name=manifest.name,
        command=[resolved.command, *resolved.args],
        env=env,
        cwd=resolved.cwd,
        transport=transport,
    )


def how_to_configure(manifest: ManifestView) -> str:
    """The valid keys and the two ways to pass them, for a missing-value error."""
    from mcpb.bundle.placeholders import env_var_name

    keys = []
    for key, option in manifest.user_config.items():
        traits = [option.type] + (["required"] if option.required else [])
        traits += ["multiple: one value or a JSON array"] if option.multiple else []
        keys.append(f"{key} ({', '.join(traits)}; {env_var_name(key)})")
    return (
        f"user_config keys: {'; '.join(keys)}; pass values as --user-config KEY=VALUE "
        "(mcpb run) or MCPB_USER_CONFIG_<KEY>=VALUE (the images)"
    )


def _check_command_stays_inside(manifest: ManifestView) -> None:
    """A command written as ``${__dirname}/...`` must name a file inside the bundle."""
    command = manifest.linux_command()
    prefix = "${__dirname}"
    if not command.startswith(prefix):
        return
    rel = command[len(prefix) :].replace("${/}", "/").replace("${pathSeparator}", "/")
    normal = posixpath.normpath(rel.lstrip("/") or ".")
    if normal == ".." or normal.startswith("../"):
        issue = Issue("server.mcp_config.command", f"{command}: the path leaves the bundle")
        raise ManifestError(f"{manifest.name}: manifest.json", [issue])


def _loader_only(name: str) -> bool:
    return name in _STRIPPED_ENV or name.startswith("MCPB_")
