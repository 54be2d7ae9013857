"""Download a bundle to a file: timeouts, retries, ``Range`` resume, a size cap, SHA-256 on the fly.

Built on the standard library's :mod:`http.client` rather than httpx: the loader goes into every
base image, one GET of one file needs no connection pool or HTTP/2, and ``http.client`` exposes
exactly the knobs this needs (separate connect and read timeouts, raw status and headers for
``Range``/``Content-Range``, streaming reads). TLS uses :func:`ssl.create_default_context`, so the
system CA store (and ``SSL_CERT_FILE``) applies.

Policy: connection errors, timeouts, truncated bodies and 5xx are retried with exponential
backoff and jitter; 4xx is final. After a truncated body the next attempt asks for the rest with
``Range`` (and ``If-Range`` when the server gave a validator); a ``206`` whose ``Content-Range``
starts exactly where we stopped is appended, anything else restarts from byte 0. The file is
written to a temporary sibling of the destination and renamed only once complete and, when a
digest is expected, verified — a mismatch leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import random
import re
import socket
import ssl
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mcpb.bundle.digest import normalize_sha256
from mcpb.bundle.errors import FetchError, IntegrityError

log = logging.getLogger("mcpb.loader.fetch")

CHUNK = 1 << 16
PROGRESS = 1 << 20  # bytes an interrupted attempt must add to be forgiven
_REDIRECTS = {301, 302, 303, 307, 308}
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class FetchOptions:
    """Limits and retry policy of one download."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    max_size: int = 2 * 1024**3
    max_redirects: int = 5
    progress: bool | None = None  # None: draw progress only when stderr is a terminal
    #: The whole download, retries included, in seconds (None: no limit): a server that
    #: trickles a byte a second never trips the read timeout, but this.
    deadline: float | None = 600.0


@dataclass(frozen=True)
class FetchResult:
    """Where the bytes landed and what they are."""

    path: Path
    sha256: str
    size: int
    attempts: int  # HTTP requests made (1 for a clean download, 0 for a local file)
    resumed: int  # how many times a partial download was continued with Range


def split_url(url: str) -> urllib.parse.SplitResult:
    """``urlsplit`` that reports a malformed URL (``http://[::1/x``) as a FetchError."""
    try:
        return urllib.parse.urlsplit(url)
    except ValueError as err:
        raise FetchError(f"{url[:200]}: not a valid URL ({err})") from None


def is_local(url: str) -> bool:
    """True for ``file://`` URLs and plain paths; False for ``http(s)://``."""
    scheme = split_url(url).scheme.lower()
    return scheme not in ("http", "https")


