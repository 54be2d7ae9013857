"""``requestState`` handles: opaque to the client, signed so that a forged one is refused.

A handle names a request the transport keeps waiting for the client's input (the server
behind it asked a question mid-call), plus the round it was issued in: each round's state
differs and only the newest is accepted. The signing key lives only in this process, so a
state is good only here and only until the request is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


class RequestStates:
    """Issues and verifies signed ``requestState`` strings."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def issue(self, handle: str, round_: int) -> str:
        """The state naming ``handle`` at ``round_``."""
        body = f"{handle}.{round_}"
        return f"{body}.{self._sign(body)}"

    def verify(self, state: object) -> tuple[str, int] | None:
        """(handle, round) of a state this process issued, or None (forged, tampered, foreign)."""
        if not isinstance(state, str) or state.count(".") != 2:
            return None
        handle, round_text, signature = state.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{handle}.{round_text}")):
            return None
        try:
            return handle, int(round_text)
        except ValueError:
            return None

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:32]
