"""Artifacts through a tracking server's proxy: ``mlflow-artifacts:`` URIs, how they resolve,
and the HTTP repository against a live ``trackstore server`` application (MLflow's client
against a server process is in ``tests/compat/test_mlflow_artifact_proxy.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._live_server import serve_in_thread
from tests.server.test_auth import AUTH, _auth_file
from tests.store.conftest import make_store
from trackstore.artifacts import (
    FileInfo,
    LocalArtifactRepository,
    artifact_repository,
    resolve_proxied_uri,
)
from trackstore.exceptions import TrackstoreError
from trackstore.http_artifacts import HttpArtifactRepository

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.mark.parametrize(("uri", "tracking", "expected"), [
    ("mlflow-artifacts:/0/r/artifacts", "http://h:5000",
     f"http://h:5000{PROXY}/0/r/artifacts"),
    ("mlflow-artifacts:/0/r/artifacts", "https://u:p@h/mlflow/",
     f"https://u:p@h/mlflow{PROXY}/0/r/artifacts"),
    ("mlflow-artifacts://other:81/1/a b", "http://h:5000", f"http://other:81{PROXY}/1/a%20b"),
    ("mlflow-artifacts:/", "http://h:5000", f"http://h:5000{PROXY}"),
    ("file:///tmp/x", "http://h:5000", "file:///tmp/x"),
])
def test_proxied_uris_resolve_as_mlflow_resolves_them(uri: str, tracking: str,
                                                     expected: str) -> None:
    assert resolve_proxied_uri(uri, tracking) == expected


@pytest.mark.parametrize(("uri", "tracking", "message"), [
    ("mlflow-artifacts:/0", "sqlite:///x.db", "not the server's http"),
    ("mlflow-artifacts:/0", "postgresql://u:secret@db/x", "postgresql://db/x"),
    ("mlflow-artifacts://5000/0", "http://h", "no host"),
    ("mlflow-artifacts:/../etc", "http://h", "leaves the artifact root"),
])
def test_unresolvable_proxied_uris(uri: str, tracking: str, message: str) -> None:
    with pytest.raises(TrackstoreError, match=message) as refused:
        resolve_proxied_uri(uri, tracking)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "secret" not in refused.value.message


def test_a_destination_makes_proxied_uris_local(tmp_path: Path) -> None:
    destination = tmp_path / "mlartifacts"
    repository = artifact_repository("mlflow-artifacts:/3/run/artifacts",
                                     artifacts_destination=str(destination))
    assert isinstance(repository, LocalArtifactRepository)
    assert repository.root == str(destination / "3" / "run" / "artifacts")
    assert artifact_repository("mlflow-artifacts://host:5000/3",  # (the host is the server's)
                               artifacts_destination=destination.as_uri()).root \
        == str(destination / "3")
    (tmp_path / "elsewhere").mkdir()
    destination.mkdir()
    (destination / "4").symlink_to(tmp_path / "elsewhere")
    for escape in ("mlflow-artifacts:/../x", "mlflow-artifacts:/4/run"):
        with pytest.raises(TrackstoreError, match="artifact root"):
            artifact_repository(escape, artifacts_destination=str(destination))
    for unsupported in ("s3://bucket/x", "http://h:5000/not/the/proxy"):
        with pytest.raises(TrackstoreError) as refused:
            artifact_repository(unsupported)
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    destination = tmp_path / "destination"
    with make_store("sqlite", tmp_path) as store, serve_in_thread(
            store, artifacts_destination=str(destination), max_request_bytes=64 << 10) as url:
        yield url, destination


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file()}


def test_the_http_repository_round_trips(served: tuple[str, Path], tmp_path: Path) -> None:
    url, destination = served
    source = tmp_path / "source"
    (source / "sub" / "empty-dir").mkdir(parents=True)
    (source / "a.txt").write_text("alpha")
    (source / "sub" / "w.bin").write_bytes(os.urandom(5 << 20))
    (source / "sub" / "zero").write_bytes(b"")
    (source / "sub" / "100% ü #1?.txt").write_text("odd name")
    with artifact_repository(f"{url}{PROXY}/7/run/artifacts") as repository:
        assert isinstance(repository, HttpArtifactRepository)
        repository.log_artifacts(str(source), "tree")
        repository.log_artifact(str(source / "a.txt"))
        stored = destination / "7" / "run" / "artifacts"
        assert _tree(stored) == {"a.txt": b"alpha",
                                 **{f"tree/{k}": v for k, v in _tree(source).items()}}
        assert repository.list_artifacts() == [FileInfo("a.txt", False, 5),
                                               FileInfo("tree", True, None)]
        assert repository.list_artifacts("tree/sub") == [
            FileInfo("tree/sub/100% ü #1?.txt", False, 8),
            FileInfo("tree/sub/w.bin", False, 5 << 20),
            FileInfo("tree/sub/zero", False, None)]  # MLflow's listing omits a size of 0
        assert repository.list_artifacts("tree/sub/w.bin") == []
        assert repository.list_artifacts("missing") == []

        out = tmp_path / "out"
        out.mkdir()
        assert repository.download_artifacts("tree", str(out)) == str(out / "tree")
        assert _tree(out / "tree") == _tree(source)
        single = repository.download_artifacts("tree/sub/w.bin")
        assert Path(single).read_bytes() == (source / "sub" / "w.bin").read_bytes()
        with pytest.raises(TrackstoreError) as missing:
            repository.download_artifacts("tree/nope/x.txt", str(out))
        assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        assert not (out / "tree" / "nope").exists()
        assert not [p for p in out.rglob(".artifact.uploading.*")]

        repository.delete_artifacts("tree/sub")
        assert [f.path for f in repository.list_artifacts("tree")] == ["tree/a.txt"]
        repository.delete_artifacts()
        assert repository.list_artifacts() == []
        assert not stored.exists()


def test_the_http_repository_sends_the_tracking_credentials(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    for variable in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                     "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # (no ~/.mlflow/credentials)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 << 20))
    with make_store("sqlite", tmp_path) as store, serve_in_thread(
            store, auth=("token",), auth_file=_auth_file(tmp_path, AUTH),
            artifacts_destination=str(tmp_path / "destination"),
            max_request_bytes=64 << 10) as url:
        repository = HttpArtifactRepository(f"{url}{PROXY}/1")
        with pytest.raises(TrackstoreError) as refused:
            repository.log_artifact(str(big))  # refused as its head arrives
        assert refused.value.error_code == "UNAUTHENTICATED"
        with pytest.raises(TrackstoreError) as refused:
            repository.list_artifacts()
        assert refused.value.error_code == "UNAUTHENTICATED"
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
        repository.log_artifact(str(big))
        assert repository.list_artifacts() == [FileInfo("big.bin", False, 4 << 20)]
        repository.close()


def test_a_server_without_the_proxy_says_so(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    note = tmp_path / "note.txt"
    note.write_text("x")
    with make_store("sqlite", tmp_path) as store, serve_in_thread(store) as url, \
            HttpArtifactRepository(f"{url}{PROXY}/1") as repository:
        for call in (lambda: repository.log_artifact(str(note)),
                     repository.list_artifacts,
                     lambda: repository.download_artifacts("note.txt", str(tmp_path))):
            with pytest.raises(TrackstoreError, match="--no-serve-artifacts") as refused:
                call()
            assert refused.value.error_code == "ENDPOINT_NOT_FOUND"
