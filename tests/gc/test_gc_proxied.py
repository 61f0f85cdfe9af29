"""gc of runs whose artifacts went through a tracking server's artifact proxy
(``mlflow-artifacts:`` URIs): resolved under ``--artifacts-destination``, or through the server
named by ``--tracking-uri``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests._databases import fresh_database
from tests._live_server import serve_in_thread
from trackstore.cli import main
from trackstore.client import TrackingClient
from trackstore.store.sql import SqlStore
from trackstore.store.sql.engine import dispose_engines


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """(database URI, server URL, artifacts destination) of a server proxying artifacts."""
    destination = tmp_path / "mlartifacts"
    with fresh_database("sqlite", tmp_path) as uri:
        store = SqlStore(uri, "mlflow-artifacts:/")
        try:
            with serve_in_thread(store, artifacts_destination=str(destination)) as url:
                yield uri, url, destination
        finally:
            store.close()
            dispose_engines()


def _logged_runs(url: str, tmp_path: Path) -> tuple[str, str, str]:
    """Two runs with artifacts logged through the server; the first is deleted."""
    client = TrackingClient(url)
    exp = client.create_experiment("proxied")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "weights.bin").write_bytes(b"w" * 1000)
    doomed, kept = (client.create_run(exp).info.run_id for _ in range(2))
    for run_id in (doomed, kept):
        client.log_artifacts(run_id, str(tmp_path / "out"), "model")
        assert client.get_run(run_id).info.artifact_uri == \
            f"mlflow-artifacts:/{exp}/{run_id}/artifacts"
    client.delete_run(doomed)
    return exp, doomed, kept


@pytest.mark.parametrize("via", ["destination", "server"])
def test_gc_removes_proxied_artifacts(served: tuple[str, str, Path], tmp_path: Path,
                                      via: str) -> None:
    uri, url, destination = served
    exp, doomed, kept = _logged_runs(url, tmp_path)
    assert (destination / exp / doomed / "artifacts" / "model" / "weights.bin").exists()
    where = (["--artifacts-destination", str(destination)] if via == "destination"
             else ["--tracking-uri", url])
    result = CliRunner().invoke(main, ["gc", "--backend-store-uri", uri, "-q", *where])
    assert result.exit_code == 0, result.output
    assert "removed 1 run(s)" in result.output and "artifact locations removed: 1" \
        in result.output
    assert not (destination / exp / doomed / "artifacts").exists()
    assert (destination / exp / kept / "artifacts" / "model" / "weights.bin").read_bytes() == \
        b"w" * 1000
    assert TrackingClient(url).list_artifacts(kept, "model")[0].path == "model/weights.bin"


def test_unresolvable_proxied_artifacts_keep_the_run(served: tuple[str, str, Path],
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a destination or a server to resolve ``mlflow-artifacts:``, the run is kept
    and reported, never dropped with its artifacts orphaned."""
    uri, url, destination = served
    exp, doomed, _kept = _logged_runs(url, tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = CliRunner().invoke(main, ["gc", "--backend-store-uri", uri, "-q"])
    assert result.exit_code == 1, result.output
    assert f"kept {doomed}: artifacts at mlflow-artifacts:/" in result.output
    assert TrackingClient(url).get_run(doomed).info.lifecycle_stage == "deleted"
    assert (destination / exp / doomed / "artifacts" / "model" / "weights.bin").exists()
