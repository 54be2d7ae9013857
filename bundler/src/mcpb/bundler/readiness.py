"""Wait for a served bundle's ``/ready`` endpoint: the demo and ``mcpb test`` both need it."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable


def wait_ready(
    base: str, *, exited: Callable[[], str | None], timeout: float, interval: float = 0.2
) -> None:
    """Poll ``{base}/ready`` until it answers 200.

    ``exited`` returns a reason once the server can no longer become ready (its process or
    container ended), so a dead server fails at once instead of at the deadline. Raises
    ``RuntimeError`` for that, ``TimeoutError`` when ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reason = exited()
        if reason is not None:
            raise RuntimeError(f"{reason} before {base}/ready answered")
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(interval)
    raise TimeoutError(f"{base}/ready did not answer 200 within {timeout:.0f}s")
