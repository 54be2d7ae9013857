"""JSON Web Key Sets: the public keys JWTs are checked against, cached and refreshed.

A JWKS comes from a URL (``https://idp/jwks.json``) or a file. It is read on first use, kept,
and read again when a token names a ``kid`` the cached set lacks — the identity provider has
rotated its keys — but at most once per ``refresh_interval`` (``jwt.jwks_refresh``) seconds, so
a stream of tokens with made-up key ids cannot make the gateway hammer the provider. Reading
goes through the loader's bounded fetch (size limit, timeouts, retries) in a worker thread.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from mcpb.bundle.errors import McpbError
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object
from mcpb.loader.fetch import FetchOptions, fetch, redact

#: The largest key set read, bytes.
MAX_JWKS = 256 << 10
# A request waits for the read: two tries and 15 s at most, never a progress bar.
_OPTIONS = FetchOptions(max_size=MAX_JWKS, attempts=2, deadline=15.0, progress=False)


class JwksError(Exception):
    """The key set cannot be read or has no usable key; ``str()`` says why."""


class JwksSource:
    """One key set, by location."""

    def __init__(self, location: str, refresh_interval: float) -> None:
        self.location = location
        self.refresh_interval = refresh_interval
        self._keys: dict[str, PyJWK] = {}
        self._unnamed: list[PyJWK] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> PyJWK | None:
        """The key ``kid`` names (the only key when the token names none), reading the set
        again when it is unknown and the last read is old enough."""
        found = self._lookup(kid)
        if found is not None:
            return found
        async with self._lock:
            found = self._lookup(kid)
            recent = (
                self._read_at is not None
                and time.monotonic() - self._read_at < self.refresh_interval
            )
            if found is None and not recent:
                await self._refresh()
                found = self._lookup(kid)
        return found

    def _lookup(self, kid: str | None) -> PyJWK | None:
        if kid is not None:
            return self._keys.get(kid)
        everything = [*self._keys.values(), *self._unnamed]
        return everything[0] if len(everything) == 1 else None

    async def _refresh(self) -> None:
        self._read_at = time.monotonic()
        document = await asyncio.to_thread(self._read)
        try:
            keys = PyJWKSet.from_dict(document).keys
        except (PyJWKSetError, PyJWKError) as err:
            raise JwksError(f"{redact(self.location)}: {err}") from None
        self._keys = {str(k.key_id): k for k in keys if k.key_id}
        self._unnamed = [k for k in keys if not k.key_id]

    def _read(self) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="mcpb-jwks-") as work:
            dest = Path(work) / "jwks.json"
            try:
                fetch(self.location, dest, options=_OPTIONS)
                return parse_json_object(dest.read_bytes(), max_size=MAX_JWKS)
            except (McpbError, JsonDocumentError, OSError) as err:
                raise JwksError(f"{redact(self.location)}: {err}") from None
