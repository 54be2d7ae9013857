"""The admin API under ``/admin/``: upstreams and vMCPs read, created, replaced and deleted.

Off (404) unless an admin token is configured; then every request needs
``Authorization: Bearer <token>`` (401 otherwise, compared in constant time). A PUT body is one
upstream or one vMCP exactly as in the configuration file; the whole configuration it would
make is validated (and new bundles fetched and verified) before anything changes, so a bad
body leaves the running gateway as it was. PUT answers 201 when it creates, 200 when it
replaces; DELETE 204. Changes apply at once (:meth:`~mcpb.aggregator.gateway.Gateway.apply`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from mcpb.aggregator.config import AggregatorConfig
from mcpb.aggregator.config_file import validate
from mcpb.aggregator.errors import ConfigError, UpstreamError
from mcpb.aggregator.gateway import Gateway
from mcpb.aggregator.sources import SpawnPlan, plan_changes
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object
from mcpb.mcphttp.asgi import JSON, Receive, Scope, Send, read_json_body, respond
from mcpb.mcphttp.errors import HTTPError

log = logging.getLogger("mcpb.aggregator")

MAX_ADMIN_BODY = 1 << 20
_PATH = re.compile(r"^/admin/(upstreams|vmcps)(?:/([^/]+))?$")


class AdminApi:
    """``/admin/upstreams[/{name}]`` and ``/admin/vmcps[/{name}]`` (module docstring)."""

    def __init__(self, gateway: Gateway, token: Callable[[], str | None], cache_dir: Path) -> None:
        self.gateway = gateway
        self.token = token
        self.cache_dir = cache_dir
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.require_token(scope)
        match = _PATH.match(scope["path"])
        if match is None:
            raise _error(404, "no such admin resource")
        section, name = match.group(1), match.group(2)
        method = scope["method"]
        if name is None:
            if method != "GET":
                raise _error(405, "use GET on a collection", allow=b"GET")
            await _json(send, 200, self._listing(section))
            return
        if method == "GET":
            await _json(send, 200, self._one(section, name))
        elif method == "PUT":
            headers: dict[bytes, bytes] = dict(scope["headers"])
            body = await read_json_body(headers, receive, MAX_ADMIN_BODY)
            created = await self._put(section, name, body)
            await _json(send, 201 if created else 200, self._one(section, name))
        elif method == "DELETE":
            await self._delete(section, name)
            await respond(send, 204, b"", JSON)
        else:
            raise _error(405, "use GET, PUT or DELETE", allow=b"GET, PUT, DELETE")

    def require_token(self, scope: Scope) -> None:
        """404 while no admin token is configured (the API does not exist), 401 unless the
        request carries it."""
        token = self.token()
        if token is None:
            raise HTTPError(404, "not found", plain=True)
        self._authorize(scope, token)

    def _authorize(self, scope: Scope, token: str) -> None:
        given = b""
        for key, value in scope["headers"]:
            if key == b"authorization":
                given = value
        scheme, _, credential = given.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(
            credential.strip(), token.encode()
        ):
            raise HTTPError(
                401,
                "the admin API needs Authorization: Bearer <admin token>",
                plain=True,
                headers=[(b"www-authenticate", b'Bearer realm="admin"')],
            )

    def _listing(self, section: str) -> dict[str, Any]:
        config = self.gateway.config
        if section == "upstreams":
            return {
                "upstreams": [
                    {"name": n, "config": _dump(c), **self.gateway.upstreams[n].status()}
                    for n, c in config.upstreams.items()
                    if n in self.gateway.upstreams
                ]
            }
        return {
            "vmcps": [self._vmcp_entry(name) for name in config.vmcps if name in self.gateway.vmcps]
        }

    def _one(self, section: str, name: str) -> dict[str, Any]:
        config = self.gateway.config
        if section == "upstreams":
            upstream = config.upstreams.get(name)
            if upstream is None or name not in self.gateway.upstreams:
                raise _error(404, f"no upstream named {name!r}")
            return {
                "name": name,
                "config": _dump(upstream),
                **self.gateway.upstreams[name].status(),
            }
        if name not in config.vmcps or name not in self.gateway.vmcps:
            raise _error(404, f"no vMCP named {name!r}")
        return self._vmcp_entry(name)

    def _vmcp_entry(self, name: str) -> dict[str, Any]:
        vmcp = self.gateway.vmcps[name]
        return {**vmcp.summary(), "config": _dump(vmcp.config)}

    async def _put(self, section: str, name: str, body: bytes) -> bool:
        try:
            item = parse_json_object(body, max_size=MAX_ADMIN_BODY)
        except JsonDocumentError as err:
            raise _error(400, f"request body: {err}") from None
        async with self._lock:
            data = _dump(self.gateway.config)
            data.setdefault(section, {})
            created = name not in data[section]
            data[section][name] = item
            new = self._validated(data, f"{section}.{name}")
            try:
                plans = await asyncio.to_thread(
                    plan_changes, self.gateway.config, new, self.cache_dir
                )
            except (UpstreamError, ConfigError) as err:
                raise _error(422, str(err)) from None
            await self._apply(new, plans)
        log.info("admin: %s %s/%s", "created" if created else "replaced", section, name)
        return created

    async def _delete(self, section: str, name: str) -> None:
        async with self._lock:
            data = _dump(self.gateway.config)
            if name not in data.get(section, {}):
                raise _error(404, f"no {section[:-1]} named {name!r}")
            del data[section][name]
            if section == "upstreams":
                users = [
                    vname
                    for vname, vmcp in self.gateway.config.vmcps.items()
                    if any(name in (s.upstreams or ()) for s in vmcp.select)
                ]
                if users:
                    raise _error(409, f"upstream {name!r} is named by vMCP(s) {', '.join(users)}")
            new = self._validated(data, f"{section}.{name}")
            await self._apply(new, {})
        log.info("admin: deleted %s/%s", section, name)

    async def _apply(self, new: AggregatorConfig, plans: dict[str, SpawnPlan]) -> None:
        try:
            await self.gateway.apply(new, plans)
        except ConfigError as err:  # refused before anything changed (authentication)
            raise _error(422, str(err)) from None

    def _validated(self, data: dict[str, Any], where: str) -> AggregatorConfig:
        try:
            return validate(data, "admin request")
        except ConfigError as err:
            raise _error(422, f"{where}: {err}") from None


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_defaults=True)


def _error(status: int, text: str, *, allow: bytes | None = None) -> HTTPError:
    headers = [(b"allow", allow)] if allow else []
    return AdminError(status, text, headers=headers)


class AdminError(HTTPError):
    """An admin API refusal: rendered as ``{"error": text}``."""

    def body(self) -> tuple[bytes, bytes]:
        """JSON ``{"error": ...}``."""
        return JSON, orjson.dumps({"error": self.text})


async def _json(send: Send, status: int, data: Any) -> None:
    await respond(send, status, orjson.dumps(data), JSON)
