"""Authentication and TLS as MLflow's client configures them, and Databricks profiles."""

from __future__ import annotations

import os
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.rest.conftest import Certificates, Reply, ScriptedServer, run_json
from trackstore.exceptions import TrackstoreError
from trackstore.store.rest import RestStore

Serve = Callable[..., ScriptedServer]
RUN_ID = "c" * 32


def ok(seen: object) -> Reply:
    return Reply(body={"run": run_json(RUN_ID)})


def basic(username: str, password: str) -> str:
    return "Basic " + b64encode(f"{username}:{password}".encode()).decode()


def authorization_sent(server: ScriptedServer, uri: str | None = None) -> str | None:
    """The Authorization header a fresh store sends to *server* (via *uri* if given)."""
    RestStore(uri or server.url, sleep=lambda s: None).get_run(RUN_ID)
    return server.seen[-1].headers.get("authorization")


# -- MLflow's settings -----------------------------------------------------------------------------

def test_no_credentials_no_header(serve: Serve) -> None:
    assert authorization_sent(serve(ok)) is None


def test_username_and_password_are_basic_auth(serve: Serve,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ada")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "p:ß%")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "ignored-when-basic-is-set")
    assert authorization_sent(serve(ok)) == basic("ada", "p:ß%")


def test_token_is_bearer_auth(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alone")  # no password: not Basic
    assert authorization_sent(serve(ok)) == "Bearer tok-123"


def _credentials_file(lines: str) -> Path:
    path = Path(os.environ["HOME"]) / ".mlflow" / "credentials"
    path.parent.mkdir(exist_ok=True)
    path.write_text(lines)
    return path


def test_credentials_file_fills_in_what_the_environment_lacks(
        serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(ok)
    _credentials_file("[mlflow]\nmlflow_tracking_username = grace\n"
                      "mlflow_tracking_password = 100%secret\n")
    assert authorization_sent(server) == basic("grace", "100%secret")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "env-user")
    assert authorization_sent(server) == basic("env-user", "100%secret")


def test_credentials_file_is_read_again_when_it_changes(serve: Serve) -> None:
    server = serve(ok)
    store = RestStore(server.url)
    path = _credentials_file("[mlflow]\nmlflow_tracking_username=u\n"
                             "mlflow_tracking_password=old\n")
    store.get_run(RUN_ID)
    path.write_text("[mlflow]\nmlflow_tracking_username=u\nmlflow_tracking_password=rotated\n")
    store.get_run(RUN_ID)
    path.unlink()
    store.get_run(RUN_ID)
    assert [s.headers.get("authorization") for s in server.seen] == [
        basic("u", "old"), basic("u", "rotated"), None]


def test_a_credentials_file_without_the_section_is_ignored(serve: Serve) -> None:
    _credentials_file("[other]\nmlflow_tracking_username=u\nmlflow_tracking_password=p\n")
    assert authorization_sent(serve(ok)) is None


def test_a_malformed_credentials_file_is_reported(serve: Serve) -> None:
    path = _credentials_file("mlflow_tracking_username = no section header\n")
    with pytest.raises(TrackstoreError) as e:
        authorization_sent(serve(ok))
    assert str(path) in e.value.message


def test_credentials_in_the_uri_are_basic_auth(serve: Serve,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    server = serve(ok)
    uri = server.url.replace("http://", "http://ann:p%40ss@")
    assert authorization_sent(server, uri) == basic("ann", "p@ss")
    store = RestStore(uri)
    assert "p%40ss" not in repr(store) and "ann" not in repr(store)


# -- TLS -------------------------------------------------------------------------------------------

def test_an_unknown_certificate_is_refused_clearly_and_not_retried(
        serve: Serve, certificates: Certificates) -> None:
    server = serve(ok, tls=certificates.server_context())
    sleeps: list[float] = []
    with pytest.raises(TrackstoreError) as e:
        RestStore(server.url, sleep=sleeps.append).get_run(RUN_ID)
    assert "certificate" in e.value.message
    assert "MLFLOW_TRACKING_SERVER_CERT_PATH" in e.value.message
    assert sleeps == [] and server.seen == []


def test_server_cert_path_is_the_trusted_ca(serve: Serve, certificates: Certificates,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(ok, tls=certificates.server_context(), host="localhost")
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificates.server_cert))
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "t")
    assert authorization_sent(server) == "Bearer t"
    assert server.url.startswith("https://localhost:")


def test_a_redirect_to_https_trusts_the_same_ca(serve: Serve, certificates: Certificates,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    secure = serve(ok, tls=certificates.server_context(), host="localhost")
    plain = serve(lambda seen: Reply(301, headers={"Location": secure.url + seen.path}),
                  host="localhost")
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificates.server_cert))
    RestStore(plain.url).get_run(RUN_ID)
    assert len(plain.seen) == 1 and len(secure.seen) == 1


