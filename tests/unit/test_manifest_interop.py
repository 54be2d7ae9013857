"""The reference MCPB CLI (npm @anthropic-ai/mcpb) agrees with our manifest verdicts."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from mcpb.bundle.manifest import validate_manifest_data
from mcpb.bundle.manifest_formats import is_email, is_url
from tests.data.manifests.official import HERE, load

pytestmark = pytest.mark.interop

# A sample across versions, gates, unknown keys, formats and the reference-semantics cases.
# (Not localization-uppercase-placeholder: the official schema rejects "${LOCALE}", which the
# reference's case-insensitive regex accepts; we follow the official schema there.)
SAMPLE = [
    "valid/v01-minimal.json",
    "valid/v03-full.json",
    "valid/v04-uv.json",
    "valid/dxt-01-only.json",
    "valid/platform-overrides-any-key.json",
    "invalid/no-version.json",
    "invalid/dxt-conflicts.json",
    "invalid/uv-in-03.json",
    "invalid/privacy-in-01.json",
    "invalid/unknown-in-override.json",
    "invalid/icon-theme-empty.json",
    "reference/valid/url-with-space-in-path.json",
    "reference/invalid/email-without-tld.json",
    "reference/invalid/icon-size-trailing-newline.json",
]


@pytest.mark.parametrize("name", SAMPLE)
def test_reference_validate_agrees(reference_mcpb: Path, name: str) -> None:
    path = HERE / name
    ours = validate_manifest_data(load(path)) == []
    assert ours is ("/valid/" in f"/{name}")
    done = subprocess.run(
        [str(reference_mcpb), "validate", str(path)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode == 0) is ours, done.stdout + done.stderr
    assert ("validation passes" in done.stdout) is ours


FIXED_STRINGS = [
    "https://example.com",
    "http://",
    "http:x",
    "https:///x",
    "example.com",
    "mailto:a@b.co",
    "foo://a b",
    "http://1.2.3.256",
    "http://example.123",
    "http://[::1]:8080/x",
    "http://x:65536",
    "https://example.com/a b",
    "http://ünicode.de",
    "file:///etc/hosts",
    "a@b.co",
    "a@localhost",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a'b@example.com",
    "a@-x.com",
    "a@x-.com",
    "a@x.c",
    "a@x.c0m",
    "A+B_C@EXAMPLE.ORG",
    "a@b@c.com",
    "",
]


def random_strings(count: int) -> list[str]:
    rng = random.Random(20261122)
    alphabet = "ab.-_+'@:/\\[]%?#09x "
    prefixes = ["", "http://", "https:", "foo://", "file://", "a@", "x.y@"]
    return [
        rng.choice(prefixes) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        for _ in range(count)
    ]


def test_formats_match_the_reference_zod(reference_mcpb: Path) -> None:
    """Our email/uri checks against zod's ``.email()`` and ``.url()`` in the reference's deps."""
    node = shutil.which("node")
    assert node is not None, "node is required for the interop tests"
    zod = reference_mcpb.parent.parent / "zod" / "index.js"  # node_modules/.bin/mcpb
    assert zod.is_file(), f"zod not found beside the reference CLI: {zod}"
    strings = FIXED_STRINGS + random_strings(600)
    script = (
        f"const {{ z }} = await import({json.dumps(zod.as_uri())});"
        "const input = JSON.parse(require_stdin());"
        "const email = z.string().email(), url = z.string().url();"
        "console.log(JSON.stringify(input.map(s => "
        "[email.safeParse(s).success, url.safeParse(s).success])));"
    ).replace(
        "require_stdin()",
        "await new Promise(r => { let d = ''; process.stdin.on('data', c => d += c);"
        " process.stdin.on('end', () => r(d)); })",
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps(strings),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    verdicts = json.loads(done.stdout)
    assert len(verdicts) == len(strings)
    email_diff = [s for s, (e, _) in zip(strings, verdicts, strict=True) if is_email(s) != e]
    url_diff = [s for s, (_, u) in zip(strings, verdicts, strict=True) if is_url(s) != u]
    assert email_diff == []
    assert url_diff == []
    # The sample exercises both answers of both checks.
    assert {e for e, _ in verdicts} == {True, False}
    assert {u for _, u in verdicts} == {True, False}
