"""Artifacts in the file store, both ways: what trackstore logs, MLflow lists and downloads,
and what MLflow logs, trackstore lists and downloads, byte for byte (same run, same tree)."""

from __future__ import annotations

from pathlib import Path

from trackstore import TrackingClient
from trackstore.store.registry import clear_cache

from ._oracle import require_mlflow

mlflow = require_mlflow()


def test_artifacts_are_shared_with_mlflow(tmp_path: Path) -> None:
    tree = tmp_path / "mlruns"
    ours = TrackingClient(str(tree))
    theirs = mlflow.MlflowClient(tracking_uri=tree.as_uri())
    try:
        run_id = ours.create_run("0").info.run_id
        assert theirs.get_run(run_id).info.artifact_uri == ours.get_run(run_id).info.artifact_uri
        plots = tmp_path / "plots"
        (plots / "train").mkdir(parents=True)
        (plots / "train" / "loss.svg").write_text("<svg>λ</svg>", encoding="utf-8")
        (plots / "acc.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
        ours.log_artifacts(run_id, str(plots), "plots")
        model = tmp_path / "model.bin"
        model.write_bytes(b"\x00" * 1000)
        theirs.log_artifact(run_id, str(model), "models")

        listed = {(f.path, f.is_dir, f.file_size) for f in theirs.list_artifacts(run_id)}
        assert listed == {(f.path, f.is_dir, f.file_size) for f in ours.list_artifacts(run_id)}
        assert {(f.path, f.is_dir, f.file_size) for f in theirs.list_artifacts(run_id, "plots")} \
            == {(f.path, f.is_dir, f.file_size) for f in ours.list_artifacts(run_id, "plots")}
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        by_mlflow = Path(theirs.download_artifacts(run_id, "plots", str(tmp_path / "a")))
        by_us = Path(ours.download_artifacts(run_id, "models", str(tmp_path / "b")))
        assert (by_mlflow / "train" / "loss.svg").read_text(encoding="utf-8") == "<svg>λ</svg>"
        assert (by_mlflow / "acc.png").read_bytes() == (plots / "acc.png").read_bytes()
        assert (by_us / "model.bin").read_bytes() == b"\x00" * 1000
    finally:
        clear_cache()
