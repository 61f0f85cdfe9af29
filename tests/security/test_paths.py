"""Keys, ids, names and artifact paths never reach outside their directory: the Python API
on the file store and on local artifact repositories (the server: ``test_paths_server.py``).

Every attack is aimed at :class:`~tests.security._helpers.Outside`, a directory beside the
store holding a secret: it must be refused with ``INVALID_PARAMETER_VALUE`` (or, for an id,
``RESOURCE_DOES_NOT_EXIST``), the run must be unchanged, nothing outside may change, and the
secret must never come back in any answer.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests._figures import record
from tests.security._helpers import Outside
from trackstore import TrackingClient
from trackstore.entities import Metric, Param, RunTag
from trackstore.exceptions import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_DOES_NOT_EXIST,
    TrackstoreError,
)

#: Keys aimed at the outside directory (the run is ``<root>/<exp>/<run>/<kind>/<key>``).
BAD_KEYS = [
    "../../../../outside/secret.txt", "../x", "..\\x", "..", ".", "", "./a", "a/", "a//b",
    "a/../../x", "/abs", "%2e%2e%2fx", "%252e%252e%252fx", "a\x00b", "x" * 251,
    "\u00e9" * 200,  # 250 characters, 400 bytes: more than a file name may be
]
#: Artifact paths aimed outside the run's artifact directory.
BAD_ARTIFACT_PATHS = [
    "../../../../outside", "../x", "..\\x", "..", "a/../../x", "%2e%2e%2fx", "%2E%2E/x",
    "%252e%252e%252fx", "%25252e%25252e%25252fx", "..%2fx", "..%5cx", "a\x00b", "x" * 256,
    "C:/x", "%2fetc",
]


def _error(call: object, *args: object, **kwargs: object) -> TrackstoreError:
    assert callable(call)
    with pytest.raises(TrackstoreError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture
def setup(tmp_path: Path) -> tuple[TrackingClient, str, str, Outside]:
    root = tmp_path / "mlruns"
    client = TrackingClient(root.as_uri())
    experiment = client.create_experiment("e")
    run = client.create_run(experiment).info.run_id
    client.log_param(run, "p", "v")
    client.log_metric(run, "m", 1.0, step=0)
    client.set_tag(run, "t", "v")
    outside = Outside.make(tmp_path, root)
    return client, experiment, run, outside


def _data(client: TrackingClient, run: str) -> tuple[object, ...]:
    data = client.get_run(run).data
    return (dict(data.params), dict(data.metrics), dict(data.tags),
            [(m.value, m.step) for m in client.get_metric_history(run, "m")])


def test_keys_are_refused(setup: tuple[TrackingClient, str, str, Outside]) -> None:
    client, experiment, run, outside = setup
    before = _data(client, run)
    tags_before = dict(client.get_experiment(experiment).tags)
    tried = 0
    for key in BAD_KEYS:
        attacks = {
            "log_metric": lambda k=key: client.log_metric(run, k, 1.0),
            "log_param": lambda k=key: client.log_param(run, k, "v"),
            "set_tag": lambda k=key: client.set_tag(run, k, "v"),
            "delete_tag": lambda k=key: client.delete_tag(run, k),
            "set_experiment_tag": lambda k=key: client.set_experiment_tag(experiment, k, "v"),
            "delete_experiment_tag": lambda k=key: client.delete_experiment_tag(experiment, k),
            "log_batch": lambda k=key: client.log_batch(
                run, [Metric("ok", 1.0, 1, 0)], [Param("ok", "v")], [RunTag(k, "v")]),
            "log_batch_metric": lambda k=key: client.log_batch(run, [Metric(k, 1.0, 1, 0)]),
        }
        for name, attack in attacks.items():
            error = _error(attack)
            tried += 1
            # (a delete may also say that no such key exists: nothing was touched either way)
            expected = {INVALID_PARAMETER_VALUE} | (
                {RESOURCE_DOES_NOT_EXIST} if name.startswith("delete") else set())
            assert error.error_code in expected, (name, key, error)
            assert not outside.leaked(error.message)
        history: object = None
        try:
            history = client.get_metric_history(run, key)
        except TrackstoreError as exc:
            history = exc.error_code  # (refusing to read is as good as reading nothing)
        assert history in ([], INVALID_PARAMETER_VALUE), (key, history)
    assert _data(client, run) == before  # a refused batch stored none of its good parts
    assert dict(client.get_experiment(experiment).tags) == tags_before
    outside.assert_untouched("bad keys")
    record("security", "paths-python-file", attacks=tried)


def test_ids_are_refused(setup: tuple[TrackingClient, str, str, Outside]) -> None:
    client, experiment, run, outside = setup
    # ``outside/sub`` has a meta.yaml naming the secret: a store that followed an id there
    # would show it as an experiment's or a run's name.
    bad_ids = ["../outside/sub", "../../outside/sub", str(outside.directory / "sub"), "..",
               f"{experiment}/../../outside/sub", "a\x00b", "%2e%2e%2foutside", "x" * 300,
               f"../{experiment}"]
    for bad in bad_ids:
        for name, attack in {
            "get_experiment": lambda b=bad: client.get_experiment(b),
            "create_run": lambda b=bad: client.create_run(b),
            "set_experiment_tag": lambda b=bad: client.set_experiment_tag(b, "k", "v"),
            "delete_experiment": lambda b=bad: client.delete_experiment(b),
            "get_run": lambda b=bad: client.get_run(b),
            "log_metric": lambda b=bad: client.log_metric(b, "m", 1.0),
            "log_param": lambda b=bad: client.log_param(b, "k", "v"),
            "delete_run": lambda b=bad: client.delete_run(b),
            "list_artifacts": lambda b=bad: client.list_artifacts(b),
        }.items():
            error = _error(attack)
            assert error.error_code in (INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST), (
                name, bad, error)
            assert not outside.leaked(error.message), (name, bad)
        found = client.search_runs([experiment], f"attributes.run_id = '{run}'")
        assert [r.info.run_id for r in found] == [run]
    outside.assert_untouched("bad ids")


@pytest.mark.parametrize("name", ["../outside/new", "/abs/olute", "..\\x", "%2e%2e%2fx",
                                  "a\x00b", "\u00e9" * 120])
def test_names_are_data_not_paths(setup: tuple[TrackingClient, str, str, Outside],
                                  name: str) -> None:
    """Experiment and run names are kept in ``meta.yaml``, never used as paths: any name
    MLflow accepts is stored as it is, and nothing appears outside."""
    client, experiment, _run, outside = setup
    created = client.create_experiment(name)
    assert client.get_experiment(created).name == name
    assert client.get_experiment_by_name(name).experiment_id == created  # type: ignore[union-attr]
    run = client.create_run(experiment, run_name=name)
    assert client.get_run(run.info.run_id).info.run_name == name
    client.update_run(run.info.run_id, name=name + "2")
    assert client.get_run(run.info.run_id).info.run_name == name + "2"
    outside.assert_untouched(f"name {name!r}")


def test_artifact_paths_are_refused(setup: tuple[TrackingClient, str, str, Outside],
                                    tmp_path: Path) -> None:
    client, _experiment, run, outside = setup
    source = tmp_path / "src"
    (source / "d").mkdir(parents=True)
    (source / "f.txt").write_text("payload")
    (source / "d" / "g.txt").write_text("payload")
    downloads = tmp_path / "mlruns" / "downloads"  # (inside the watched roots)
    downloads.mkdir()
    client.log_artifact(run, str(source / "f.txt"), "ok")
    outside.before = outside.snapshot()
    tried = 0
    for path in BAD_ARTIFACT_PATHS:
        for name, attack in {
            "log_artifact": lambda p=path: client.log_artifact(run, str(source / "f.txt"), p),
            "log_artifacts": lambda p=path: client.log_artifacts(run, str(source), p),
            "list_artifacts": lambda p=path: client.list_artifacts(run, p),
            "download_artifacts": lambda p=path: client.download_artifacts(
                run, p, str(downloads)),
        }.items():
            error = _error(attack)
            tried += 1
            assert error.error_code == INVALID_PARAMETER_VALUE, (name, path, error)
    assert [f.path for f in client.list_artifacts(run)] == ["ok"]
    assert os.listdir(downloads) == []
    # Absolute paths chosen inside the watched directory, to be sure they would show.
    target = str(outside.directory / "planted")
    for attack in (lambda: client.log_artifact(run, str(source / "f.txt"), target),
                   lambda: client.log_artifacts(run, str(source), target),
                   lambda: client.download_artifacts(run, target, str(downloads))):
        assert _error(attack).error_code == INVALID_PARAMETER_VALUE
    outside.assert_untouched("artifact paths")
    record("security", "paths-python-artifacts", attacks=tried + 3)


def test_artifact_links_out_of_the_root_are_not_followed(
        setup: tuple[TrackingClient, str, str, Outside], tmp_path: Path) -> None:
    client, _experiment, run, outside = setup
    artifacts = Path(client.get_run(run).info.artifact_uri.removeprefix("file://"))
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "real.txt").write_text("mine")
    os.symlink(outside.directory, artifacts / "linked-dir")
    os.symlink(outside.directory / "secret.txt", artifacts / "linked.txt")
    source = tmp_path / "f.txt"
    source.write_text("payload")
    downloads = tmp_path / "mlruns" / "dl"
    downloads.mkdir()
    outside.before = outside.snapshot()
    listed = {f.path for f in client.list_artifacts(run)}
    assert listed == {"real.txt"}, listed  # links that lead out are not listed
    for path in ("linked-dir", "linked-dir/secret.txt", "linked.txt", "linked-dir/sub"):
        for attack in (lambda p=path: client.download_artifacts(run, p, str(downloads)),
                       lambda p=path: client.list_artifacts(run, p),
                       lambda p=path: client.log_artifact(run, str(source), p)):
            assert _error(attack).error_code == INVALID_PARAMETER_VALUE, path
    whole = client.download_artifacts(run, "", str(downloads))
    copied = [str(p.relative_to(whole)) for p in Path(whole).rglob("*")]
    assert copied == ["real.txt"], copied
    for copy in Path(whole).rglob("*"):
        assert not outside.leaked(copy.read_bytes())
    outside.assert_untouched("artifact links")


def test_links_planted_in_the_store_are_not_followed(
        setup: tuple[TrackingClient, str, str, Outside]) -> None:
    """A key's folder, a key's sub-directory or a key's file replaced by a symbolic link that
    leads out: the store reads nothing through it and writes nothing through it."""
    client, experiment, run, outside = setup
    run_dir = Path(client.get_run(run).info.artifact_uri.removeprefix("file://")).parent
    os.symlink(outside.directory / "secret.txt", run_dir / "metrics" / "linked")
    os.symlink(outside.directory, run_dir / "tags" / "linked")
    os.symlink(outside.directory / "secret.txt", run_dir / "params" / "linked")
    (run_dir / "inputs").mkdir(exist_ok=True)
    experiment_tags = run_dir.parent / "tags"
    experiment_tags.mkdir(exist_ok=True)
    os.symlink(outside.directory, experiment_tags / "linked")
    outside.before = outside.snapshot()
    data = client.get_run(run).data
    shown = repr((data.params, data.metrics, data.tags, client.get_experiment(experiment).tags))
    assert not outside.leaked(shown), shown
    assert "linked" not in data.params and "linked" not in data.metrics
    assert not any(k.startswith("linked") for k in data.tags)
    for key, attack in {
        "metric": lambda: client.log_metric(run, "linked", 2.0),
        "metric in a linked folder": lambda: client.log_metric(run, "linked/x", 2.0),
        "param": lambda: client.log_param(run, "linked", "v"),
        "tag in a linked folder": lambda: client.set_tag(run, "linked/secret.txt", "v"),
        "experiment tag": lambda: client.set_experiment_tag(experiment, "linked/new", "v"),
        "history": lambda: client.get_metric_history(run, "linked"),
        "delete tag": lambda: client.delete_tag(run, "linked/secret.txt"),
    }.items():
        error = _error(attack)
        assert error.error_code in (INVALID_STATE, INVALID_PARAMETER_VALUE), (key, error)
        assert not outside.leaked(error.message)
    # A batch with one key behind a link is refused whole: its good parts are not stored.
    before = _data(client, run)
    for batch in ({"metrics": [Metric("good", 1.0, 1, 0), Metric("linked/x", 1.0, 1, 0)]},
                  {"params": [Param("good", "v")], "tags": [RunTag("linked/secret.txt", "v")]},
                  {"params": [Param("good", "v"), Param("linked", "v")]},
                  {"metrics": [Metric("good", 1.0, 1, 0)], "params": [Param("linked", "v")]}):
        assert _error(client.log_batch, run, **batch).error_code == INVALID_STATE, batch
        assert _data(client, run) == before, batch
    # The whole folder of a kind replaced by a link: nothing of it is read, nor written.
    (run_dir / "params" / "linked").unlink()
    (run_dir / "params" / "p").unlink()
    (run_dir / "params").rmdir()
    os.symlink(outside.directory, run_dir / "params")
    outside.before = outside.snapshot()
    assert dict(client.get_run(run).data.params) == {}
    assert _error(client.log_param, run, "new", "v").error_code == INVALID_STATE
    outside.assert_untouched("links in the store")
