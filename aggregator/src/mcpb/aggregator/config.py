"""The aggregator's configuration as typed models: upstreams, vMCPs, selectors, limits.

One model per concept; cross-field rules (exactly one upstream kind, selectors naming known
upstreams, distinct prefixes) are checked here so that a configuration that validates can be
served as it is. Reading files (YAML or JSON) and turning validation errors into one-line
messages is :mod:`mcpb.aggregator.config_file`'s job; the JSON Schema published in
``schemas/aggregator-config.schema.json`` is generated from these models
(:mod:`mcpb.aggregator.config_schema`).
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mcpb.aggregator.limits import RATE_PATTERN

#: Upstream and vMCP names: what appears in URLs, prefixes and logs.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$"
#: Characters of namespaced tool and prompt names (and so of prefixes and separators).
NAME_CHARS = r"^[A-Za-z0-9_-]*$"
UPSTREAM_KINDS = ("url", "sse", "stdio", "bundle", "server_json")

Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UpstreamConfig(_Model):
    """One upstream MCP server; exactly one of ``url``, ``sse``, ``stdio``, ``bundle`` and
    ``server_json`` says what it is."""

    url: str | None = Field(
        default=None, description="a streamable-HTTP MCP endpoint (http or https)"
    )
    sse: str | None = Field(
        default=None, description="a legacy HTTP+SSE endpoint (the GET stream URL)"
    )
    stdio: list[str] | str | None = Field(
        default=None,
        description="a stdio server's command: a list of words, or one command line split as "
        "a shell would (never run through a shell)",
    )
    bundle: str | None = Field(
        default=None, description="an .mcpb bundle URL or path, run by the loader"
    )
    server_json: str | None = Field(
        default=None,
        description="a server.json (URL or path) whose mcpb package for this machine is run",
    )
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="the bundle's SHA-256 (required for bundle)",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="HTTP headers sent upstream (url, sse)"
    )
    headers_env: dict[str, str] = Field(
        default_factory=dict,
        description="HTTP headers sent upstream whose values come from these variables",
    )
    bearer_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="a variable holding a token sent upstream as Authorization: Bearer",
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="environment of a spawned server (stdio, bundles)"
    )
    cwd: str | None = Field(default=None, description="working directory of a stdio server")
    user_config: dict[str, Any] = Field(
        default_factory=dict, description="user_config values of a bundle's manifest"
    )
    tags: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    prefix: str | None = Field(
        default=None,
        pattern=NAME_CHARS,
        max_length=48,
        description="namespace prefix of its tools and prompts (default: the upstream's name; "
        "may be empty)",
    )
    process: Literal["shared", "per-session"] = Field(
        default="shared",
        description="stdio and bundles: one child for all sessions, or one per session",
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="seconds a list or connect may take before it is skipped",
    )
    max_concurrency: int | None = Field(
        default=None, ge=1, le=100_000, description="calls at once (absent: no limit)"
    )
    queue: int = Field(default=100, ge=0, le=100_000, description="calls waiting for a slot")
    queue_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="seconds a call may wait for a slot"
    )

    @field_validator("stdio", mode="after")
    @classmethod
    def _split_command(cls, value: list[str] | str | None) -> list[str] | None:
        if value is None:
            return None
        words = shlex.split(value) if isinstance(value, str) else list(value)
        if not words or not words[0]:
            raise ValueError("the command is empty")
        return words

    @field_validator("url", "sse")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name or any(c in name for c in " \t\r\n:") or not name.isascii():
                raise ValueError(f"{name!r} is not an HTTP header name")
            if any(c in text for c in "\r\n\0"):
                raise ValueError(f"the value of header {name!r} contains a line break")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> UpstreamConfig:
        kinds = [kind for kind in UPSTREAM_KINDS if getattr(self, kind) is not None]
        if len(kinds) != 1:
            given = ", ".join(kinds) if kinds else "none"
            raise ValueError(
                f"exactly one of {', '.join(UPSTREAM_KINDS)} is required (got {given})"
            )
        kind = kinds[0]
        if kind == "bundle" and self.sha256 is None:
            raise ValueError("a bundle upstream needs its sha256")
        if self.sha256 is not None and kind not in ("bundle",):
            raise ValueError(f"sha256 applies to bundle upstreams, not to {kind}")
        if self.headers and kind not in ("url", "sse"):
            raise ValueError(f"headers apply to url and sse upstreams, not to {kind}")
        spawned = kind in ("stdio", "bundle", "server_json")
        if not spawned and (self.env or self.process != "shared"):
            raise ValueError(f"env and process apply to spawned servers, not to {kind}")
        if self.cwd is not None and kind != "stdio":
            raise ValueError(f"cwd applies to stdio upstreams, not to {kind}")
        if self.user_config and kind not in ("bundle", "server_json"):
            raise ValueError(f"user_config applies to bundle and server_json, not to {kind}")
        return self

    @property
    def kind(self) -> str:
        """Which of the upstream kinds this is."""
        return next(kind for kind in UPSTREAM_KINDS if getattr(self, kind) is not None)

    @property
    def command(self) -> list[str]:
        """The stdio command, split into words."""
        assert isinstance(self.stdio, list)
        return self.stdio


class Selector(_Model):
    """One way tools are chosen; its conditions all hold for an item it selects.

    A vMCP's ``select`` is the union of its selectors. ``tools`` globs match the original
    ``UPSTREAM/NAME`` (tools, prompts, resources and templates by name); ``annotations`` match
    tool annotations (a selector with annotations selects no prompts or resources).
    """

    upstreams: list[Name] | None = Field(default=None, description="upstreams by name")
    tags: list[str] | None = Field(default=None, description="upstreams having any of these tags")
    all_tags: list[str] | None = Field(
        default=None, description="upstreams having all of these tags"
    )
    categories: list[str] | None = Field(
        default=None, description="upstreams in any of these categories"
    )
    tools: list[str] | None = Field(default=None, description="globs over UPSTREAM/NAME")
    annotations: dict[str, bool] | None = Field(
        default=None,
        description="tool annotations that must have these values, e.g. readOnlyHint: true",
    )


RateText = Annotated[str, Field(pattern=RATE_PATTERN, examples=["10/minute"])]


class LimitsConfig(_Model):
    """Calls (tools/call, prompts/get, resources/read) allowed, per client identity unless said
    otherwise; in memory, per process."""

    rate: RateText | None = Field(default=None, description="token bucket per client")
    tools: dict[str, RateText] = Field(
        default_factory=dict, description="per client and glob over UPSTREAM/TOOL"
    )
    quota: RateText | None = Field(default=None, description="per client per fixed window")
    total: RateText | None = Field(default=None, description="the whole vMCP, all clients")


class AccessConfig(_Model):
    """What one identity may use within a vMCP: hidden from its lists and refused when called."""

    tools: list[str] = Field(description="globs over UPSTREAM/TOOL this identity may see and call")


class CacheConfig(_Model):
    """Result caching of read-only tools (``readOnlyHint``), per client identity."""

    ttl: float = Field(gt=0, le=86400, description="seconds a result is reused")
    max_entries: int = Field(default=10_000, ge=1, le=1_000_000)
    max_bytes: int = Field(default=64 << 20, ge=1 << 16, le=1 << 34)


class VmcpConfig(_Model):
    """A virtual MCP server: a selection of the upstreams' tools, prompts and resources."""

    title: str | None = None
    description: str | None = None
    instructions: str | None = Field(
        default=None, description="added before the upstreams' instructions"
    )
    select: list[Selector] = Field(
        default_factory=lambda: [Selector()],
        min_length=1,
        description="union of selectors (default: everything)",
    )
    exclude: list[str] = Field(default_factory=list, description="globs over UPSTREAM/NAME")
    auth: AuthConfig | None = Field(
        default=None, description="client authentication (absent: none, loopback only)"
    )
    allow: list[str] | None = Field(
        default=None,
        description="identities allowed: client names, sub:SUBJECT, claim:NAME=VALUE "
        "(absent: any authenticated)",
    )
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    cache: CacheConfig | None = Field(
        default=None, description="reuse results of readOnlyHint tools (absent: never)"
    )
    access: dict[str, AccessConfig] = Field(
        default_factory=dict,
        description="per identity (client name or sub:SUBJECT): the tools it may use here",
    )
    namespace: Literal["prefix", "none", "conditional"] = "prefix"
    conflicts: Literal["error", "first", "highest-version"] = Field(
        default="error", description="what serves a name offered by several upstreams"
    )


