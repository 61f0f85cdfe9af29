"""The local artifact repository, through ``TrackingClient`` and directly.

Files go in and come back byte for byte, listings are MLflow's (relative POSIX paths, sizes
for files), and no artifact path can reach outside the run's artifact root: refused paths
write, read and delete nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackstore import TrackingClient
from trackstore.artifacts import FileInfo, LocalArtifactRepository, clean_artifact_path
from trackstore.exceptions import TrackstoreError

BAD_PATHS = ["../x", "/etc/passwd", "a/../../x", "..", "a\\b", "a\x00b", "C:/x"]


@pytest.fixture(params=["file", "sqlite"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingClient]:
    if request.param == "file":
        uri = str(tmp_path / "mlruns")
    else:
        uri = f"sqlite:///{tmp_path / 'store.db'}"
    from trackstore.store.registry import clear_cache

    yield TrackingClient(uri)
    clear_cache()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_log_list_download_delete(client: TrackingClient, tmp_path: Path) -> None:
    run_id = client.create_run("0").info.run_id
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 10)
    (src / "sub" / "deeper" / "c.json").write_text('{"ü": 1}', encoding="utf-8")
    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x00weights")

    client.log_artifacts(run_id, str(src))
    client.log_artifact(run_id, str(model), "models/v1")
    assert client.list_artifacts(run_id) == [FileInfo("a.txt", False, 5),
                                             FileInfo("models", True, None),
                                             FileInfo("sub", True, None)]
    assert client.list_artifacts(run_id, "sub") == [FileInfo("sub/b.bin", False, 2560),
                                                    FileInfo("sub/deeper", True, None)]
    assert client.list_artifacts(run_id, "missing") == []
    out = tmp_path / "out"
    out.mkdir()
    local = client.download_artifacts(run_id, "sub", str(out))
    assert local == str(out / "sub")
    assert _files(out / "sub") == _files(src / "sub")
    whole = client.download_artifacts(run_id, "")
    assert _files(Path(whole)) == {**_files(src), "models/v1/model.pkl": b"\x00weights"}
    root = Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    assert (root / "models" / "v1" / "model.pkl").read_bytes() == b"\x00weights"
    LocalArtifactRepository(client.get_run(run_id).info.artifact_uri).delete_artifacts("sub")
    assert [f.path for f in client.list_artifacts(run_id)] == ["a.txt", "models"]
    with pytest.raises(TrackstoreError) as missing:
        client.download_artifacts(run_id, "sub/b.bin")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_no_path_leaves_the_artifact_root(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "run" / "artifacts"
    root.mkdir(parents=True)
    (tmp_path / "secret").write_text("keep")
    victim = tmp_path / "f.txt"
    victim.write_text("x")
    repo = LocalArtifactRepository(root.as_uri())
    before = _files(tmp_path)
    for call in (lambda: repo.log_artifact(str(victim), bad),
                 lambda: repo.list_artifacts(bad),
                 lambda: repo.download_artifacts(bad, str(tmp_path)),
                 lambda: repo.delete_artifacts(bad)):
        with pytest.raises(TrackstoreError) as refused:
            call()
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert _files(tmp_path) == before


def test_a_link_out_of_the_root_is_refused_and_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    (root / "inside").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep")
    os.symlink(outside, root / "inside" / "escape")
    (root / "inside" / "ok.txt").write_text("ok")
    repo = LocalArtifactRepository(str(root))
    for call in (lambda: repo.list_artifacts("inside/escape"),
                 lambda: repo.delete_artifacts("inside/escape/secret"),
                 lambda: repo.download_artifacts("inside/escape/secret", str(tmp_path))):
        with pytest.raises(TrackstoreError, match="outside the artifact root"):
            call()
    (tmp_path / "dl").mkdir()
    copy = Path(repo.download_artifacts("inside", str(tmp_path / "dl")))
    assert sorted(p.name for p in copy.iterdir()) == ["ok.txt"]  # the link was not copied
    assert (outside / "secret").read_text() == "keep"


def test_clean_artifact_path_normalises() -> None:
    assert clean_artifact_path(None) == ""
    assert clean_artifact_path("a/./b//c/") == "a/b/c"
    assert clean_artifact_path("a/b/../c") == "a/c"
    assert clean_artifact_path(".") == ""


def test_missing_local_file_or_dir_is_a_clear_error(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(str(tmp_path / "a"))
    with pytest.raises(TrackstoreError, match="No such file"):
        repo.log_artifact(str(tmp_path / "nope"))
    with pytest.raises(TrackstoreError, match="No such directory"):
        repo.log_artifacts(str(tmp_path / "nope"))
    repo.delete_artifacts("never-there")  # nothing to delete is not an error


def test_fluent_log_artifact_and_artifact_uri(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import trackstore
    from trackstore.store.registry import clear_cache

    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(tmp_path / "mlruns"))
    note = tmp_path / "note.md"
    note.write_text("# hi")
    try:
        with trackstore.start_run() as run:
            trackstore.log_artifact(str(note), "docs")
            with pytest.raises(TrackstoreError, match="would copy itself"):
                trackstore.log_artifacts(str(tmp_path / "mlruns" / "0"), "copy-of-meta")
            (tmp_path / "plots").mkdir()
            (tmp_path / "plots" / "loss.svg").write_text("<svg/>")
            trackstore.log_artifacts(str(tmp_path / "plots"), "plots")
            uri = trackstore.get_artifact_uri("docs/note.md")
        assert uri == run.info.artifact_uri + "/docs/note.md"
        assert Path(uri.removeprefix("file://")).read_text() == "# hi"
        names = [f.path for f in TrackingClient().list_artifacts(run.info.run_id)]
        assert names == ["docs", "plots"]
    finally:
        clear_cache()
