"""The GitHub REST calls ``mcpb publish`` makes, with the retries and errors they need.

Only the releases API (``../shared/reference/publishing.md`` §1): find a release (drafts are
found by listing, since ``/releases/tags/{tag}`` sees published ones only), create a draft,
list, delete and upload assets (to the release's own ``upload_url``), publish. Network errors,
5xx and rate limits (403/429 with ``retry-after`` or ``x-ratelimit-remaining: 0``) are retried
with backoff; 401, 403, 404 and 422 become one-line :class:`GitHubError` messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from mcpb.bundle.errors import McpbError

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
_RETRIES = 5


class GitHubError(McpbError):
    """GitHub refused a call, or could not be reached; ``status`` is the HTTP status (0: none)."""

    def __init__(self, message: str, status: int = 0, payload: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.payload = payload


class GitHubClient:
    """The calls, for one repository ``owner/name``."""

    def __init__(
        self,
        repo: str,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 60.0,
    ) -> None:
        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=timeout,
            headers={
                "authorization": f"Bearer {token}",
                "accept": "application/vnd.github+json",
                "x-github-api-version": API_VERSION,
                "user-agent": "mcpb-publish",
            },
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- calls

    def repository(self) -> dict[str, Any]:
        """The repository (``html_url`` is where its release downloads live)."""
        result: dict[str, Any] = self._call("GET", f"/repos/{self.repo}")
        return result

    def find_release(self, tag: str) -> dict[str, Any] | None:
        """The release of ``tag``, published or draft, or None."""
        page = 1
        while True:
            listed = self._call(
                "GET", f"/repos/{self.repo}/releases", params={"per_page": 100, "page": page}
            )
            for release in listed:
                if release.get("tag_name") == tag:
                    found: dict[str, Any] = release
                    return found
            if len(listed) < 100:
                return None
            page += 1

    def create_draft(self, tag: str, name: str) -> dict[str, Any]:
        """A new draft release for ``tag``."""
        body = {"tag_name": tag, "name": name, "draft": True, "prerelease": False}
        result: dict[str, Any] = self._call("POST", f"/repos/{self.repo}/releases", json=body)
        return result

    def assets(self, release_id: int) -> list[dict[str, Any]]:
        """The release's assets (uploaded or not)."""
        result: list[dict[str, Any]] = self._call(
            "GET", f"/repos/{self.repo}/releases/{release_id}/assets", params={"per_page": 100}
        )
        return result

    def delete_asset(self, asset_id: int) -> None:
        """Delete an asset (a mutable release's only)."""
        self._call("DELETE", f"/repos/{self.repo}/releases/assets/{asset_id}")

    def upload(
        self, upload_url: str, path: Path, name: str, content_type: str, label: str
    ) -> dict[str, Any]:
        """Upload ``path`` as asset ``name`` to a release's ``upload_url`` template."""
        url = upload_url.split("{", 1)[0]
        result: dict[str, Any] = self._call(
            "POST",
            url,
            params={"name": name, "label": label},
            content=path.read_bytes(),
            headers={"content-type": content_type},
            absolute=True,
        )
        return result

    def publish(self, release_id: int) -> dict[str, Any]:
        """Turn a draft into a published release."""
        result: dict[str, Any] = self._call(
            "PATCH", f"/repos/{self.repo}/releases/{release_id}", json={"draft": False}
        )
        return result

    # ----------------------------------------------------------------- transport

    def _call(self, method: str, path: str, *, absolute: bool = False, **kwargs: Any) -> Any:
        url = path if absolute else f"{self.api_url}{path}"
        delay = 1.0
        for attempt in range(1, _RETRIES + 1):
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.HTTPError as err:
                if attempt == _RETRIES:
                    raise GitHubError(f"{method} {url}: {err}") from None
                self._sleep(delay)
                delay *= 2
                continue
            wait = _retry_after(response)
            if (response.status_code >= 500 or wait is not None) and attempt < _RETRIES:
                self._sleep(wait if wait is not None else delay)
                delay *= 2
                continue
            return self._result(method, url, response)
        raise AssertionError("unreachable")

    def _result(self, method: str, url: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 204:
            return None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if status < 300:
            return payload
        message = payload.get("message", "") if isinstance(payload, dict) else ""
        if status == 401:
            text = "GitHub rejected the token (401): set GITHUB_TOKEN or GH_TOKEN to a valid token"
        elif status == 403:
            text = (
                f"GitHub refused {method} (403: {message or 'forbidden'}): the token needs "
                "the contents: write permission on the repository"
            )
        elif status == 404:
            text = f"repository {self.repo} not found, or the token cannot see it (404)"
        elif status == 422:
            details = payload.get("errors") if isinstance(payload, dict) else None
            text = f"GitHub refused {method} {url} (422: {message}{_codes(details)})"
        else:
            text = f"GitHub answered {method} {url} with {status}: {message}"
        raise GitHubError(text, status, payload)


def _codes(errors: Any) -> str:
    if not isinstance(errors, list):
        return ""
    codes = [f"{e.get('field')} {e.get('code')}" for e in errors if isinstance(e, dict)]
    return f": {', '.join(codes)}" if codes else ""


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait before retrying a rate-limited call, or None when it is not one."""
    if response.status_code not in (403, 429):
        return None
    after = response.headers.get("retry-after")
    if after is not None and after.strip().isdigit():
        return float(after)
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = response.headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            return max(0.0, float(reset) - time.time()) + 1
    return 60.0 if response.status_code == 429 else None