class ClientConfig(_Model):
    """An identity that authenticates with an API key (``Authorization: Bearer KEY``); the key
    itself is never in the file: its SHA-256, or where to read it."""

    key_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="hex SHA-256 of the key's UTF-8 bytes",
    )
    key_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="variable holding the key"
    )
    key_file: str | None = Field(default=None, description="file holding the key")

    @model_validator(mode="after")
    def _one_source(self) -> ClientConfig:
        given = [k for k in ("key_sha256", "key_env", "key_file") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of key_sha256, key_env, key_file")
        return self


JwtAlgorithm = Literal["RS256", "ES256", "EdDSA", "HS256"]


class JwtConfig(_Model):
    """Bearer JWTs: signature, issuer, audience (RFC 8707: the vMCP's URL), time, scopes."""

    jwks: str | None = Field(
        default=None, description="JWKS location: https://, http:// or file:// URL, or a path"
    )
    secret_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="variable holding an HS256 shared secret",
    )
    issuer: str = Field(description="the required iss claim")
    audience: str | None = Field(
        default=None, description="the required aud (default: the vMCP's own URL)"
    )
    scopes: list[str] = Field(default_factory=list, description="scopes every token must carry")
    algorithms: list[JwtAlgorithm] | None = Field(
        default=None,
        description="accepted algorithms (default: RS256, ES256, EdDSA; HS256 with secret_env)",
    )
    authorization_servers: list[str] | None = Field(
        default=None, description="for the protected-resource metadata (default: [issuer])"
    )
    leeway: float = Field(default=30.0, ge=0, le=300, description="seconds of clock skew")
    jwks_refresh: float = Field(
        default=30.0,
        ge=0,
        le=86400,
        description="least seconds between two reads of the JWKS caused by unknown key ids",
    )

    @model_validator(mode="after")
    def _keys(self) -> JwtConfig:
        if not self.jwks and not self.secret_env:
            raise ValueError("give jwks (public keys) or secret_env (an HS256 secret)")
        if self.algorithms and "HS256" in self.algorithms and not self.secret_env:
            raise ValueError("HS256 needs secret_env")
        return self


