"""``trackstore import`` / ``export`` of mlruns trees written by MLflow, into SQLite and back.

The same tests on PostgreSQL and MariaDB are in ``test_import_servers.py``; comparisons as
MLflow itself reads the trees are in ``tests/compat/test_mlflow_import.py``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from trackstore import _metrics
from trackstore.cli import main
from trackstore.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from trackstore.exceptions import TrackstoreError
from trackstore.store.file import FileStore
from trackstore.transfer import run_import

from .conftest import MLRUNS_222, MLRUNS_317, open_store, snapshot_of


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _copy(src: Path, tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(src, dest)
    return dest


def _metric_file(tree: Path, run_id: str, key: str) -> Path:
    for path in tree.glob(f"*/{run_id}/metrics/{key}"):
        return path
    raise AssertionError(f"no metric {key} in run {run_id}")


def _some_run(tree: Path) -> tuple[str, str]:
    """(experiment id, run id) of an active run with metrics."""
    for meta in sorted(tree.glob("*/*/meta.yaml")):
        run_dir = meta.parent
        if (run_dir / "metrics").is_dir() and any((run_dir / "metrics").iterdir()):
            text = meta.read_text()
            if "lifecycle_stage: active" in text:
                return run_dir.parent.name, run_dir.name
    raise AssertionError("no run")


@pytest.mark.parametrize("fixture", [MLRUNS_317, MLRUNS_222], ids=["mlflow-3.17", "mlflow-2.22"])
def test_round_trip_through_sqlite_is_lossless(fixture: Path, tmp_path: Path) -> None:
    src = _copy(fixture, tmp_path, "src")
    original = snapshot_of(str(src))
    db = f"sqlite:///{tmp_path / 'rt.db'}"
    summary, result = run_import(str(src), db, check=True)
    assert result is not None and result.ok, result.differences
    assert summary.runs_imported == summary.runs_total == 27
    assert summary.problems == []
    assert snapshot_of(db) == original
    out = tmp_path / "out"
    summary, result = run_import(db, str(out), check=True)
    assert result is not None and result.ok, result.differences
    assert snapshot_of(str(out)) == original
    # ids are kept: every experiment folder of the source is in the export
    assert sorted(p.name for p in src.iterdir() if p.is_dir()) == \
        sorted(p.name for p in out.iterdir() if p.is_dir())


def test_nan_inf_and_duplicates_are_carried(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    store = FileStore(str(tree))
    run = store.create_run("0", "u", 1, [], "specials")
    rid = run.info.run_id
    store.log_batch(rid, metrics=[Metric("v", math.nan, 10, 0), Metric("v", math.inf, 11, 1),
                                  Metric("v", -math.inf, 12, 2), Metric("v", -0.0, 13, 3),
                                  Metric("v", 5e-324, 14, 4), Metric("v", 1.5, 15, 5),
                                  Metric("v", 1.5, 15, 5)])
    store.close()
    db = f"sqlite:///{tmp_path / 'd.db'}"
    summary, result = run_import(str(tree), db, check=True)
    assert result is not None and result.ok
    assert summary.points == 7 and summary.duplicate_points == 1
    dest = open_store(db)
    values = [m.value for m in dest.get_metric_history(rid, "v")]
    dest.close()
    assert math.isnan(values[0]) and values[1:3] == [math.inf, -math.inf]
    assert values[3:] == [0.0, 5e-324, 1.5]


def _tree_with_inputs(tmp_path: Path) -> tuple[Path, str]:
    tree = tmp_path / "inputs-tree"
    store = FileStore(str(tree))
    exp = store.create_experiment("with-inputs")
    run = store.create_run(exp, "u", 5, [], "r")
    ds = Dataset("train", "abc123", "local", '{"uri": "/data/train.csv"}', '{"cols": 3}',
                 '{"rows": 10}')
    store.log_inputs(run.info.run_id, [DatasetInput(ds, [InputTag("mlflow.data.context",
                                                                  "train")])])
    store.log_batch(run.info.run_id, metrics=[
        Metric("acc", 0.5, 100, 1, dataset_name="train", dataset_digest="abc123"),
        Metric("acc", 0.6, 101, 2)], params=[Param("lr", "0.1")], tags=[RunTag("t", "v")])
    store.close()
    return tree, run.info.run_id


def test_datasets_inputs_and_point_datasets_round_trip(tmp_path: Path) -> None:
    tree, run_id = _tree_with_inputs(tmp_path)
    original = snapshot_of(str(tree))
    db = f"sqlite:///{tmp_path / 'd.db'}"
    run_import(str(tree), db)
    assert snapshot_of(db) == original
    out = tmp_path / "out"
    run_import(db, str(out))
    assert snapshot_of(str(out)) == original
    assert original["with-inputs"]["runs"][run_id]["history"]["acc"][0][3:] == \
        ("train", "abc123")


def test_second_import_writes_nothing_and_changes_are_picked_up(tree_317: Path,
                                                                sqlite_uri: str) -> None:
    first, _ = run_import(str(tree_317), sqlite_uri)
    assert first.runs_imported == 27
    again, _ = run_import(str(tree_317), sqlite_uri)
    assert (again.runs_imported, again.runs_unchanged, again.points) == (0, 27, 0)

    exp_id, run_id = _some_run(tree_317)
    path = _metric_file(tree_317, run_id, "m1")
    before = len(_metrics.parse(path.read_bytes()).timestamps)
    with open(path, "ab") as f:  # the run goes on logging
        f.write(_metrics.format_lines([1_800_000_000_000 + i for i in range(5)],
                                      [0.25] * 5, range(1000, 1005)))
    (tree_317 / exp_id / run_id / "tags" / "late").write_text("tag")
    third, result = run_import(str(tree_317), sqlite_uri, check=True)
    assert result is not None and result.ok, result.differences
    assert (third.runs_imported, third.runs_unchanged) == (1, 26)
    assert third.points == 5  # only what was appended is read: the file resumes at its offset
    dest = open_store(sqlite_uri)
    try:
        assert len(dest.get_metric_history(run_id, "m1")) == before + 5
        assert dest.get_run(run_id).data.tags["late"] == "tag"
    finally:
        dest.close()


def test_full_reimport_duplicates_nothing(tree_317: Path, sqlite_uri: str) -> None:
    run_import(str(tree_317), sqlite_uri)
    before = snapshot_of(sqlite_uri)
    summary, result = run_import(str(tree_317), sqlite_uri, full=True, check=True)
    assert summary.runs_imported == 27 and summary.points > 4000
    assert result is not None and result.ok
    assert snapshot_of(sqlite_uri) == before
    db = sqlite_uri[len("sqlite:///"):]
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()
    assert count == sum(len(h) for e in before.values() for r in e["runs"].values()
                        for h in r["history"].values())


def _tree(tmp_path: Path, name: str, experiments: dict[str, str]) -> Path:
    """A tree whose experiments have the given ids -> names, one run each."""
    tree = tmp_path / name
    store = FileStore(str(tree))
    store.close()
    for exp_id, exp_name in experiments.items():
        (tree / exp_id).mkdir()
        (tree / exp_id / "meta.yaml").write_text(
            f"artifact_location: file:///a/{exp_id}\ncreation_time: 1\nexperiment_id: "
            f"'{exp_id}'\nlast_update_time: 2\nlifecycle_stage: active\nname: {exp_name}\n")
    store = FileStore(str(tree))
    for exp_id, exp_name in experiments.items():
        run = store.create_run(exp_id, "u", 1, [], f"{name}-{exp_name}")
        store.log_metric(run.info.run_id, Metric("m", 1.0, 1, 0))
    store.close()
    return tree


def test_merging_trees_with_colliding_ids_follows_the_rule(tmp_path: Path,
                                                           sqlite_uri: str) -> None:
    a = _tree(tmp_path, "a", {"1": "shared", "2": "only-a"})
    b = _tree(tmp_path, "b", {"1": "only-b", "7": "shared", "2": "also-b"})
    run_import(str(a), sqlite_uri)
    summary, result = run_import(str(b), sqlite_uri, check=True)
    assert result is not None and result.ok, result.differences
    dest = open_store(sqlite_uri)
    try:
        by_name = {e.name: e.experiment_id for e in dest.search_experiments(max_results=100)}
        assert by_name["shared"] == "1"  # b's "shared" (id 7) joined a's by name
        assert by_name["only-a"] == "2"
        assert by_name["only-b"] not in ("1", "2", "7")  # id 1 taken: a new id
        assert by_name["also-b"] not in ("1", "2", "7")
        assert len(dest.search_runs(["1"], "")) == 2  # one run from each tree
        assert summary.remapped == {"1": by_name["only-b"], "2": by_name["also-b"],
                                    "7": "1"}
        again, _ = run_import(str(b), sqlite_uri)  # the mapping is remembered
        assert again.remapped == summary.remapped and again.runs_imported == 0
        assert len(dest.search_experiments(max_results=100)) == 5
        # a new experiment created afterwards gets an id no import took
        new_id = dest.create_experiment("after")
        assert new_id not in set(by_name.values())
    finally:
        dest.close()


def test_bad_tree_entries_are_reported_and_skipped(tree_317: Path, sqlite_uri: str) -> None:
    runs = sorted(p.parent for p in tree_317.glob("*/*/meta.yaml")
                  if (p.parent / "metrics").is_dir())
    empty_meta, wrong_id, bad_line, torn, bad_param = runs[:5]
    (empty_meta / "meta.yaml").write_bytes(b"")
    (wrong_id / "meta.yaml").write_text((wrong_id / "meta.yaml").read_text().replace(
        wrong_id.name, "f" * 32))
    metric = next(p for p in (bad_line / "metrics").iterdir() if p.is_file())
    metric.write_bytes(metric.read_bytes() + b"not a metric line\n")
    torn_metric = next(p for p in (torn / "metrics").iterdir() if p.is_file())
    torn_metric.write_bytes(torn_metric.read_bytes() + b"1700000000000 0.5")
    os.utime(torn_metric, (1, 1))  # written long ago: a crash, not a write in progress
    (bad_param / "params" / "bad").write_bytes(b"\xff\xfe")
    (tree_317 / "999").mkdir()  # an experiment folder without meta.yaml

    summary, _ = run_import(str(tree_317), sqlite_uri)
    reasons = "\n".join(f"{w}: {r}" for w, r in summary.problems)
    assert summary.runs_skipped == 2 and summary.runs_imported == 25
    assert f"{empty_meta / 'meta.yaml'}: run skipped: it is empty" in reasons
    assert "is not its folder's name" in reasons
    assert f"{metric}: metric '{metric.name}': line" in reasons and "malformed" in reasons
    assert f"{torn_metric}: metric '{torn_metric.name}': torn last line" in reasons
    assert f"{bad_param / 'params' / 'bad'}: is not valid UTF-8; undecodable bytes replaced" \
        in reasons
    assert f"{tree_317 / '999' / 'meta.yaml'}: experiment skipped" in reasons
    dest = open_store(sqlite_uri)
    try:
        with pytest.raises(TrackstoreError):
            dest.get_run(empty_meta.name)
        assert dest.get_run(bad_param.name).data.params["bad"] == "\ufffd\ufffd"  # as MLflow
    finally:
        dest.close()


def test_strict_stops_at_the_first_problem_and_exits_non_zero(tree_317: Path,
                                                              tmp_path: Path) -> None:
    run_dir = sorted(p.parent for p in tree_317.glob("*/*/meta.yaml")
                     if (p.parent / "metrics").is_dir())[3]
    (run_dir / "meta.yaml").write_text("run_id: [unclosed\n")
    db = f"sqlite:///{tmp_path / 's.db'}"
    code, _, err = _cli("import", "--strict", "-q", str(tree_317), db)
    assert code == 1
    assert f"{run_dir / 'meta.yaml'}: run skipped:" in err and "--strict" in err
    code, out, _ = _cli("import", "-q", "--json", str(tree_317), db)  # without: skipped
    assert code == 0
    data = json.loads(out)
    assert data["runs"]["skipped"] == 1 and data["runs"]["imported"] == 26
    assert data["problems"][0]["where"] == str(run_dir / "meta.yaml")


def test_verify_finds_a_difference_and_exits_3(tree_317: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "v.db"
    db = f"sqlite:///{db_path}"
    code, out, _ = _cli("import", "-q", "--verify", str(tree_317), db)
    assert code == 0
    with sqlite3.connect(db_path) as conn:  # the destination loses a point behind our back
        conn.execute("DELETE FROM metrics WHERE rowid = (SELECT MIN(rowid) FROM metrics)")
    code, out, _ = _cli("import", "--verify", str(tree_317), db)
    assert code == 3
    assert "1 DIFFERENCES" in out and "distinct points, not" in out


def test_uncarried_entities_are_counted(tree_317: Path, sqlite_uri: str) -> None:
    exp = next(p for p in tree_317.iterdir() if p.is_dir() and p.name not in ("0", ".trash"))
    for i in range(3):
        (exp / "traces" / f"tr-{i}").mkdir(parents=True)
    (exp / "models" / "m-1").mkdir(parents=True)
    summary, _ = run_import(str(tree_317), sqlite_uri)
    # (The model registry, models/ at the root, is carried: test_registry_import.py.)
    assert summary.uncarried == {"traces": 3, "logged models": 1}
    assert summary.runs_imported == 27  # traces/ and models/ are not runs
    _, out, _ = _cli("import", str(tree_317), sqlite_uri)
    assert "not carried  1 logged models, 3 traces" in out


def test_an_mlflow_database_is_never_a_destination(tmp_path: Path, tree_317: Path) -> None:
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.executescript("CREATE TABLE experiments (experiment_id INTEGER);"
                           "CREATE TABLE runs (run_uuid TEXT);"
                           "CREATE TABLE metrics (key TEXT, is_nan BOOLEAN);")
    before = db.read_bytes()
    code, _, err = _cli("import", str(tree_317), f"sqlite:///{db}")
    assert code == 1 and "is an MLflow database" in err
    assert db.read_bytes() == before


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = _cli("import", str(tmp_path / "nope"), f"sqlite:///{tmp_path / 'x.db'}")
    assert code == 1 and "is not a directory" in err
    code, _, err = _cli("import", f"sqlite:///{tmp_path / 'nope.db'}", str(tmp_path / "o"))
    assert code == 1 and "does not exist" in err


def test_export_into_a_tree_keeps_the_points_it_already_had(tree_317: Path,
                                                            tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    run_import(str(tree_317), db)
    out = tmp_path / "out"
    run_import(db, str(out))
    _, run_id = _some_run(tree_317)
    path = _metric_file(out, run_id, "m1")
    extra = _metrics.format_line(1_900_000_000_000, 42.0, 99999)
    path.write_bytes(path.read_bytes() + extra)  # logged into the exported tree directly
    run_import(db, str(out), full=True)
    assert path.read_bytes().endswith(extra)
    assert path.read_bytes().count(extra) == 1


@pytest.mark.parametrize(("chunk_bytes", "prefetch_bytes"), [(7, 0), (64, 0), (1 << 20, 0),
                                                             (64, 1 << 20)])
def test_metric_files_read_in_any_block_size_give_the_same_points(
        tree_317: Path, chunk_bytes: int, prefetch_bytes: int) -> None:
    from trackstore.transfer.sources import MlrunsSource

    problems: list[tuple[str, str]] = []
    source = MlrunsSource(str(tree_317), lambda w, r: problems.append((w, r)),
                          chunk_bytes=chunk_bytes, prefetch_bytes=prefetch_bytes)
    exp = next(e for e in source.experiments() if e.name != "Default")
    run = source.read_run(exp, source.run_locators(exp)[0])
    assert run is not None
    for series in run.metrics:
        whole = _metrics.parse(Path(series.locator).read_bytes())
        chunks = list(source.points(run, series, 0))
        assert chunks[-1].final and not any(c.final for c in chunks[:-1])
        assert [t for c in chunks for t in c.timestamps] == list(whole.timestamps)
        assert [s for c in chunks for s in c.steps] == list(whole.steps)
        assert chunks[-1].end == len(Path(series.locator).read_bytes())
        middle = chunks[0].end if len(chunks) > 1 else 0  # resume where a chunk ended
        rest = list(source.points(run, series, middle))
        assert [t for c in rest for t in c.timestamps] == \
            [t for c in chunks[1 if middle else 0:] for t in c.timestamps]
    assert problems == []


def test_progress_bar_shows_runs_points_rate_and_eta() -> None:
    import io

    from trackstore.transfer import ImportSummary, ProgressBar

    out = io.StringIO()
    bar = ProgressBar(out)
    bar(ImportSummary(runs_total=40, runs_imported=8, runs_unchanged=2, points=2_500_000,
                      seconds=5.0))
    bar(ImportSummary(runs_total=40, runs_imported=40, points=10_000_000, seconds=20.0))
    bar.close()
    first, second = out.getvalue().lstrip("\r").rstrip("\n").split("\r")
    assert first.startswith("[#####...............]  25.0%  runs 10/40")
    assert "points 2.50M" in first and "500.00k pts/s" in first and "ETA 0:00:15" in first
    assert second.startswith("[####################] 100.0%  runs 40/40")
    assert "ETA 0:00:00" in second
    assert out.getvalue().endswith("\n")


def test_quiet_import_prints_nothing_but_problems(tree_317: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'q.db'}"
    code, out, err = _cli("import", "-q", str(tree_317), db)
    assert (code, out, err) == (0, "", "")
    next(tree_317.glob("*/*/params")).joinpath("bad").write_bytes(b"\xff")
    code, out, _ = _cli("import", "-q", str(tree_317), db)
    assert code == 0 and "problems     1 (skipped):" in out and "not valid UTF-8" in out


def test_a_store_cannot_be_imported_into_itself(tree_317: Path, tmp_path: Path) -> None:
    code, _, err = _cli("import", str(tree_317), f"file://{tree_317}/")
    assert code == 1 and "SOURCE and DEST are the same store" in err
    db = tmp_path / "same.db"
    run_import(str(tree_317), f"sqlite:///{db}")
    code, _, err = _cli("import", f"sqlite:///{db}", f"sqlite:///{tmp_path}/../{tmp_path.name}/same.db")
    assert code == 1 and "same store" in err


def test_a_tree_exports_to_a_tree(tmp_path: Path) -> None:
    src = _copy(MLRUNS_222, tmp_path, "src")  # MLflow 2.x layout (run_uuid) in, 3.x out
    out = tmp_path / "out"
    code, _, _ = _cli("export", "-q", "--verify", str(src), str(out))
    assert code == 0
    assert snapshot_of(str(out)) == snapshot_of(str(src))
    runs = [m.parent for m in out.glob("**/metrics") if (m.parent / "meta.yaml").is_file()]
    assert len(runs) == 27
    for run in runs:
        text = (run / "meta.yaml").read_text()
        assert "run_id:" in text and "run_uuid:" in text  # both MLflow generations read it
        assert (run / "artifacts").is_dir() and (run / "params").is_dir()


def test_import_help_lists_every_option() -> None:
    code, out, _ = _cli("import", "--help")
    assert code == 0
    for option in ("--verify", "--strict", "--full", "--jobs", "--batch-points", "--quiet",
                   "--json"):
        assert option in out


def test_an_unreachable_database_is_a_clear_error(tree_317: Path, tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    from tests._databases import server_uri

    missing = make_url(server_uri("postgresql")).set(database="ts_no_such_database")
    uri = missing.render_as_string(hide_password=False)
    for args in (("import", str(tree_317), uri), ("export", uri, str(tmp_path / "out"))):
        code, out, err = _cli(*args)
        assert code == 1 and out == ""
        assert err.startswith("Error (TEMPORARILY_UNAVAILABLE): Cannot open the database ")
        assert "ts_no_such_database" in err and "Traceback" not in err
        assert ":***@" in err and f":{missing.password}@" not in err  # no password shown


def test_a_second_import_reads_no_metric_file(tree_317: Path, sqlite_uri: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from trackstore.transfer import sources

    read: list[str] = []
    original = sources.read_bytes

    def counting(path: str) -> bytes:
        read.append(path)
        return original(path)

    monkeypatch.setattr(sources, "read_bytes", counting)
    run_import(str(tree_317), sqlite_uri)
    first = [p for p in read if f"{os.sep}metrics{os.sep}" in p]
    assert len(first) == 102  # every metric file, read ahead with its run
    read.clear()
    again, _ = run_import(str(tree_317), sqlite_uri)
    assert again.runs_unchanged == 27
    assert [p for p in read if f"{os.sep}metrics{os.sep}" in p] == []  # only stat()ed
