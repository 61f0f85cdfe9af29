"""RestStore against trackstore's own server with authentication on: MLflow's variables, and
``databricks`` URIs (host and token from the environment or a ``~/.databrickscfg`` profile)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._live_server import serve_in_thread
from tests.store.conftest import make_store
from trackstore.entities import Metric
from trackstore.exceptions import TrackstoreError
from trackstore.store.rest import RestStore

TOKEN = "tok-7c1e9a"
AUTH = f"[users]\nalice = s3cret\n[tokens]\nci = {TOKEN}\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A live server on SQLite that requires Basic or bearer credentials, under a prefix."""
    auth_file = tmp_path / "auth.ini"
    auth_file.write_text(AUTH)
    auth_file.chmod(0o600)
    with make_store("sqlite", tmp_path) as store, \
            serve_in_thread(store, auth=("basic", "token"), auth_file=str(auth_file),
                            static_prefix="/mlflow") as url:
        yield url + "/mlflow"


def _round_trip(store: RestStore, name: str) -> None:
    experiment_id = store.create_experiment(name)
    run_id = store.create_run(experiment_id, "u", 1, [], None).info.run_id
    store.log_metric(run_id, Metric("loss", 0.5, 10, 1))
    assert [(m.step, m.value) for m in store.get_metric_history(run_id, "loss")] == [(1, 0.5)]


def test_databricks_uri_from_the_environment(server: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", server)
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    _round_trip(RestStore("databricks"), "from-env")


def test_databricks_profile(server: str, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "databrickscfg"
    config.write_text(f"[DEFAULT]\nhost = http://127.0.0.1:1\ntoken = nope\n\n"
                      f"[staging]\nhost = {server}\ntoken = {TOKEN}\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    _round_trip(RestStore("databricks://staging"), "from-profile")


def test_mlflow_variables_basic_and_token(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
    _round_trip(RestStore(server), "basic")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    _round_trip(RestStore(server), "token")


@pytest.mark.parametrize("token", [None, "wrong"])
def test_refused_without_valid_credentials(server: str, monkeypatch: pytest.MonkeyPatch,
                                           token: str | None) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    if token:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    store = RestStore(server)
    with pytest.raises(TrackstoreError) as e:
        store.create_experiment("nope")
    assert e.value.error_code == "UNAUTHENTICATED"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    assert RestStore(server).get_experiment_by_name("nope") is None  # nothing was created