class AuthConfig(_Model):
    """How a vMCP's clients authenticate: JWTs, API keys, or explicitly nothing."""

    jwt: JwtConfig | None = None
    keys: list[Name] = Field(default_factory=list, description="clients whose API keys count")
    none: bool = Field(
        default=False,
        description="serve without authentication even when not bound to loopback",
    )

    @model_validator(mode="after")
    def _coherent(self) -> AuthConfig:
        if self.none and (self.jwt or self.keys):
            raise ValueError("none: true excludes jwt and keys")
        if not self.none and not self.jwt and not self.keys:
            raise ValueError("give jwt, keys, or none: true")
        return self


class AdminConfig(_Model):
    """The admin API: off unless a token is configured (the variable or the file)."""

    token_env: str = Field(
        default="MCPB_AGGREGATOR_ADMIN_TOKEN",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="variable holding the admin bearer token",
    )
    token_file: str | None = Field(
        default=None, description="a file holding the admin bearer token"
    )


class MetricsConfig(_Model):
    """``GET /metrics`` (Prometheus): open, or behind the admin token."""

    enabled: bool = Field(default=True, description="count requests (the endpoint stays)")
    path: str = Field(default="/metrics", pattern=r"^/[A-Za-z0-9/_.-]*$")
    auth: Literal["none", "admin"] = Field(
        default="none", description="admin: the admin token is required"
    )


class AggregatorConfig(_Model):
    """The whole configuration file."""

    upstreams: dict[Name, UpstreamConfig] = Field(default_factory=dict)
    vmcps: dict[Name, VmcpConfig] = Field(default_factory=dict)
    separator: str = Field(
        default="__", pattern=r"^[A-Za-z0-9_-]{1,4}$", description="between prefix and name"
    )
    max_sessions: int = Field(
        default=10_000, ge=1, le=1_000_000, description="client sessions at once"
    )
    session_timeout: float | None = Field(
        default=1800.0, gt=0, description="seconds an idle client session lives (null: forever)"
    )
    request_timeout: float | None = Field(
        default=600.0, gt=0, description="seconds an upstream may take to answer a request"
    )
    task_after: float | None = Field(
        default=1.0,
        gt=0,
        description="seconds a 2026-07-28 tools/call of a client declaring the tasks extension "
        "runs before it becomes a task (sooner for tools declaring task support; null: no tasks)",
    )
    page_size: int = Field(default=500, ge=1, le=100_000, description="items per list page")
    watch: bool = Field(default=False, description="reload the file when it changes")
    admin: AdminConfig = Field(default_factory=AdminConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    access_log: bool = Field(default=True, description="one JSON line per vMCP request on stderr")
    clients: dict[Name, ClientConfig] = Field(
        default_factory=dict, description="identities that authenticate with API keys"
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="the external base URL (resource, audience, metadata); default: the "
        "scheme and Host of each request",
    )

    @model_validator(mode="after")
    def _references(self) -> AggregatorConfig:
        for vname, vmcp in self.vmcps.items():
            for key in vmcp.auth.keys if vmcp.auth else []:
                if key not in self.clients:
                    raise ValueError(f"vmcps.{vname}.auth.keys names {key!r}, not a client")
        prefixes: dict[str, str] = {}
        for name in self.upstreams:
            prefix = self.prefix_of(name)
            if prefix and prefix.lower() in prefixes:
                other = prefixes[prefix.lower()]
                raise ValueError(
                    f"upstreams {other!r} and {name!r} have the same prefix {prefix!r}: "
                    "their names would collide"
                )
            if prefix:
                prefixes[prefix.lower()] = name
        for vname, vmcp in self.vmcps.items():
            for index, selector in enumerate(vmcp.select):
                for wanted in selector.upstreams or []:
                    if wanted not in self.upstreams:
                        raise ValueError(
                            f"vmcps.{vname}.select[{index}].upstreams names {wanted!r}, "
                            "which is not an upstream"
                        )
        return self

    def prefix_of(self, upstream: str) -> str:
        """The namespace prefix of an upstream's names."""
        prefix = self.upstreams[upstream].prefix
        return upstream if prefix is None else prefix
