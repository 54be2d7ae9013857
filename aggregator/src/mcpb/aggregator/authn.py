"""Who is calling a vMCP: bearer JWTs and API keys, checked as the MCP authorization spec
(RFC 9728, RFC 6750, RFC 8707) says, before the request reaches the vMCP.

A vMCP's :class:`Authenticator` turns the ``Authorization`` header into an :class:`Identity`
or raises the one :class:`HTTPError` the spec wants:

* no credential, or one that does not verify (malformed, expired, not yet valid, another issuer,
  another audience — a token for one vMCP is refused at the next —, a bad signature, ``alg:
  none``, an unknown key): **401** with ``WWW-Authenticate: Bearer resource_metadata="…"``
  (``error="invalid_token"`` when one was presented, ``scope`` when scopes are required); a
  keys-only vMCP names its realm instead (``Bearer realm="vmcp/NAME"``);
* a valid token without the required scopes: **403** ``error="insufficient_scope"``;
* an identity the vMCP's ``allow`` list does not name: **403**.

A bearer value shaped like a JWT (three base64url parts) is checked as a JWT when the vMCP takes
JWTs; anything else as an API key. The audience is the vMCP's canonical URL (``public_url`` or
the scheme and ``Host`` of the request, then ``/vmcp/NAME/mcp``) unless configured. The header
is never passed on: upstreams get their own configured credentials only.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
)

from mcpb.aggregator.config import AggregatorConfig, JwtConfig, VmcpConfig
from mcpb.aggregator.credentials import key_digest
from mcpb.aggregator.errors import ConfigError
from mcpb.aggregator.jwks import JwksError, JwksSource
from mcpb.mcphttp.asgi import Scope
from mcpb.mcphttp.errors import HTTPError

_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_ASYMMETRIC = ("RS256", "ES256", "EdDSA")
WELL_KNOWN = "/.well-known/oauth-protected-resource"
MAX_TOKEN = 8192


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: ``name`` is a client's name (API key) or ``sub:SUBJECT``."""

    name: str
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict)


#: The identity of the request being handled, set by the router around the vMCP's app (the
#: transport core knows nothing of identities; the vMCP's backend reads it in the same task).
current_identity: ContextVar[Identity | None] = ContextVar("mcpb_identity", default=None)


def identity_name(identity: Identity | None) -> str:
    """How limits and logs name a caller: ``anonymous`` on a vMCP without authentication."""
    return identity.name if identity is not None else "anonymous"


class AuthHTTPError(HTTPError):
    """A 401 or 403 of authentication; ``reason`` labels it in the metrics."""

    def __init__(self, reason: str, status: int, text: str, **kwargs: Any) -> None:
        super().__init__(status, text, **kwargs)
        self.reason = reason


class AuthRefusedError(Exception):
    """A credential was refused; ``reason`` is a short label (metrics), ``str()`` the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def resource_url(base: str, vmcp: str) -> str:
    """The vMCP's canonical URL: the protected resource and the default audience."""
    return f"{base.rstrip('/')}/vmcp/{vmcp}/mcp"


def metadata_url(base: str, vmcp: str) -> str:
    """Where its RFC 9728 metadata is: the well-known prefix inserted before the path."""
    return f"{base.rstrip('/')}{WELL_KNOWN}/vmcp/{vmcp}/mcp"


