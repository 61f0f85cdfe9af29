"""The artifact proxy of a ``trackstore server`` process, used by the unmodified ``mlflow``
client and by trackstore's own, on a SQLite store with the default ``--serve-artifacts``.

New experiments get ``mlflow-artifacts:/<id>`` locations, as from ``mlflow server``; files
land in ``./mlartifacts`` in MLflow's layout (``<experiment>/<run>/artifacts/...``); what one
client logs, the other lists and downloads byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import trackstore
from tests._server_process import ServerProcess, trackstore_server
from trackstore import TrackingClient, fluent, tracking_uri
from trackstore.store.registry import clear_cache

from ._oracle import require_mlflow

mlflow = require_mlflow()

pytestmark = [pytest.mark.mlflow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    cwd = tmp_path_factory.mktemp("proxy-server")
    with trackstore_server(["--backend-store-uri", f"sqlite:///{cwd / 'mlflow.db'}",
                            "--workers", "1"], cwd=cwd) as process:
        yield process


@pytest.fixture(autouse=True)
def _client_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # an error at once
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    yield
    fluent._reset()
    tracking_uri._reset()
    clear_cache()


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file()}


def _source(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "loss.svg").write_text("<svg>λ</svg>", encoding="utf-8")
    (root / "sub" / "weights.bin").write_bytes(os.urandom(3 << 20))
    (root / "sub" / "deeper" / "MLmodel").write_text("flavors: {}\n")
    return root


def test_mlflow_client_logs_lists_and_downloads_through_the_proxy(
        server: ServerProcess, tmp_path: Path) -> None:
    client = mlflow.MlflowClient(tracking_uri=server.url)
    experiment_id = client.create_experiment("through-the-proxy")
    assert client.get_experiment(experiment_id).artifact_location \
        == f"mlflow-artifacts:/{experiment_id}"
    plots = _source(tmp_path / "plots")
    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x80\x04weights" * 1000)
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(server.url), mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifact(str(model))
        mlflow.log_artifacts(str(plots), "plots")
        assert mlflow.get_artifact_uri() \
            == f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts"
    run_id = run.info.run_id

    stored = server.cwd / "mlartifacts" / experiment_id / run_id / "artifacts"
    assert _tree(stored) == {"model.pkl": model.read_bytes(),
                             **{f"plots/{k}": v for k, v in _tree(plots).items()}}
    listed = {(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id)}
    assert listed == {("model.pkl", False, 9000), ("plots", True, None)}
    # (By artifact URI: MlflowClient.list_artifacts(run_id, path) also looks for a logged model
    # of that name, an endpoint trackstore server does not serve yet.)
    artifact_uri = client.get_run(run_id).info.artifact_uri
    listed = {(f.path, f.is_dir, f.file_size) for f in mlflow.artifacts.list_artifacts(
        artifact_uri=f"{artifact_uri}/plots/sub", tracking_uri=server.url)}
    assert listed == {("sub/weights.bin", False, 3 << 20), ("sub/deeper", True, None)}
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"{artifact_uri}/plots",
                                                dst_path=str(tmp_path / "down"),
                                                tracking_uri=server.url)
    assert _tree(Path(local)) == _tree(plots)
    single = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{artifact_uri}/plots/sub/weights.bin", tracking_uri=server.url)
    assert Path(single).read_bytes() == (plots / "sub" / "weights.bin").read_bytes()

    # trackstore's client reads what MLflow's logged, through the same proxy.
    ours = TrackingClient(server.url)
    assert [(f.path, f.is_dir, f.file_size) for f in ours.list_artifacts(run_id, "plots/sub")] \
        == [("plots/sub/deeper", True, None), ("plots/sub/weights.bin", False, 3 << 20)]
    (tmp_path / "ours").mkdir()
    whole = ours.download_artifacts(run_id, "", str(tmp_path / "ours"))
    assert _tree(Path(whole)) == _tree(stored)


def test_trackstore_client_logs_through_the_proxy(server: ServerProcess,
                                                  tmp_path: Path) -> None:
    plots = _source(tmp_path / "plots")
    trackstore.set_tracking_uri(server.url)
    experiment_id = trackstore.set_experiment("ours-through-the-proxy").experiment_id
    with trackstore.start_run() as run:
        trackstore.log_artifacts(str(plots), "plots")
        trackstore.log_artifact(str(plots / "loss.svg"))
        assert trackstore.get_artifact_uri("loss.svg") \
            == f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts/loss.svg"
    run_id = run.info.run_id
    stored = server.cwd / "mlartifacts" / experiment_id / run_id / "artifacts"
    assert _tree(stored) == {"loss.svg": (plots / "loss.svg").read_bytes(),
                             **{f"plots/{k}": v for k, v in _tree(plots).items()}}
    ours = TrackingClient(server.url)
    assert [f.path for f in ours.list_artifacts(run_id)] == ["loss.svg", "plots"]
    single = ours.download_artifacts(run_id, "plots/sub/weights.bin", str(tmp_path))
    assert Path(single).read_bytes() == (plots / "sub" / "weights.bin").read_bytes()

    # ... and MLflow's client reads what trackstore's logged.
    artifact_uri = f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    local = mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri,
                                                dst_path=str(tmp_path / "theirs"),
                                                tracking_uri=server.url)
    assert _tree(Path(local)) == _tree(stored)
    theirs = mlflow.MlflowClient(tracking_uri=server.url)
    assert {(f.path, f.is_dir) for f in theirs.list_artifacts(run_id)} \
        == {("loss.svg", False), ("plots", True)}


def test_mlflow_registers_a_run_model_and_downloads_it_by_alias(
        server: ServerProcess, tmp_path: Path) -> None:
    """``mlflow.register_model`` of a model kept in a run's artifacts, then downloads of
    ``models:/`` URIs (by version and by alias) through the registry and the proxy."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    (model / "weights.bin").write_bytes(os.urandom(1 << 16))
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(server.url):
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(model), "model")
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "registered")
        assert (version.name, version.version, version.run_id) \
            == ("registered", "1", run.info.run_id)
        client = mlflow.MlflowClient(tracking_uri=server.url)
        assert client.get_model_version_download_uri("registered", "1") \
            == f"{run.info.artifact_uri}/model"
        client.set_registered_model_alias("registered", "champion", "1")
        for uri in ("models:/registered@champion", "models:/registered/1"):
            local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(
                tmp_path / uri.replace(":", "").replace("/", "_").replace("@", "_"))))
            got = _tree(local)
            # (MLflow writes a registered_model_meta file beside what it downloads.)
            assert {k: v for k, v in got.items() if k != "registered_model_meta"} \
                == _tree(model), uri
    # (register_model finds the MLmodel file in the run's artifacts and registers their URI.)
    assert TrackingClient(server.url).get_model_version_by_alias(
        "registered", "champion").source == f"{run.info.artifact_uri}/model"
