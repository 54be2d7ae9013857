"""The ``mcpb`` command: a thin layer that maps subcommands to library calls.

Subcommands live in :mod:`mcpb.bundler.commands`, one module each, and are imported only when
invoked so that ``mcpb run`` does not pay for the imports of ``mcpb sign``. Library errors
(:class:`~mcpb.bundle.errors.McpbError`) become a one-line message and their exit code here.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from mcpb.bundle.errors import McpbError

# name -> "module:attribute" of a click.Command. Add one line per command module.
COMMANDS: dict[str, str] = {
    "aggregate": "mcpb.bundler.commands.aggregate:aggregate",
    "bridge": "mcpb.bundler.commands.bridge:bridge",
    "build": "mcpb.bundler.commands.build:build",
    "image": "mcpb.bundler.commands.image:image",
    "info": "mcpb.bundler.commands.info:info",
    "init": "mcpb.bundler.commands.init:init",
    "pack": "mcpb.bundler.commands.pack:pack",
    "publish": "mcpb.bundler.commands.publish:publish",
    "registry": "mcpb.bundler.commands.registry:registry",
    "run": "mcpb.bundler.commands.run:run",
    "server-json": "mcpb.bundler.commands.server_json:server_json",
    "sign": "mcpb.bundler.commands.sign:sign",
    "test": "mcpb.bundler.commands.test:test",
    "unpack": "mcpb.bundler.commands.unpack:unpack",
    "unsign": "mcpb.bundler.commands.unsign:unsign",
    "validate": "mcpb.bundler.commands.validate:validate",
    "verify": "mcpb.bundler.commands.verify:verify",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except McpbError as err:
            click.echo(f"mcpb: error: {err.message}", err=True)
            sys.exit(err.exit_code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mcpb-bundler", prog_name="mcpb")
def main() -> None:
    """Build, verify and run MCP Bundles (.mcpb)."""