def test_insecure_tls_skips_verification(serve: Serve, certificates: Certificates,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(ok, tls=certificates.server_context())
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    RestStore(server.url).get_run(RUN_ID)
    assert len(server.seen) == 1


def test_insecure_tls_and_a_ca_bundle_contradict(certificates: Certificates,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificates.server_cert))
    with pytest.raises(TrackstoreError) as e:
        RestStore("https://localhost:1")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_missing_ca_bundle_is_reported(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tmp_path / "nope.pem"))
    with pytest.raises(TrackstoreError) as e:
        RestStore("https://localhost:1")
    assert "nope.pem" in e.value.message


def test_client_certificate(serve: Serve, certificates: Certificates,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(ok, tls=certificates.server_context(require_client_cert=True),
                   host="localhost")
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificates.server_cert))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(TrackstoreError):
        RestStore(server.url).get_run(RUN_ID)
    assert server.seen == []
    monkeypatch.setenv("MLFLOW_TRACKING_CLIENT_CERT_PATH", str(certificates.client_pem))
    RestStore(server.url).get_run(RUN_ID)
    assert len(server.seen) == 1


# -- Databricks ------------------------------------------------------------------------------------

def _databrickscfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "databricks.cfg"
    path.write_text(text)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(path))
    return path


def test_databricks_from_environment(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(ok)
    monkeypatch.setenv("DATABRICKS_HOST", server.url + "/")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-env")
    assert authorization_sent(server, "databricks") == "Bearer dapi-env"
    assert server.seen[-1].path == "/api/2.0/mlflow/runs/get"


def test_databricks_default_profile(serve: Serve, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Path) -> None:
    server = serve(ok)
    _databrickscfg(tmp_path, monkeypatch, f"[DEFAULT]\nhost = {server.url}\ntoken = dapi-d\n")
    assert authorization_sent(server, "databricks") == "Bearer dapi-d"


def test_databricks_named_profile_from_the_uri_or_the_environment(
        serve: Serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = serve(ok)
    _databrickscfg(tmp_path, monkeypatch,
                   f"[DEFAULT]\nhost = http://127.0.0.1:1\ntoken = wrong\n\n"
                   f"[dev]\nhost = {server.url}\ntoken = dapi-dev\n\n"
                   f"[ops]\nhost = {server.url}\nusername = op\npassword = pw\n")
    monkeypatch.setenv("DATABRICKS_HOST", "http://127.0.0.1:1")  # a named profile wins
    monkeypatch.setenv("DATABRICKS_TOKEN", "wrong")
    assert authorization_sent(server, "databricks://dev") == "Bearer dapi-dev"
    assert authorization_sent(server, "databricks://ops") == basic("op", "pw")
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "dev")
    assert authorization_sent(server, "databricks") == "Bearer dapi-dev"


def test_databricks_host_without_scheme_is_https(serve: Serve, certificates: Certificates,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    server = serve(ok, tls=certificates.server_context())
    _databrickscfg(tmp_path, monkeypatch,
                   f"[ws]\nhost = 127.0.0.1:{server.port}\ntoken = t\ninsecure = True\n")
    assert authorization_sent(server, "databricks://ws") == "Bearer t"


def test_a_named_profile_does_not_inherit_default_keys(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _databrickscfg(tmp_path, monkeypatch,
                          "[DEFAULT]\ntoken = shared\n\n[half]\nhost = https://h\n")
    with pytest.raises(TrackstoreError) as e:
        RestStore("databricks://half")
    assert "[half]" in e.value.message and str(path) in e.value.message
    assert "token" in e.value.message


@pytest.mark.parametrize(("uri", "expected"), [
    ("databricks://missing", "profile 'missing'"),
    ("databricks://scope:prefix", "secret scope"),
    ("databricks", "DATABRICKS_HOST and DATABRICKS_TOKEN"),
])
def test_databricks_without_credentials_says_what_to_set(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, uri: str, expected: str) -> None:
    _databrickscfg(tmp_path, monkeypatch, "[other]\nhost = h\ntoken = t\n")
    monkeypatch.setenv("DATABRICKS_HOST", "https://only-a-host")
    with pytest.raises(TrackstoreError) as e:
        RestStore(uri)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert expected in e.value.message


def test_a_missing_databricks_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TrackstoreError) as e:
        RestStore("databricks://dev")
    assert os.path.join(os.environ["HOME"], ".databrickscfg") in e.value.message
    assert "does not exist" in e.value.message