def request_base(scope: Scope, public_url: str | None) -> str:
    """``public_url``, else the scheme and ``Host`` the request came in on."""
    if public_url:
        return public_url.rstrip("/")
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
    return f"{scope.get('scheme', 'http')}://{host}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Authenticator:
    """One vMCP's authentication and ``allow`` list (module docstring)."""

    def __init__(
        self,
        name: str,
        vmcp: VmcpConfig,
        keys: Mapping[str, str],
        public_url: str | None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        auth = vmcp.auth
        self.name = name
        self.public_url = public_url
        self.required = auth is not None and not auth.none
        self.jwt: JwtConfig | None = auth.jwt if auth else None
        accepted = set(auth.keys) if auth else set()
        self.keys = {digest: client for digest, client in keys.items() if client in accepted}
        self.allow = frozenset(vmcp.allow) if vmcp.allow is not None else None
        self._jwks = (
            JwksSource(self.jwt.jwks, self.jwt.jwks_refresh) if self.jwt and self.jwt.jwks else None
        )
        self._secret: str | None = None
        if self.jwt and self.jwt.secret_env:
            self._secret = environ.get(self.jwt.secret_env) or None
            if self._secret is None:
                raise ConfigError(
                    f"vmcps.{name}.auth.jwt.secret_env: {self.jwt.secret_env} is not set"
                )
        self._scopes = frozenset(self.jwt.scopes) if self.jwt else frozenset()
        algorithms = self.jwt.algorithms if self.jwt and self.jwt.algorithms else None
        self.algorithms = tuple(algorithms or (*_ASYMMETRIC, *(("HS256",) if self._secret else ())))

    async def identify(self, scope: Scope) -> Identity | None:
        """The caller, or ``None`` on a vMCP without authentication; raises :class:`HTTPError`."""
        if not self.required:
            return None
        token = _bearer(scope)
        if token is None:
            raise self._unauthorized(scope, None)
        try:
            if self.jwt is not None and _JWT_SHAPE.match(token):
                identity = await self._verify_jwt(token, scope)
            elif self.keys:
                identity = self._verify_key(token)
            else:
                raise AuthRefusedError("malformed", "the bearer value is not a JWT")
        except AuthRefusedError as failure:
            raise self._unauthorized(scope, failure) from None
        if identity.claims and not self._scopes <= identity.scopes:  # scopes: of tokens only
            missing = " ".join(sorted(self._scopes - identity.scopes))
            challenge = self._challenge(scope, "insufficient_scope")
            raise AuthHTTPError(
                "insufficient_scope",
                403,
                f"vmcp {self.name}: the token lacks scope {missing}",
                headers=[(b"www-authenticate", challenge)],
            )
        if self.allow is not None and not allowed(identity, self.allow):
            raise AuthHTTPError(
                "not_allowed", 403, f"vmcp {self.name}: {identity.name} is not allowed here"
            )
        return identity

    def _verify_key(self, token: str) -> Identity:
        client = self.keys.get(key_digest(token))
        if client is None:
            raise AuthRefusedError("unknown_key", "the API key is not accepted here")
        return Identity(client)

    async def _verify_jwt(self, token: str, scope: Scope) -> Identity:
        assert self.jwt is not None
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError:
            raise AuthRefusedError("malformed", "the token is not a readable JWT") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise AuthRefusedError("algorithm", f"algorithm {alg!r} is not accepted")
        key: Any
        if alg == "HS256":
            key = self._secret
            if key is None:
                raise AuthRefusedError("algorithm", "algorithm 'HS256' is not accepted")
        else:
            if self._jwks is None:
                raise AuthRefusedError("algorithm", f"algorithm {alg!r} is not accepted")
            try:
                kid = header.get("kid")
                jwk = await self._jwks.key(kid if isinstance(kid, str) else None)
            except JwksError as err:
                raise AuthRefusedError("jwks", f"the key set cannot be read: {err}") from None
            if jwk is None:
                raise AuthRefusedError("unknown_key", "no key of the key set matches the token")
            key = jwk.key
        audience = self.jwt.audience or resource_url(
            request_base(scope, self.public_url), self.name
        )
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[str(alg)],
                audience=audience,
                issuer=self.jwt.issuer,
                leeway=self.jwt.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except ExpiredSignatureError:
            raise AuthRefusedError("expired", "the token has expired") from None
        except ImmatureSignatureError:
            raise AuthRefusedError("not_yet_valid", "the token is not valid yet") from None
        except InvalidAudienceError:
            raise AuthRefusedError("audience", f"the token is not for {audience}") from None
        except InvalidIssuerError:
            raise AuthRefusedError("issuer", "the token is from another issuer") from None
        except InvalidSignatureError:
            raise AuthRefusedError("signature", "the token's signature does not verify") from None
        except MissingRequiredClaimError as err:
            raise AuthRefusedError("malformed", f"the token lacks the {err.claim} claim") from None
        except InvalidTokenError as err:
            raise AuthRefusedError("invalid", f"the token is invalid: {err}") from None
        return Identity(f"sub:{claims['sub']}", _scopes(claims), claims)

    def _challenge(self, scope: Scope, error: str | None, detail: str | None = None) -> bytes:
        if self.jwt is None:
            parts = [f"realm={_quote('vmcp/' + self.name)}"]
        else:
            base = request_base(scope, self.public_url)
            parts = [f"resource_metadata={_quote(metadata_url(base, self.name))}"]
            if self.jwt.scopes:
                parts.append(f"scope={_quote(' '.join(self.jwt.scopes))}")
        if error:
            parts.append(f"error={_quote(error)}")
        if detail:
            parts.append(f"error_description={_quote(detail)}")
        return ("Bearer " + ", ".join(parts)).encode("latin-1", "replace")

    def _unauthorized(self, scope: Scope, failure: AuthRefusedError | None) -> HTTPError:
        detail = str(failure) if failure else None
        header = self._challenge(scope, "invalid_token" if failure else None, detail)
        text = f"vmcp {self.name}: " + (detail or "authentication required")
        reason = failure.reason if failure else "missing"
        return AuthHTTPError(reason, 401, text, headers=[(b"www-authenticate", header)])

    def metadata(self, base: str) -> dict[str, Any] | None:
        """The RFC 9728 protected-resource metadata, for a vMCP that takes JWTs."""
        if self.jwt is None:
            return None
        return {
            "resource": resource_url(base, self.name),
            "authorization_servers": self.jwt.authorization_servers or [self.jwt.issuer],
            "scopes_supported": list(self.jwt.scopes),
            "bearer_methods_supported": ["header"],
            "resource_name": f"vmcp {self.name}",
        }


def allowed(identity: Identity, allow: frozenset[str]) -> bool:
    """``allow`` names the identity (``ci``, ``sub:alice``) or one of its token's claims
    (``claim:NAME=VALUE``: the claim equals VALUE, or is a list holding it)."""
    if identity.name in allow:
        return True
    for entry in allow:
        if entry.startswith("claim:"):
            name, _, value = entry[len("claim:") :].partition("=")
            claim = identity.claims.get(name)
            if claim == value or (isinstance(claim, list) and value in claim):
                return True
    return False


def _bearer(scope: Scope) -> str | None:
    """The bearer token of ``Authorization`` (``None`` without one, or another scheme)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN:
                return None
            return token
    return None


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(str(s) for s in scp)
    return frozenset()


def require_auth_off_loopback(config: AggregatorConfig, host: str) -> None:
    """A vMCP without authentication is served only on loopback, unless ``auth: {none: true}``
    says so explicitly."""
    if _loopback(host):
        return
    for name, vmcp in config.vmcps.items():
        if vmcp.auth is None:
            raise ConfigError(
                f"vmcps.{name}: no auth while listening on {host}; configure auth (jwt or keys) "
                "or say auth: {none: true}"
            )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
