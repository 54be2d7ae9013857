"""vMCP authentication end to end: real JWTs (RS256, ES256, EdDSA, HS256) signed here and
checked against a JWKS served on loopback (and one read from a file), API keys, scopes, allow
lists, RFC 9728 metadata, and the official SDK client with a bearer token. A recording HTTP
upstream shows that the client's credential never travels upstream."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcpb.aggregator.authn import require_auth_off_loopback
from mcpb.aggregator.config_file import validate
from mcpb.aggregator.errors import ConfigError
from tests.support.aggregator import Aggregator, aggregating, write_config
from tests.support.mcp_http import headers, initialize_body
from tests.support.recorder import Recorder
from tests.support.servers import echo_command, mcpb_executable

ISSUER = "https://idp.test"
CI_KEY = "ci-key-0123456789"
BOT_KEY = "bot-key-9876543210"
HS_SECRET = "a-shared-secret-of-thirty-two-bytes!"


@dataclass
class Keys:
    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey
    ed_key: ed25519.Ed25519PrivateKey
    other_rsa: rsa.RSAPrivateKey

    def jwks(self) -> dict[str, Any]:
        entries = [
            {**RSAAlgorithm.to_jwk(self.rsa_key.public_key(), as_dict=True), "kid": "rsa"},
            {**ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True), "kid": "ec"},
            {**OKPAlgorithm.to_jwk(self.ed_key.public_key(), as_dict=True), "kid": "ed"},
        ]
        return {"keys": entries}


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture(scope="module")
def gateway(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aggregator]:
    root = tmp_path_factory.mktemp("auth")
    served = root / "served"
    served.mkdir()
    (served / "jwks.json").write_text(json.dumps(keys.jwks()))
    (root / "prod-jwks.json").write_text(json.dumps(keys.jwks()))
    quiet = type("Quiet", (SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(quiet, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    recorder = Recorder()
    jwks_url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
    select = [{"upstreams": ["a", "rec"]}]
    config = {
        "clients": {
            "ci": {"key_sha256": hashlib.sha256(CI_KEY.encode()).hexdigest()},
            "bot": {"key_env": "MCPB_T_BOT_KEY"},
        },
        "upstreams": {
            "a": {"stdio": echo_command()},
            "rec": {
                "url": recorder.url,
                "headers": {"X-Team": "core"},
                "bearer_env": "MCPB_T_UPSTREAM_TOKEN",
            },
        },
        "vmcps": {
            "dev": {
                "select": select,
                "auth": {
                    "jwt": {"jwks": jwks_url, "issuer": ISSUER, "scopes": ["mcp"]},
                    "keys": ["ci"],
                },
                "allow": ["ci", "sub:alice", "claim:groups=ops"],
            },
            "prod": {
                "select": select,
                "auth": {"jwt": {"jwks": str(root / "prod-jwks.json"), "issuer": ISSUER}},
            },
            "keysonly": {"select": select, "auth": {"keys": ["bot"]}},
            "hs": {
                "select": select,
                "auth": {
                    "jwt": {"secret_env": "MCPB_T_HS", "issuer": ISSUER, "algorithms": ["HS256"]}
                },
            },
            "open": {"select": select},
        },
    }
    env = {"MCPB_T_BOT_KEY": BOT_KEY, "MCPB_T_HS": HS_SECRET, "MCPB_T_UPSTREAM_TOKEN": "up-tok"}
    with aggregating(write_config(root, config), env=env) as running:
        running.wait_for({"a": "up", "rec": "up"})
        running.recorder = recorder  # type: ignore[attr-defined]
        yield running
    recorder.close()
    httpd.shutdown()
    httpd.server_close()


def token(
    keys: Keys, gateway: Aggregator, vmcp: str = "dev", *, alg: str = "RS256", **claims: Any
) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": gateway.url(vmcp),
        "iat": now,
        "exp": now + 300,
        "scope": "mcp read",
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    signer: Any = {
        "RS256": keys.rsa_key,
        "ES256": keys.ec_key,
        "EdDSA": keys.ed_key,
        "HS256": HS_SECRET,
    }[alg]
    kid = {"RS256": "rsa", "ES256": "ec", "EdDSA": "ed", "HS256": None}[alg]
    return jwt.encode(body, signer, algorithm=alg, headers={"kid": kid} if kid else None)


def post(gateway: Aggregator, vmcp: str, credential: str | None) -> httpx.Response:
    extra = {"authorization": f"Bearer {credential}"} if credential else {}
    return httpx.post(
        gateway.url(vmcp), json=initialize_body(), headers={**headers(version=None), **extra}
    )


def metadata_url(gateway: Aggregator, vmcp: str) -> str:
    return f"{gateway.base_url}/.well-known/oauth-protected-resource/vmcp/{vmcp}/mcp"


def test_no_credential_is_401_pointing_to_the_metadata(gateway: Aggregator) -> None:
    response = post(gateway, "dev", None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{metadata_url(gateway, "dev")}", scope="mcp"'
    )
    keys_only = post(gateway, "keysonly", None)
    assert keys_only.status_code == 401
    assert keys_only.headers["www-authenticate"] == 'Bearer realm="vmcp/keysonly"'
    assert post(gateway, "open", None).status_code == 200  # loopback, no auth configured


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_valid_tokens_of_each_algorithm_are_accepted(
    keys: Keys, gateway: Aggregator, alg: str
) -> None:
    response = post(gateway, "dev", token(keys, gateway, alg=alg))
    assert response.status_code == 200, response.text
    assert response.json()["result"]["serverInfo"]


def test_hs256_with_the_shared_secret(keys: Keys, gateway: Aggregator) -> None:
    assert post(gateway, "hs", token(keys, gateway, "hs", alg="HS256")).status_code == 200
    # where HS256 is not configured, a token signed with a secret is refused
    refused = post(gateway, "dev", token(keys, gateway, alg="HS256"))
    assert refused.status_code == 401
    assert "algorithm 'HS256' is not accepted" in refused.headers["www-authenticate"]


def _forged_none(keys: Keys, gateway: Aggregator) -> str:
    real = token(keys, gateway)
    _, payload, _ = real.split(".")
    head = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    return f"{head}.{payload}."


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("expired", "the token has expired"),
        ("not_yet", "the token is not valid yet"),
        ("other_audience", "the token is not for"),
        ("replayed_from_prod", "the token is not for"),
        ("other_issuer", "the token is from another issuer"),
        ("bad_signature", "signature does not verify"),
        ("alg_none", "algorithm 'none' is not accepted"),
        ("unknown_kid", "no key of the key set matches"),
        ("garbage", "not a readable JWT"),
    ],
)
def test_bad_tokens_are_401_invalid_token(
    keys: Keys, gateway: Aggregator, case: str, detail: str
) -> None:
    now = int(time.time())
    credential = {
        "expired": lambda: token(keys, gateway, exp=now - 600, iat=now - 900),
        "not_yet": lambda: token(keys, gateway, nbf=now + 600),
        "other_audience": lambda: token(keys, gateway, aud="https://elsewhere/mcp"),
        "replayed_from_prod": lambda: token(keys, gateway, "prod"),
        "other_issuer": lambda: token(keys, gateway, iss="https://evil.test"),
        "bad_signature": lambda: jwt.encode(
            {"iss": ISSUER, "sub": "alice", "aud": gateway.url("dev"), "exp": now + 60},
            keys.other_rsa,
            algorithm="RS256",
            headers={"kid": "rsa"},
        ),
        "alg_none": lambda: _forged_none(keys, gateway),
        "unknown_kid": lambda: jwt.encode(
            {"iss": ISSUER, "sub": "alice", "aud": gateway.url("dev"), "exp": now + 60},
            keys.rsa_key,
            algorithm="RS256",
            headers={"kid": "rotated-away"},
        ),
        "garbage": lambda: "bm90IGpzb24.eyJ4Ijox.c2ln",  # the header is not JSON
    }[case]()
    response = post(gateway, "dev", credential)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(f'Bearer resource_metadata="{metadata_url(gateway, "dev")}"')
    assert 'error="invalid_token"' in challenge
    assert detail in challenge
    assert response.json()["error"]["message"].startswith("vmcp dev: ")


def test_the_prod_token_works_at_prod_with_keys_from_a_file(
    keys: Keys, gateway: Aggregator
) -> None:
    assert post(gateway, "prod", token(keys, gateway, "prod")).status_code == 200
    assert post(gateway, "prod", token(keys, gateway, "dev")).status_code == 401


def test_scopes_and_allow_lists_are_403(keys: Keys, gateway: Aggregator) -> None:
    no_scope = post(gateway, "dev", token(keys, gateway, scope="read"))
    assert no_scope.status_code == 403
    assert no_scope.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{metadata_url(gateway, "dev")}", scope="mcp", '
        'error="insufficient_scope"'
    )
    bob = post(gateway, "dev", token(keys, gateway, sub="bob"))
    assert bob.status_code == 403
    assert bob.json()["error"]["message"] == "vmcp dev: sub:bob is not allowed here"
    in_ops = token(keys, gateway, sub="carol", groups=["dev", "ops"])  # allowed by a claim
    assert post(gateway, "dev", in_ops).status_code == 200


def test_api_keys_name_their_client_and_open_only_their_vmcps(gateway: Aggregator) -> None:
    assert post(gateway, "dev", CI_KEY).status_code == 200
    wrong = post(gateway, "dev", BOT_KEY)  # a real key, of a client dev does not take
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert post(gateway, "keysonly", BOT_KEY).status_code == 200
    refused = post(gateway, "keysonly", CI_KEY)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('Bearer realm="vmcp/keysonly"')


def test_protected_resource_metadata(gateway: Aggregator) -> None:
    response = httpx.get(metadata_url(gateway, "dev"))  # no credentials needed
    assert response.status_code == 200
    assert response.json() == {
        "resource": gateway.url("dev"),
        "authorization_servers": [ISSUER],
        "scopes_supported": ["mcp"],
        "bearer_methods_supported": ["header"],
        "resource_name": "vmcp dev",
    }
    assert httpx.get(metadata_url(gateway, "keysonly")).status_code == 404
    assert httpx.get(metadata_url(gateway, "nothing")).status_code == 404


def test_the_sdk_client_with_a_bearer_token_and_nothing_reaches_upstream(
    keys: Keys, gateway: Aggregator
) -> None:
    credential = token(keys, gateway)

    async def scenario() -> tuple[list[str], str]:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {credential}"})
        async with http, Client(streamable_http_client(gateway.url("dev"), http_client=http)) as c:
            listed = await c.list_tools()
            result = await c.call_tool("rec__hello", {})
            return sorted(t.name for t in listed.tools), result.content[0].text  # type: ignore[union-attr]

    tools, text = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert "rec__hello" in tools and "a__echo" in tools
    assert text == "hi"
    seen = gateway.recorder.seen  # type: ignore[attr-defined]
    # the upstream's own credentials only: never the client's token
    assert seen and all(h.get("authorization") == "Bearer up-tok" for h in seen)
    assert all(h.get("x-team") == "core" for h in seen)


def test_no_auth_is_refused_off_loopback_unless_said() -> None:
    config = validate({"vmcps": {"open": {}, "said": {"auth": {"none": True}}}}, "t")
    require_auth_off_loopback(config, "127.0.0.1")
    with pytest.raises(ConfigError) as err:
        require_auth_off_loopback(config, "0.0.0.0")
    assert str(err.value) == (
        "vmcps.open: no auth while listening on 0.0.0.0; configure auth (jwt or keys) "
        "or say auth: {none: true}"
    )


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    for data, problem in [
        ({"vmcps": {"v": {"auth": {}}}}, "give jwt, keys, or none: true"),
        ({"vmcps": {"v": {"auth": {"keys": ["ghost"]}}}}, "names 'ghost', not a client"),
        ({"vmcps": {"v": {"auth": {"jwt": {"issuer": "x"}}}}}, "give jwks (public keys) or"),
        ({"clients": {"c": {"key_env": "A", "key_file": "/x"}}}, "exactly one of key_sha256"),
    ]:
        with pytest.raises(ConfigError) as err:
            validate(data, "file.json")
        assert problem in str(err.value)
        assert str(err.value).startswith("file.json: ")


def test_an_admin_token_that_is_a_client_key_is_refused(tmp_path: Path) -> None:
    config = {
        "clients": {"ci": {"key_sha256": hashlib.sha256(CI_KEY.encode()).hexdigest()}},
        "vmcps": {},
    }
    path = write_config(tmp_path, config)
    argv = [mcpb_executable(), "aggregate", "--config", str(path), "--port", "0"]
    proc = subprocess.run(
        argv,
        env={**os.environ, "MCPB_AGGREGATOR_ADMIN_TOKEN": CI_KEY},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 78
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .endswith("admin token: it is also the key of clients.ci; use another")
    )


def test_a_rotated_key_set_is_read_again_for_an_unknown_kid(keys: Keys, tmp_path: Path) -> None:
    """The provider rotates: a token signed with a new key (new kid) is accepted once the
    set is read again — and a made-up kid within the refresh interval reads nothing."""
    served = tmp_path / "served"
    served.mkdir()
    jwks = served / "jwks.json"
    jwks.write_text(json.dumps(keys.jwks()))
    hits: list[str] = []

    class Counting(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Counting, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
    jwt_config = {"jwks": url, "issuer": ISSUER, "jwks_refresh": 1.0}
    config = {
        "upstreams": {"a": {"stdio": echo_command()}},
        "vmcps": {"r": {"select": [{"upstreams": ["a"]}], "auth": {"jwt": jwt_config}}},
    }
    try:
        with aggregating(write_config(tmp_path, config)) as running:
            running.wait_for({"a": "up"})
            assert post(running, "r", token(keys, running, "r")).status_code == 200
            assert len(hits) == 1
            new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            rotated = {**RSAAlgorithm.to_jwk(new_key.public_key(), as_dict=True), "kid": "rsa-2"}
            jwks.write_text(json.dumps({"keys": [*keys.jwks()["keys"], rotated]}))
            now = int(time.time())
            claims = {"iss": ISSUER, "sub": "alice", "aud": running.url("r"), "exp": now + 60}
            fresh = jwt.encode(claims, new_key, algorithm="RS256", headers={"kid": "rsa-2"})
            assert post(running, "r", fresh).status_code == 401  # read too recently
            assert len(hits) == 1
            time.sleep(1.1)
            assert post(running, "r", fresh).status_code == 200  # read again, then accepted
            assert len(hits) == 2
            assert post(running, "r", fresh).status_code == 200  # now cached
            assert len(hits) == 2
    finally:
        httpd.shutdown()
        httpd.server_close()