def local_path(url: str) -> Path:
    """The filesystem path of a ``file://`` URL or a plain path."""
    parts = split_url(url)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise FetchError(f"{url}: file:// URLs must name a local path (no host)")
        return Path(urllib.parse.unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:
        raise FetchError(f"{url}: unsupported URL scheme {parts.scheme!r} (http, https, file)")
    return Path(url).expanduser()


def redact(url: str) -> str:
    """The URL without credentials or query string, safe to print (presigned URLs carry secrets)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "(a malformed URL)"
    host = parts.netloc.rpartition("@")[2]
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{parts.path}{query}"


def fetch(
    url: str,
    dest: Path,
    *,
    expected_sha256: str | None = None,
    options: FetchOptions | None = None,
    staging: Path | None = None,
    partial: Path | None = None,
) -> FetchResult:
    """Copy the bundle at ``url`` to ``dest`` atomically; verify ``expected_sha256`` if given.

    The temporary file lives in ``staging`` (default: ``dest``'s directory; it must be on the
    same file system). With ``partial`` (a path the caller owns exclusively, e.g. under a lock)
    the download continues from what that file holds and leaves it behind when it fails, so a
    restarted loader resumes instead of starting over; a digest mismatch removes it. Raises
    :class:`FetchError` (one line naming the URL and the cause) or :class:`IntegrityError` on a
    digest mismatch; ``dest`` is untouched on any failure.
    """
    opts = options or FetchOptions()
    want = normalize_sha256(expected_sha256) if expected_sha256 else None
    dest.parent.mkdir(parents=True, exist_ok=True)
    local = is_local(url)
    if partial is not None and not local:
        tmp = partial
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o644)
    else:
        tmp_dir = staging or dest.parent
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=tmp_dir)
        tmp = Path(tmp_name)
    keep = False
    try:
        with os.fdopen(fd, "r+b") as out:
            if local:
                digest, size = _copy_local(url, out, opts)
                attempts = resumed = 0
            else:
                download = _Download(url, out, opts)
                if partial is not None:
                    download.continue_file()
                keep = partial is not None
                download.run()
                digest, size = download.hasher.hexdigest(), download.received
                attempts, resumed = download.attempts, download.resumed
        keep = False
        if want is not None and digest != want:
            raise IntegrityError(
                f"{url if local else redact(url)}: SHA256 mismatch: expected {want}, got {digest}"
            )
        tmp.replace(dest)
    except BaseException:
        if not keep or _empty(tmp):
            tmp.unlink(missing_ok=True)
        raise
    return FetchResult(dest, digest, size, attempts, resumed)


def _empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return True


def _copy_local(url: str, out: BinaryIO, opts: FetchOptions) -> tuple[str, int]:
    path = local_path(url)
    hasher = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as src:
            while chunk := src.read(1 << 20):
                size += len(chunk)
                if size > opts.max_size:
                    raise FetchError(f"{url}: larger than the maximum of {opts.max_size} bytes")
                hasher.update(chunk)
                out.write(chunk)
    except FileNotFoundError:
        raise FetchError(f"{url}: no such file") from None
    except IsADirectoryError:
        raise FetchError(f"{url}: is a directory, not a bundle file") from None
    except PermissionError:
        raise FetchError(f"{url}: permission denied") from None
    return hasher.hexdigest(), size


class _RetryError(Exception):
    """A transient failure: try again after a backoff."""


class _RestartError(Exception):
    """The server cannot continue a partial download: start over at once."""


class _Download:
    """State of one download across attempts: the file so far, its hash, the server validator."""

    def __init__(self, url: str, out: BinaryIO, opts: FetchOptions) -> None:
        self.url = url
        self.shown = redact(url)
        self.out = out
        self.opts = opts
        self.hasher = hashlib.sha256()
        self.received = 0
        self.validator: str | None = None
        self.attempts = 0
        self.resumed = 0
        self.progress = _Progress.create(self.shown, opts.progress)
        self.ends_at = None if opts.deadline is None else time.monotonic() + opts.deadline

    def _check_deadline(self) -> None:
        if self.ends_at is not None and time.monotonic() > self.ends_at:
            raise FetchError(
                f"{self.shown}: the download took longer than {self.opts.deadline:g}s "
                f"({self.received} bytes received)"
            )

    def run(self) -> None:
        """Attempt until done; an attempt that moved the file on by ``PROGRESS`` bytes or more
        does not count against ``attempts`` (a long download over a flaky link finishes)."""
        failures = 0
        while True:
            before = self.received
            try:
                self._attempt()
            except _RestartError as why:
                log.warning("%s: %s; restarting the download from byte 0", self.shown, why)
                self._reset()
                failures += 1
            except _RetryError as why:
                if self.received - before < PROGRESS:
                    failures += 1
                if failures >= self.opts.attempts:
                    raise FetchError(
                        f"{self.shown}: {why} (gave up after {self.attempts} attempts)"
                    ) from None
                delay = self._backoff(max(failures, 1))
                if self.ends_at is not None:
                    delay = min(delay, max(self.ends_at - time.monotonic(), 0.0))
                log.warning("%s: %s; retrying in %.1fs", self.shown, why, delay)
                time.sleep(delay)
                self._check_deadline()
            else:
                self.progress.done(self.received)
                return
            if failures >= self.opts.attempts * 2:
                raise FetchError(f"{self.shown}: too many restarts")

    def continue_file(self) -> None:
        """Take the bytes already in the file (an earlier run's partial download) as received."""
        self.out.seek(0)
        while chunk := self.out.read(1 << 20):
            self.hasher.update(chunk)
            self.received += len(chunk)
        if self.received > self.opts.max_size:
            self._reset()
        elif self.received:
            log.info("%s: continuing a partial download at byte %d", self.shown, self.received)

    def _backoff(self, failures: int) -> float:
        base = min(self.opts.backoff_max, self.opts.backoff_initial * 2.0 ** (failures - 1))
        jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
        return base * jitter

    def _reset(self) -> None:
        self.out.seek(0)
        self.out.truncate()
        self.hasher = hashlib.sha256()
        self.received = 0
        self.validator = None

    def _attempt(self) -> None:
        headers = {"User-Agent": "mcpb-loader", "Accept-Encoding": "identity"}
        if self.received:
            headers["Range"] = f"bytes={self.received}-"
            if self.validator:
                headers["If-Range"] = self.validator
        conn, resp = self._request(headers)
        try:
            total = self._check_response(resp)
            self._read_body(resp, total)
        except TimeoutError:
            raise _RetryError(f"read timed out after {self.opts.read_timeout:g}s") from None
        except (http.client.HTTPException, OSError) as err:
            raise _RetryError(_describe(err)) from None
        finally:
            conn.close()

    def _request(
        self, headers: dict[str, str]
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        url = self.url
        for _ in range(self.opts.max_redirects + 1):
            self.attempts += 1
            parts = split_url(url)
            conn = _connect(parts, self.opts)
            try:
                conn.connect()
                if conn.sock is not None:
                    conn.sock.settimeout(self.opts.read_timeout)
                target = parts.path or "/"
                if parts.query:
                    target += "?" + parts.query
                conn.request("GET", target, headers=headers)
                resp = conn.getresponse()
            except TimeoutError:
                conn.close()
                raise _RetryError("timed out waiting for the server") from None
            except ssl.SSLCertVerificationError as err:
                conn.close()
                raise FetchError(f"{self.shown}: TLS certificate rejected: {err.reason}") from None
            except (http.client.HTTPException, OSError) as err:
                conn.close()
                raise _RetryError(_describe(err)) from None
            if resp.status not in _REDIRECTS:
                return conn, resp
            location = resp.getheader("Location")
            conn.close()
            if not location:
                raise FetchError(f"{self.shown}: HTTP {resp.status} redirect without Location")
            try:
                new = urllib.parse.urljoin(url, location)
            except ValueError:
                raise FetchError(f"{self.shown}: redirect to a malformed URL") from None
            new_scheme = split_url(new).scheme.lower()
            if new_scheme not in ("http", "https"):
                raise FetchError(f"{self.shown}: redirect to unsupported scheme {new_scheme!r}")
            if parts.scheme.lower() == "https" and new_scheme == "http":
                raise FetchError(f"{self.shown}: refusing redirect from https to http")
            url = new
        raise FetchError(f"{self.shown}: more than {self.opts.max_redirects} redirects")

    def _check_response(self, resp: http.client.HTTPResponse) -> int | None:
        """Decide what to do with the status; return the expected final size if known."""
        status = resp.status
        if status >= 500:
            raise _RetryError(f"HTTP {status} {resp.reason}".rstrip())
        if status == 416 and self.received:
            raise _RestartError("server rejected the Range request (416)")
        if status == 206 and self.received:
            total = self._check_content_range(resp.getheader("Content-Range", ""))
            self.resumed += 1
            log.info("%s: resuming at byte %d", self.shown, self.received)
        elif status == 200:
            if self.received:
                log.warning("%s: server ignored Range; restarting from byte 0", self.shown)
                self._reset()
            length = resp.getheader("Content-Length")
            total = int(length) if length and length.isdigit() else None
        else:
            raise FetchError(f"{self.shown}: HTTP {status} {resp.reason}".rstrip())
        if total is not None and total > self.opts.max_size:
            raise FetchError(
                f"{self.shown}: size {total} bytes exceeds the maximum of {self.opts.max_size}"
            )
        self.validator = resp.getheader("ETag") or resp.getheader("Last-Modified")
        if self.validator and self.validator.startswith("W/"):
            self.validator = None  # weak validators are not allowed in If-Range
        self.progress.start(total, self.received)
        return total

    def _check_content_range(self, value: str) -> int | None:
        match = _CONTENT_RANGE.fullmatch(value.strip())
        if match is None or int(match.group(1)) != self.received:
            at = self.received
            raise _RestartError(f"unexpected Content-Range {value!r} for a resume at {at}")
        return None if match.group(3) == "*" else int(match.group(3))

    def _read_body(self, resp: http.client.HTTPResponse, total: int | None) -> None:
        while True:
            try:
                chunk = resp.read1(CHUNK)  # what has arrived: a trickle still meets the deadline
            except http.client.IncompleteRead as err:
                chunk = err.partial
                self._take(chunk)
                raise _RetryError(self._truncated(total)) from None
            if not chunk:
                break
            self._take(chunk)
        if total is not None and self.received < total:
            raise _RetryError(self._truncated(total))

    def _take(self, chunk: bytes) -> None:
        self._check_deadline()
        if self.received + len(chunk) > self.opts.max_size:
            raise FetchError(
                f"{self.shown}: body exceeds the maximum of {self.opts.max_size} bytes"
            )
        self.out.write(chunk)
        self.hasher.update(chunk)
        self.received += len(chunk)
        self.progress.update(self.received)

    def _truncated(self, total: int | None) -> str:
        of = f" of {total}" if total is not None else ""
        return f"connection closed after {self.received}{of} bytes"


def _connect(parts: urllib.parse.SplitResult, opts: FetchOptions) -> http.client.HTTPConnection:
    host = parts.hostname
    if not host:
        raise FetchError(f"{redact(parts.geturl())}: URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise FetchError(f"{redact(parts.geturl())}: the URL's port is not a number") from None
    timeout = opts.connect_timeout
    if parts.scheme.lower() == "https":
        context = ssl.create_default_context()
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def _describe(err: BaseException) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(err, http.client.RemoteDisconnected):
        return "server closed the connection without a response"
    if isinstance(err, socket.gaierror):
        return f"cannot resolve host ({err.strerror})"
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return str(text)


class _Progress:
    """A one-line progress display on stderr; silent unless it is a terminal (or forced)."""

    def __init__(self, name: str, write: Callable[[str], object] | None) -> None:
        self.name = name
        self.write = write
        self.total: int | None = None
        self.last = 0.0

    @classmethod
    def create(cls, name: str, enabled: bool | None) -> _Progress:
        on = sys.stderr.isatty() if enabled is None else enabled
        return cls(name, sys.stderr.write if on else None)

    def start(self, total: int | None, at: int) -> None:
        self.total = None if total is None else total
        self.update(at, force=True)

    def update(self, received: int, *, force: bool = False) -> None:
        if self.write is None:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        mib = received / 1048576
        if self.total:
            line = f"{mib:.1f}/{self.total / 1048576:.1f} MiB ({100 * received // self.total}%)"
        else:
            line = f"{mib:.1f} MiB"
        self.write(f"\r{self.name}: {line}\x1b[K")

    def done(self, received: int) -> None:
        if self.write is not None:
            self.update(received, force=True)
            self.write("\n")
            with contextlib.suppress(OSError):
                sys.stderr.flush()
