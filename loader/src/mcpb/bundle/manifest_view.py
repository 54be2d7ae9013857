"""The one parsed view of a manifest the runtime passes around, read without pydantic.

Why: importing and building the full manifest models (:mod:`mcpb.bundle.manifest`, the
validator of record) costs about 0.1 s, paid on every start before the server process can be
spawned. A tree enters the loader's cache only after its manifest passed those models, so the
runtime builds a :class:`ManifestView` once where it opens a bundle or a cached tree and passes
that on: the fields that launching, compatibility and bytecode decisions read — ``name``,
``version``, ``server.type``, ``server.mcp_config``, ``user_config`` and
``compatibility.platforms`` — in small frozen objects that satisfy the protocols of
:mod:`mcpb.bundle.placeholders`. Their shapes are still checked (a tree written by an older
loader was not validated before it was put in place): a wrong one is a :class:`ManifestError`
naming the field. A parity test holds the view against the models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcpb.bundle.errors import Issue, ManifestError


@dataclass(frozen=True)
class OverrideView:
    """One ``platform_overrides`` entry (``None``: not overridden)."""

    command: str | None
    args: list[str] | None
    env: dict[str, str] | None


@dataclass(frozen=True)
class McpConfigView:
    """``server.mcp_config``."""

    command: str
    args: list[str]
    env: dict[str, str]
    platform_overrides: dict[str, OverrideView]


@dataclass(frozen=True)
class OptionView:
    """One ``user_config`` option, as far as typing and substituting values needs it."""

    type: str
    required: bool | None
    default: object
    multiple: bool | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class ManifestView:
    """The runtime-relevant part of a validated manifest.

    ``platforms`` is ``compatibility.platforms`` (None when the manifest does not restrict).
    """

    name: str
    version: str
    server_type: str
    mcp_config: McpConfigView
    user_config: dict[str, OptionView]
    platforms: list[str] | None

    def linux_command(self) -> str:
        """The command on Linux: ``platform_overrides.linux.command`` when set, else the base."""
        override = self.mcp_config.platform_overrides.get("linux")
        if override is not None and override.command:
            return override.command
        return self.mcp_config.command


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ManifestError:
        return ManifestError(self.source, [Issue(path, message)])

    def obj(self, value: object, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, "must be an object")
        return value

    def text(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, "must be a string")
        return value

    def texts(self, value: object, path: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(path, "must be a list of strings")
        return list(value)

    def env(self, value: object, path: str) -> dict[str, str]:
        data = self.obj(value, path)
        if not all(isinstance(v, str) for v in data.values()):
            raise self.fail(path, "values must be strings")
        return dict(data)

    def number(self, value: object, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, "must be a number")
        return value

    def flag(self, value: object, path: str) -> bool | None:
        if value is not None and not isinstance(value, bool):
            raise self.fail(path, "must be a boolean")
        return value


def read_manifest_view(data: Mapping[str, Any], *, source: str) -> ManifestView:
    """Read the runtime-relevant fields of ``data`` (``manifest.json``, decoded)."""
    r = _Reader(source)
    server = r.obj(data.get("server"), "server")
    config = r.obj(server.get("mcp_config"), "server.mcp_config")
    overrides: dict[str, OverrideView] = {}
    raw_overrides = r.obj(
        config.get("platform_overrides", {}), "server.mcp_config.platform_overrides"
    )
    for os_name, raw in raw_overrides.items():
        where = f"server.mcp_config.platform_overrides.{os_name}"
        item = r.obj(raw, where)
        overrides[str(os_name)] = OverrideView(
            command=None if item.get("command") is None else r.text(item["command"], where),
            args=None if item.get("args") is None else r.texts(item["args"], f"{where}.args"),
            env=None if item.get("env") is None else r.env(item["env"], f"{where}.env"),
        )
    mcp_config = McpConfigView(
        command=r.text(config.get("command"), "server.mcp_config.command"),
        args=r.texts(config.get("args", []), "server.mcp_config.args"),
        env=r.env(config.get("env", {}), "server.mcp_config.env"),
        platform_overrides=overrides,
    )
    options: dict[str, OptionView] = {}
    for key, raw in r.obj(data.get("user_config", {}), "user_config").items():
        where = f"user_config.{key}"
        item = r.obj(raw, where)
        options[str(key)] = OptionView(
            type=r.text(item.get("type"), f"{where}.type"),
            required=r.flag(item.get("required"), f"{where}.required"),
            default=item.get("default"),
            multiple=r.flag(item.get("multiple"), f"{where}.multiple"),
            min=r.number(item.get("min"), f"{where}.min"),
            max=r.number(item.get("max"), f"{where}.max"),
        )
    platforms = None
    compatibility = data.get("compatibility")
    if compatibility is not None:
        compat = r.obj(compatibility, "compatibility")
        if compat.get("platforms") is not None:
            platforms = r.texts(compat["platforms"], "compatibility.platforms")
    return ManifestView(
        name=r.text(data.get("name"), "name"),
        version=r.text(data.get("version"), "version"),
        server_type=r.text(server.get("type"), "server.type"),
        mcp_config=mcp_config,
        user_config=options,
        platforms=platforms,
    )
