"""API keys of the configured clients, as SHA-256 digests, and the admin token.

The configuration never holds a key, only its SHA-256 (``key_sha256``) or where to read it
(``key_env``, ``key_file``); keys read from there are hashed at once and only the digests are
kept. A presented key is hashed and looked up: the comparison is between digests, so its time
says nothing about any key. The admin token must differ from every client key — an admin
credential that also opens a vMCP would make the two roles one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from mcpb.aggregator.config import AggregatorConfig, ClientConfig, UpstreamConfig
from mcpb.aggregator.errors import ConfigError


def key_digest(key: str) -> str:
    """Hex SHA-256 of the key's UTF-8 bytes (what ``key_sha256`` holds)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _read_secret(
    where: str, env_name: str | None, file: str | None, environ: Mapping[str, str]
) -> str:
    if env_name is not None:
        value = environ.get(env_name, "")
        if not value.strip():
            raise ConfigError(f"{where}: the variable {env_name} is not set")
        return value.strip()
    assert file is not None
    try:
        value = Path(file).read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{where}: cannot read {file}: {err}") from None
    if not value:
        raise ConfigError(f"{where}: {file} is empty")
    return value


def client_digest(name: str, client: ClientConfig, environ: Mapping[str, str]) -> str:
    """The digest of one client's key, read from where the configuration says."""
    if client.key_sha256 is not None:
        return client.key_sha256.lower()
    where = f"clients.{name}"
    return key_digest(_read_secret(where, client.key_env, client.key_file, environ))


def client_keys(
    config: AggregatorConfig, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """``{digest: client name}`` for every configured client; two clients with one key are an
    error (a key must name one identity)."""
    by_digest: dict[str, str] = {}
    for name, client in config.clients.items():
        digest = client_digest(name, client, environ)
        if digest in by_digest:
            raise ConfigError(f"clients.{name}: the same key as clients.{by_digest[digest]}")
        by_digest[digest] = name
    return by_digest


def admin_token(
    config: AggregatorConfig, override: str | None, environ: Mapping[str, str] = os.environ
) -> str | None:
    """The admin token: ``override`` (a flag), else the variable ``admin.token_env`` names,
    else ``admin.token_file``; ``None`` turns the admin API off."""
    token = override or environ.get(config.admin.token_env, "").strip() or None
    if token is None and config.admin.token_file:
        token = _read_secret("admin.token_file", None, config.admin.token_file, environ)
    return token


def check_admin_distinct(token: str | None, keys: Mapping[str, str]) -> None:
    """Refuse an admin token that is also a client's key."""
    if token is not None and key_digest(token) in keys:
        name = keys[key_digest(token)]
        raise ConfigError(f"admin token: it is also the key of clients.{name}; use another")


def upstream_headers(
    name: str, upstream: UpstreamConfig, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The headers an HTTP upstream gets: its static ``headers``, those whose values come from
    the environment (``headers_env``) and ``bearer_env`` as ``Authorization: Bearer``. They are
    the upstream's own credentials; a client's never travel upstream."""
    headers = dict(upstream.headers)
    for header, variable in upstream.headers_env.items():
        headers[header] = _read_secret(
            f"upstreams.{name}.headers_env.{header}", variable, None, environ
        )
    if upstream.bearer_env is not None:
        token = _read_secret(f"upstreams.{name}.bearer_env", upstream.bearer_env, None, environ)
        headers["Authorization"] = f"Bearer {token}"
    return headers


def check_upstream_credentials(
    config: AggregatorConfig, environ: Mapping[str, str] = os.environ
) -> None:
    """Refuse a configuration whose HTTP upstreams' credentials cannot be read (a missing
    variable), before any upstream starts with half its headers."""
    for name, upstream in config.upstreams.items():
        if upstream.kind in ("url", "sse"):
            upstream_headers(name, upstream, environ)
