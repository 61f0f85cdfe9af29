"""Authentication: Basic and bearer tokens against the auth file, off by default."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests._live_server import serve_in_thread
from tests.server.conftest import Api
from tests.store.conftest import make_store
from trackstore.exceptions import TrackstoreError
from trackstore.server.auth import Authenticator


def _auth_file(tmp_path: Path, text: str, mode: int = 0o600) -> str:
    path = tmp_path / "auth.ini"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


AUTH = "[users]\nalice = s3cret: with colon\n[tokens]\nci = tok-123\n"


def test_principal_checks_basic_and_bearer(tmp_path: Path) -> None:
    auth = Authenticator.from_file(_auth_file(tmp_path, AUTH))
    assert auth.principal(b"Basic " + base64.b64encode(b"alice:s3cret: with colon")) == "alice"
    assert auth.principal(b"basic " + base64.b64encode(b"alice:s3cret: with colon")) == "alice"
    assert auth.principal(b"Basic " + base64.b64encode(b"alice:wrong")) is None
    assert auth.principal(b"Basic " + base64.b64encode(b"mallory:s3cret: with colon")) is None
    assert auth.principal(b"Basic !!!not-base64") is None
    assert auth.principal(b"Basic " + base64.b64encode(b"no-colon")) is None
    assert auth.principal(b"Bearer tok-123") == "ci"
    assert auth.principal(b"Bearer tok-1234") is None
    assert auth.principal(None) is None
    assert auth.principal(b"Digest abc") is None
    only_tokens = Authenticator.from_file(_auth_file(tmp_path, AUTH), ["token"])
    assert only_tokens.principal(b"Basic " + base64.b64encode(b"alice:s3cret: with colon")) \
        is None
    assert only_tokens.challenge() == 'Bearer realm="trackstore"'


@pytest.mark.parametrize(("text", "mode", "schemes", "message"), [
    (AUTH, 0o644, ["basic"], "chmod 600"),
    ("[tokens]\nci = x\n", 0o600, ["basic"], "at least one user"),
    ("[users]\na = b\n", 0o600, ["token"], "at least one token"),
    ("users without a section\n", 0o600, ["basic"], "Malformed auth file"),
    (AUTH, 0o600, ["kerberos"], "Unknown authentication scheme"),
])
def test_bad_auth_configuration_is_refused(tmp_path: Path, text: str, mode: int,
                                           schemes: list[str], message: str) -> None:
    with pytest.raises(TrackstoreError, match=message):
        Authenticator.from_file(_auth_file(tmp_path, text, mode), schemes)


def test_missing_auth_file(tmp_path: Path) -> None:
    with pytest.raises(TrackstoreError, match="Cannot read the auth file"):
        Authenticator.from_file(str(tmp_path / "absent.ini"))


def test_server_requires_credentials(tmp_path: Path) -> None:
    path = _auth_file(tmp_path, AUTH)
    with make_store("sqlite", tmp_path) as store, \
            serve_in_thread(store, auth=("basic", "token"), auth_file=path) as url:
        api = Api(url)
        status, error = api.post("/experiments/create", {"name": "x"})
        assert status == 401 and error["error_code"] == "UNAUTHENTICATED"
        assert api.headers["www-authenticate"] == 'Basic realm="trackstore"'
        status, _ = api.post("/experiments/create", {"name": "x"},
                             headers=basic("alice", "nope"))
        assert status == 401
        assert store.get_experiment_by_name("x") is None  # refused requests change nothing
        status, _, raw = api.request("GET", "/health")  # load balancers probe without creds
        assert (status, raw) == (200, b"OK")
        status, _, _ = api.request("GET", "/version")
        assert status == 401
        status, created = api.post("/experiments/create", {"name": "x"},
                                   headers=basic("alice", "s3cret: with colon"))
        assert status == 200 and created["experiment_id"]
        status, got = api.get("/experiments/get-by-name", {"experiment_name": "x"},
                              headers={"Authorization": "Bearer tok-123"})
        assert status == 200 and got["experiment"]["experiment_id"] == created["experiment_id"]


def test_auth_needs_a_file() -> None:
    from trackstore.server.app import ServerConfig, TrackingApp

    with pytest.raises(TrackstoreError, match="auth file"):
        TrackingApp(ServerConfig("sqlite:///unused.db", auth=("basic",)))
