"""fetch() against a real loopback HTTP server with injected faults."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from mcpb.bundle.errors import FetchError, IntegrityError
from mcpb.loader.fetch import FetchOptions, fetch, redact
from tests.support.faulty_http import FaultyServer, faulty_server

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()
FAST = FetchOptions(
    connect_timeout=2, read_timeout=2, attempts=4, backoff_initial=0.01, backoff_max=0.05
)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_clean_download_hashes_while_writing(tmp_path: Path) -> None:
    with faulty_server(FaultyServer(BODY)) as srv:
        result = fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, options=FAST)
    assert result.sha256 == SHA
    assert result.size == len(BODY)
    assert (tmp_path / "b.mcpb").read_bytes() == BODY
    assert result.attempts == 1
    assert result.resumed == 0
    assert leftovers(tmp_path) == ["b.mcpb"]


def test_500_then_success_is_retried(tmp_path: Path) -> None:
    with faulty_server(FaultyServer(BODY, plan=["500", "500"])) as srv:
        result = fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, options=FAST)
        assert len(srv.requests) == 3
    assert result.sha256 == SHA
    assert result.attempts == 3


def test_404_is_not_retried_and_names_url(tmp_path: Path) -> None:
    with (
        faulty_server(FaultyServer(BODY, plan=["404"])) as srv,
        pytest.raises(FetchError) as err,
    ):
        fetch(srv.url, tmp_path / "b.mcpb", options=FAST)
        assert len(srv.requests) == 1
    assert srv.url in str(err.value)
    assert "HTTP 404" in str(err.value)
    assert leftovers(tmp_path) == []


def test_reset_mid_body_is_retried(tmp_path: Path) -> None:
    with faulty_server(FaultyServer(BODY, plan=["cut"])) as srv:
        result = fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, options=FAST)
        assert len(srv.requests) == 2
    # a TCP reset may discard bytes in flight: resumed from wherever our file ended
    assert result.sha256 == SHA
    assert (tmp_path / "b.mcpb").read_bytes() == BODY


def test_truncated_body_resumes_with_range(tmp_path: Path) -> None:
    with faulty_server(FaultyServer(BODY, plan=["short"])) as srv:
        result = fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, options=FAST)
        second = srv.requests[1]
    assert result.resumed == 1
    assert result.sha256 == SHA
    assert second["Range"] == f"bytes={len(BODY) // 2}-"
    assert second["If-Range"] == '"v1"'
    assert (tmp_path / "b.mcpb").read_bytes() == BODY


def test_server_without_range_restarts_from_zero(tmp_path: Path) -> None:
    state = FaultyServer(BODY, plan=["short"], supports_range=False)
    with faulty_server(state) as srv:
        result = fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, options=FAST)
        assert "Range" in srv.requests[1]  # we asked; the server answered 200 with everything
    assert result.resumed == 0
    assert result.sha256 == SHA
    assert (tmp_path / "b.mcpb").read_bytes() == BODY


def test_changed_file_restarts_instead_of_splicing(tmp_path: Path) -> None:
    with faulty_server(FaultyServer(BODY, plan=["cut-old"])) as srv:
        result = fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, options=FAST)
        # If-Range carried the old validator: the server sent the whole new file
        assert srv.requests[1]["If-Range"] == '"old"'
    assert result.resumed == 0
    assert result.sha256 == SHA


def test_too_large_by_content_length(tmp_path: Path) -> None:
    opts = FetchOptions(max_size=1000, attempts=2, backoff_initial=0.01)
    with (
        faulty_server(FaultyServer(BODY)) as srv,
        pytest.raises(FetchError, match="exceeds the maximum of 1000"),
    ):
        fetch(srv.url, tmp_path / "b.mcpb", options=opts)
    assert leftovers(tmp_path) == []


def test_too_large_without_content_length_is_counted(tmp_path: Path) -> None:
    opts = FetchOptions(max_size=1000, attempts=2, backoff_initial=0.01)
    with (
        faulty_server(FaultyServer(BODY, send_length=False)) as srv,
        pytest.raises(FetchError, match="body exceeds the maximum of 1000"),
    ):
        fetch(srv.url, tmp_path / "b.mcpb", options=opts)
    assert leftovers(tmp_path) == []


def test_slow_server_times_out_with_clear_message(tmp_path: Path) -> None:
    opts = FetchOptions(read_timeout=0.3, attempts=2, backoff_initial=0.01, backoff_max=0.01)
    started = time.monotonic()
    with (
        faulty_server(FaultyServer(BODY, plan=["stall", "stall"], stall=3)) as srv,
        pytest.raises(FetchError) as err,
    ):
        fetch(srv.url, tmp_path / "b.mcpb", options=opts)
    assert time.monotonic() - started < 2.5  # two 0.3 s timeouts, not the server's 6 s of stalls
    assert "timed out" in str(err.value)
    assert "after 2 attempts" in str(err.value)
    assert srv.url in str(err.value)
    assert leftovers(tmp_path) == []


def test_connection_refused_retries_then_fails(tmp_path: Path) -> None:
    with faulty_server(FaultyServer(BODY)) as srv:
        url = srv.url
    with pytest.raises(FetchError, match="connection refused"):
        fetch(url, tmp_path / "b.mcpb", options=FAST)


def test_digest_mismatch_leaves_nothing(tmp_path: Path) -> None:
    with (
        faulty_server(FaultyServer(BODY)) as srv,
        pytest.raises(IntegrityError, match="SHA256 mismatch") as err,
    ):
        fetch(srv.url, tmp_path / "b.mcpb", expected_sha256="0" * 64, options=FAST)
    assert SHA in str(err.value)
    assert leftovers(tmp_path) == []


def test_redirect_is_followed(tmp_path: Path) -> None:
    with faulty_server(FaultyServer(BODY, plan=["redirect"])) as srv:
        result = fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, options=FAST)
        assert srv.requests[1]["path"] == "/moved/bundle.mcpb"
    assert result.sha256 == SHA


def test_local_path_and_file_url(tmp_path: Path) -> None:
    src = tmp_path / "src.mcpb"
    src.write_bytes(BODY)
    out = tmp_path / "out"
    assert fetch(str(src), out / "a", expected_sha256=SHA).sha256 == SHA
    assert fetch(src.as_uri(), out / "b").sha256 == SHA
    assert (out / "b").read_bytes() == BODY
    with pytest.raises(FetchError, match="no such file"):
        fetch(str(tmp_path / "missing.mcpb"), out / "c")
    assert leftovers(out) == ["a", "b"]


def test_progress_only_when_asked(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with faulty_server(FaultyServer(BODY)) as srv:
        fetch(srv.url, tmp_path / "quiet", options=FAST)  # stderr is not a TTY under pytest
        assert capfd.readouterr().err == ""
        loud = FetchOptions(progress=True)
        fetch(srv.url, tmp_path / "loud", options=loud)
    err = capfd.readouterr().err
    assert "bundle.mcpb" in err
    assert "(100%)" in err


def test_redact_hides_credentials_and_query() -> None:
    shown = redact("https://user:secret@example.test/b.mcpb?X-Sig=abc")
    assert shown == "https://example.test/b.mcpb?…"


def test_attempts_that_make_progress_are_not_counted(tmp_path: Path) -> None:
    big = os.urandom(6 << 20)
    opts = FetchOptions(attempts=2, backoff_initial=0.01, backoff_max=0.01)
    # three short bodies: the first two deliver 3 and 1.5 MiB (forgiven), the third 0.75 MiB
    # costs one attempt, the fourth completes
    with faulty_server(FaultyServer(big, plan=["short", "short", "short"])) as srv:
        result = fetch(srv.url, tmp_path / "big", options=opts)
        assert len(srv.requests) == 4
    assert result.resumed == 3
    assert result.sha256 == hashlib.sha256(big).hexdigest()


def test_partial_file_survives_a_failed_run_and_is_continued(tmp_path: Path) -> None:
    partial = tmp_path / "staging" / "x.partial"
    partial.parent.mkdir()
    one_try = FetchOptions(attempts=1, backoff_initial=0.01)
    with faulty_server(FaultyServer(BODY, plan=["short"])) as srv, pytest.raises(FetchError):
        fetch(srv.url, tmp_path / "b.mcpb", options=one_try, partial=partial)
    assert partial.read_bytes() == BODY[: len(BODY) // 2]  # kept for the next run
    assert not (tmp_path / "b.mcpb").exists()
    with faulty_server(FaultyServer(BODY)) as srv:  # a new run, a new server
        result = fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, partial=partial)
        assert srv.requests[0]["Range"] == f"bytes={len(BODY) // 2}-"
    assert result.resumed == 1
    assert result.sha256 == SHA
    assert not partial.exists()  # renamed into place


def test_bad_partial_fails_the_digest_and_is_removed(tmp_path: Path) -> None:
    partial = tmp_path / "x.partial"
    partial.write_bytes(b"garbage from another file")
    with faulty_server(FaultyServer(BODY)) as srv, pytest.raises(IntegrityError):
        fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, partial=partial)
    assert not partial.exists()  # the next run starts clean
    with faulty_server(FaultyServer(BODY)) as srv:
        assert fetch(srv.url, tmp_path / "b.mcpb", expected_sha256=SHA, partial=partial).size
