"""Typed errors carrying the message a user sees.

Library code raises these; the CLI and the loader turn them into one-line messages and exit
codes. Each subclass names a family of failures so callers can catch precisely, and carries
both of its exit codes, defined here and nowhere else (``docs/exit-codes.md`` lists them):

* ``exit_code``: what the ``mcpb`` commands exit with (1 bad input, 2 bad usage);
* ``service_exit_code``: what a server process exits with when it cannot start — the images'
  loader and ``mcpb run`` — in the ``sysexits.h`` range, so an orchestrator can tell a wrong
  digest (65) from a download failure (69) without reading logs.
"""

from __future__ import annotations

from dataclasses import dataclass


class McpbError(Exception):
    """Base of every error this project reports to a user.

    ``str(err)`` is the complete one-line message; ``exit_code`` is what a CLI should exit with,
    ``service_exit_code`` what the loader exits with (70: a failure of its own).
    """

    exit_code: int = 1
    service_exit_code: int = 70

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Issue:
    """One validation problem: where (a JSON path like ``server.mcp_config.command``), and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


class ManifestError(McpbError):
    """A manifest is missing, unreadable or invalid; ``issues`` lists every problem found."""

    service_exit_code = 66

    def __init__(self, source: str, issues: list[Issue]) -> None:
        self.source = source
        self.issues = issues
        if len(issues) == 1:
            summary = f"{source}: {issues[0]}"
        else:
            summary = f"{source}: {len(issues)} errors: " + "; ".join(str(i) for i in issues)
        super().__init__(summary)


class ArchiveError(McpbError):
    """An archive cannot be read or written (truncated, not a zip, I/O failure)."""

    service_exit_code = 66


class UnsafeArchiveError(ArchiveError):
    """An archive is hostile or exceeds a limit: traversal, links, devices, bombs, duplicates."""


class IntegrityError(McpbError):
    """Bytes do not match the digest they were promised to have."""

    service_exit_code = 65


class SignatureError(McpbError):
    """A signature block is malformed, does not verify, or a signing input is unusable."""

    service_exit_code = 66


class PlaceholderError(McpbError):
    """``mcp_config`` cannot be resolved: a required user_config value is missing or mistyped."""

    service_exit_code = 78


class MissingUserConfigError(PlaceholderError):
    """A required ``user_config`` value has neither a given value nor a default (``key``)."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


class FetchError(McpbError):
    """A bundle could not be downloaded or read from its URL (network, HTTP status, size)."""

    service_exit_code = 69


class IncompatibleError(McpbError):
    """A bundle was built for another platform or Python version than the running machine."""

    service_exit_code = 67


class UsageError(McpbError):
    """A command was called with inputs that cannot work (bad flag values, missing files)."""

    exit_code = 2
    service_exit_code = 64


class ServerFailedError(McpbError):
    """The MCP server kept exiting as soon as it started; restarting it was given up."""

    service_exit_code = 75


class BuildError(McpbError):
    """A bundle cannot be built: a missing wheel, a wrong-arch binary, a failed install."""
