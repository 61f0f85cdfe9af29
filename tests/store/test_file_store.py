"""What only the file store does: the on-disk layout, atomic writes, damaged trees, the index."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from trackstore import _metrics, _yamlio
from trackstore.entities import Metric, Param, RunTag, ViewType
from trackstore.exceptions import TrackstoreError
from trackstore.store.file import FileStore
from trackstore.store.file import layout as layout_module
from trackstore.store.file.appender import TORN_MARK, MetricAppender

T0 = 1_700_000_000_000


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "mlruns"


@pytest.fixture
def fs(root: Path) -> FileStore:
    store = FileStore(str(root))
    yield store
    store.close()


def run_dir(fs: FileStore, run_id: str) -> Path:
    return Path(fs.root_directory) / fs.get_run(run_id).info.experiment_id / run_id


def test_new_root_has_default_experiment_and_trash(root: Path, fs: FileStore) -> None:
    meta = _yamlio.load((root / "0" / "meta.yaml").read_bytes())
    assert meta["experiment_id"] == "0" and meta["name"] == "Default"
    assert meta["artifact_location"] == (root / "0").as_uri()
    assert (root / ".trash").is_dir()


def test_existing_root_without_experiment_zero_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    FileStore(str(tmp_path / "tree"))
    assert not (tmp_path / "tree" / "0").exists()


def test_run_layout_is_mlflows(fs: FileStore) -> None:
    run = fs.create_run("0", "bob", T0, [], "r")
    rid = run.info.run_id
    fs.log_batch(rid, metrics=[Metric("m", 0.5, T0, 1), Metric("m", float("nan"), T0 + 1, 2),
                               Metric("m", 1e20, T0 + 2, -3)],
                 params=[Param("p", "value")], tags=[RunTag("t", "x")])
    fs.log_metric(rid, Metric("d", 1.0, T0, 0, dataset_name="ds", dataset_digest="abc"))
    d = run_dir(fs, rid)
    assert {p.name for p in d.iterdir()} == {"meta.yaml", "metrics", "params", "tags",
                                             "artifacts"}
    assert (d / "metrics" / "m").read_bytes() == (
        f"{T0} 0.5 1\n{T0 + 1} nan 2\n{T0 + 2} 1e+20 -3\n".encode())
    assert (d / "metrics" / "d").read_bytes() == f"{T0} 1.0 0 ds abc\n".encode()
    assert (d / "params" / "p").read_bytes() == b"value"
    assert (d / "tags" / "t").read_bytes() == b"x"
    meta = _yamlio.load((d / "meta.yaml").read_bytes())
    assert meta["run_id"] == meta["run_uuid"] == rid
    assert (meta["status"], meta["source_type"], meta["tags"], meta["user_id"],
            meta["end_time"]) == (1, 4, [], "bob", None)
    fs.delete_run(rid)
    assert isinstance(_yamlio.load((d / "meta.yaml").read_bytes())["deleted_time"], int)
    fs.restore_run(rid)
    assert "deleted_time" not in _yamlio.load((d / "meta.yaml").read_bytes())


def test_deleted_experiment_moves_to_trash_and_back(root: Path, fs: FileStore) -> None:
    exp_id = fs.create_experiment("e")
    rid = fs.create_run(exp_id, "u", T0, [], None).info.run_id
    fs.delete_experiment(exp_id)
    assert not (root / exp_id).exists() and (root / ".trash" / exp_id / rid).is_dir()
    assert _yamlio.load((root / ".trash" / exp_id / "meta.yaml").read_bytes())[
        "lifecycle_stage"] == "deleted"
    fs.restore_experiment(exp_id)
    assert (root / exp_id / rid / "meta.yaml").is_file()


def test_meta_yaml_writes_are_atomic(fs: FileStore, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = fs.create_run("0", "u", T0, [], "before").info.run_id
    d = run_dir(fs, rid)
    original = (d / "meta.yaml").read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(layout_module.os, "replace", crash)
    with pytest.raises(OSError):
        fs.update_run_info(rid, None, T0 + 1, None)
    monkeypatch.undo()
    assert (d / "meta.yaml").read_bytes() == original
    assert [p.name for p in d.iterdir() if p.name.startswith(".")] == []  # no temp files left
    assert fs.get_run(rid).info.end_time is None


def test_torn_last_line_is_skipped_reported_and_not_glued(fs: FileStore) -> None:
    rid = fs.create_run("0", "u", T0, [], None).info.run_id
    fs.log_metric(rid, Metric("m", 1.0, T0, 0))
    path = run_dir(fs, rid) / "metrics" / "m"
    with open(path, "ab") as f:
        f.write(b"1700000000001 0.5")  # a writer killed mid-line...
    # ...or one still at work: a fresh fragment is skipped without a word.
    assert [m.value for m in fs.get_metric_history(rid, "m")] == [1.0]
    assert fs.problems() == []
    os.utime(path, (time.time() - 5, time.time() - 5))  # it stays: a crash
    assert [m.value for m in fs.get_metric_history(rid, "m")] == [1.0]
    assert any("torn last line" in problem for _, problem in fs.problems())
    other = FileStore(fs.root_directory)  # a new process appends after the torn fragment
    other.log_metric(rid, Metric("m", 2.0, T0 + 5, 1))
    other.close()
    # "1700000000001 0.5" would parse (step 0): the fragment must not come back as data.
    assert [(m.value, m.step) for m in fs.get_metric_history(rid, "m")] == [(1.0, 0), (2.0, 1)]
    assert fs.get_run(rid).data.metrics == {"m": 2.0}
    assert path.read_bytes().count(b"[torn line") == 1
    assert any("line 2 is malformed" in problem for _, problem in fs.problems())


def test_damaged_entries_are_reported_and_skipped(root: Path, fs: FileStore) -> None:
    good_exp = fs.create_experiment("good")
    good = fs.create_run(good_exp, "u", T0, [], "good").info.run_id
    fs.log_metric(good, Metric("m", 1.0, T0, 0))
    broken_exp = fs.create_experiment("broken")
    (root / broken_exp / "meta.yaml").write_bytes(b"name: [unclosed\n")
    empty_run = fs.create_run(good_exp, "u", T0, [], None).info.run_id
    (root / good_exp / empty_run / "meta.yaml").write_bytes(b"")
    garbage_run = fs.create_run(good_exp, "u", T0, [], None).info.run_id
    (root / good_exp / garbage_run / "meta.yaml").write_bytes(b"\x00\xff\xfe garbage")
    (root / good_exp / "no-meta-dir").mkdir()
    (root / "notes").mkdir()
    (root / ".git").mkdir()
    (root / "README.txt").write_text("not an experiment")
    bad_metric = root / good_exp / good / "metrics" / "bad"
    bad_metric.write_bytes(b"1 2 3 4\n")

    names = {e.name for e in fs.search_experiments(ViewType.ALL)}
    assert {"Default", "good"} <= names and "broken" not in names
    runs = fs.search_runs([good_exp, broken_exp], "", ViewType.ALL)
    assert [r.info.run_id for r in runs] == [good]
    assert runs[0].data.metrics == {"m": 1.0}
    problems = " | ".join(f"{path}: {what}" for path, what in fs.problems())
    for fragment in ("not valid YAML", f"{empty_run}/meta.yaml is empty", "metric 'bad'",
                     "notes"):
        assert fragment in problems
    with pytest.raises(TrackstoreError) as e:
        fs.get_run(empty_run)
    assert e.value.error_code == "INVALID_STATE"


def test_get_run_does_not_scan_experiment_directories(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = FileStore(str(root))
    exps = [writer.create_experiment(f"e{i}") for i in range(30)]
    rid = writer.create_run(exps[17], "u", T0, [], None).info.run_id
    writer.close()
    reader = FileStore(str(root))  # a fresh process: nothing cached in memory
    listed: list[str] = []
    real_scandir = os.scandir

    def counting_scandir(path: str) -> object:
        listed.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting_scandir)
    assert reader.get_run(rid).info.experiment_id == exps[17]
    other_experiments = [p for p in listed if any(p.endswith(os.sep + e) for e in exps)]
    assert other_experiments == []
    assert not any(p == str(root) for p in listed)


def test_runs_unknown_to_the_index_are_found(root: Path) -> None:
    writer = FileStore(str(root))
    exp = writer.create_experiment("e")
    rid = writer.create_run(exp, "u", T0, [], None).info.run_id
    writer.close()
    (root / ".trackstore-run-index").unlink()
    assert FileStore(str(root)).get_run(rid).info.run_id == rid
    # The probe remembered it for the next process.
    assert rid in (root / ".trackstore-run-index").read_text()
    (root / ".trackstore-run-index").write_text(f"{rid} 12345\n")  # a stale, wrong hint
    assert FileStore(str(root)).get_run(rid).info.experiment_id == exp


def test_metric_key_conflict_is_a_clear_error(fs: FileStore) -> None:
    rid = fs.create_run("0", "u", T0, [], None).info.run_id
    fs.log_metric(rid, Metric("loss", 1.0, T0, 0))
    with pytest.raises(TrackstoreError) as e:
        fs.log_metric(rid, Metric("loss/train", 1.0, T0, 0))
    assert e.value.error_code == "INVALID_PARAMETER_VALUE" and "conflicts" in e.value.message


def test_concurrent_threads_lose_and_duplicate_nothing(fs: FileStore) -> None:
    rid = fs.create_run("0", "u", T0, [], None).info.run_id

    def log(worker: int) -> None:
        for i in range(500):
            fs.log_metric(rid, Metric("m", float(worker), T0 + i, worker * 1000 + i))
        fs.log_batch(rid, metrics=[Metric("b", 1.0, T0, worker * 1000 + i) for i in range(500)])

    threads = [threading.Thread(target=log, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in ("m", "b"):
        steps = sorted(m.step for m in fs.get_metric_history(rid, key))
        assert steps == sorted(w * 1000 + i for w in range(8) for i in range(500))
    assert fs.problems() == []


def _log_from_process(root: str, run_id: str, worker: int) -> None:
    store = FileStore(root)
    for i in range(300):
        store.log_metric(run_id, Metric("m", 0.5, T0 + i, worker * 1000 + i))
    store.log_batch(run_id, params=[Param(f"p{worker}", str(worker))])


def test_concurrent_processes_append_whole_lines(root: Path, fs: FileStore) -> None:
    rid = fs.create_run("0", "u", T0, [], None).info.run_id
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_log_from_process, args=(str(root), rid, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    steps = sorted(m.step for m in fs.get_metric_history(rid, "m"))
    assert steps == sorted(w * 1000 + i for w in range(4) for i in range(300))
    assert fs.get_run(rid).data.params == {f"p{w}": str(w) for w in range(4)}
    assert fs.problems() == []


def _append_with_fresh_descriptors(metrics_dir: str, worker: int, start: Any) -> None:
    start.wait()
    for i in range(1000):  # each appender opens the file anew and checks its tail
        appender = MetricAppender()
        lines = b"".join(b"%d 0.123456789012345 %d\n" % (T0 + i, worker * 10_000 + i * 5 + j)
                         for j in range(5))
        appender.append(metrics_dir, "m", lines)
        appender.close()


def test_writes_in_flight_are_not_taken_for_torn_lines(tmp_path: Path) -> None:
    # Linux grows an appended file page by page, so a process opening it can see half of a
    # line that another process is still writing. That must not be sealed as torn.
    metrics_dir = str(tmp_path / "metrics")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_append_with_fresh_descriptors, args=(metrics_dir, w, start))
             for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    parsed = _metrics.parse(Path(metrics_dir, "m").read_bytes())
    assert (parsed.bad_lines, parsed.torn) == ([], False)
    assert sorted(parsed.steps) == sorted(w * 10_000 + s for w in range(4) for s in range(5000))


def test_an_unfinished_line_is_waited_for_not_sealed(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_bytes(b"1700000000000 0.5 0\n1700000000001 0.2")  # a write in progress...

    def finish() -> None:
        time.sleep(0.05)
        with open(path, "ab") as f:
            f.write(b"5 1\n")  # ...that completes 50 ms later

    finisher = threading.Thread(target=finish)
    finisher.start()
    appender = MetricAppender(settle=0.5)
    appender.append(str(tmp_path), "m", b"1700000000002 0.3 2\n")
    appender.close()
    finisher.join()
    parsed = _metrics.parse(path.read_bytes())
    assert (parsed.bad_lines, parsed.torn) == ([], False)
    assert list(parsed.values) == [0.5, 0.25, 0.3] and list(parsed.steps) == [0, 1, 2]


def test_a_fragment_that_stays_is_sealed_after_the_settle_time(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_bytes(b"1700000000000 0.5 0\n1700000000001 0.2")
    appender = MetricAppender(settle=0.05)
    started = time.monotonic()
    appender.append(str(tmp_path), "m", b"1700000000002 0.3 2\n")
    assert time.monotonic() - started >= 0.05
    appender.close()
    assert path.read_bytes() == (b"1700000000000 0.5 0\n1700000000001 0.2" + TORN_MARK
                                 + b"1700000000002 0.3 2\n")


def test_run_deleted_by_another_process_is_noticed(root: Path, fs: FileStore) -> None:
    rid = fs.create_run("0", "u", T0, [], None).info.run_id
    fs.log_metric(rid, Metric("m", 1.0, T0, 0))
    other = FileStore(str(root))
    other.delete_run(rid)
    time.sleep(FileStore.revalidate_after * 1.5)  # writes re-check meta.yaml this often
    with pytest.raises(TrackstoreError) as e:
        fs.log_metric(rid, Metric("m", 2.0, T0, 1))
    assert "active" in e.value.message
    assert [m.value for m in fs.get_metric_history(rid, "m")] == [1.0]


def test_hard_delete_only_removes_deleted_entities(root: Path, fs: FileStore) -> None:
    exp = fs.create_experiment("e")
    keep = fs.create_run(exp, "u", T0, [], None).info.run_id
    gone = fs.create_run(exp, "u", T0, [], None).info.run_id
    with pytest.raises(TrackstoreError):
        fs.hard_delete_run(gone)
    fs.delete_run(gone)
    assert fs.deleted_run_ids() == [gone]
    assert fs.deleted_run_ids(older_than_ms=3_600_000) == []
    fs.hard_delete_run(gone)
    assert not (root / exp / gone).exists() and (root / exp / keep).exists()
    with pytest.raises(TrackstoreError):
        fs.hard_delete_experiment(exp)
    fs.delete_experiment(exp)
    fs.hard_delete_experiment(exp)
    assert not (root / ".trash" / exp).exists()
    with pytest.raises(TrackstoreError) as e:
        fs.get_run(keep)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_path_traversal_is_impossible(root: Path, fs: FileStore) -> None:
    rid = fs.create_run("0", "u", T0, [], None).info.run_id
    for bad in ("../../x", "a/../../b", "/etc/passwd", "..", "a/./b"):
        with pytest.raises(TrackstoreError):
            fs.log_metric(rid, Metric(bad, 1.0, T0, 0))
    for bad_id in ("../0", "..", "0/../..", "a b"):
        with pytest.raises(TrackstoreError):
            fs.get_experiment(bad_id)
        with pytest.raises(TrackstoreError):
            fs.get_run(bad_id)
    outside = [p for p in root.parent.iterdir() if p.name != "mlruns"]
    assert outside == []


def test_cached_reads_follow_changes_made_elsewhere(root: Path, fs: FileStore) -> None:
    """Reads reuse what they parsed while files are unchanged, and see every change."""
    exp = fs.create_experiment("e")
    rid = fs.create_run(exp, "u", T0, [], "a").info.run_id
    fs.log_batch(rid, metrics=[Metric("m", 1.0, T0, 5), Metric("m", float("nan"), T0, 5)])
    assert fs.search_runs([exp])[0].data.metrics["m"] == 1.0
    other = FileStore(str(root))
    # Appends: a point at an equal (step, timestamp) does not replace (MLflow's max rule),
    # a later step does; only the appended tail is parsed again.
    other.log_metric(rid, Metric("m", 9.0, T0, 5))
    assert fs.get_run(rid).data.metrics["m"] == 9.0  # same step and timestamp, greater value
    other.log_metric(rid, Metric("m", 0.5, T0, 6))
    assert fs.search_runs([exp], order_by=["metrics.m"])[0].data.metrics["m"] == 0.5
    full = [m for m in fs.get_metric_history(rid, "m")]
    assert [m.value for m in full][-1] == 0.5 and len(full) == 4
    other.update_run_info(rid, None, None, "renamed")
    assert fs.search_runs([exp])[0].info.run_name == "renamed"
    other.delete_run(rid)
    assert fs.search_runs([exp]) == []
    # What a caller does to a returned run never reaches the cache.
    got = fs.search_runs([exp], run_view_type=ViewType.ALL)[0]
    got.info.run_name = "mutated"
    assert fs.get_run(rid).info.run_name == "renamed"


def _summary_tree(root: Path, runs: int = 120) -> tuple[str, list[str]]:
    store = FileStore(str(root))
    exp = store.create_experiment("summary")
    ids = []
    for i in range(runs):
        rid = store.create_run(exp, "u", T0 + i, [], f"r{i}").info.run_id
        store.log_batch(rid, metrics=[Metric("m", float(i), T0, 0)])
        ids.append(rid)
    store.close()
    return exp, ids


def _order(root: Path, exp: str) -> list[tuple[str, float, str]]:
    store = FileStore(str(root))  # a new process: nothing cached in memory
    try:
        return [(r.info.run_id, r.data.metrics["m"], r.info.lifecycle_stage)
                for r in store.search_runs([exp], order_by=["metrics.m DESC"],
                                           run_view_type=ViewType.ALL, max_results=1000)]
    finally:
        store.close()


def test_summary_side_file_is_written_and_never_trusted_blindly(root: Path) -> None:
    exp, ids = _summary_tree(root)
    first = _order(root, exp)
    summary = root / f".trackstore-summary-{exp}"
    assert summary.is_file()  # a search that parsed a lot leaves what it parsed
    # Changes made after the summary was written: an appended point, a deleted run,
    # a rewritten meta.yaml. A new process must see all of them.
    other = FileStore(str(root))
    other.log_metric(ids[0], Metric("m", 1000.0, T0 + 1, 5))
    other.delete_run(ids[1])
    other.update_run_info(ids[2], None, None, "renamed")
    other.close()
    after = _order(root, exp)
    assert after[0] == (ids[0], 1000.0, "active")
    assert (ids[1], 1.0, "deleted") in after
    assert len(after) == len(first) == 120
    store = FileStore(str(root))
    assert store.get_run(ids[2]).info.run_name == "renamed"
    assert store.search_runs([exp], "attributes.run_name = 'renamed'")[0].info.run_id == ids[2]
    store.close()


@pytest.mark.parametrize("content", [
    "", "\x00garbage", '{"v": 1, "meta": [1, 2]}', '{"v": 99}', "[]",
    '{"v": 2, "experiment_id": "EXP", "artifacts": "", "runs": {"RUN": [[1, 2], {}]}}',
    '{"v": 2, "experiment_id": "EXP", "artifacts": "", "runs": {"RUN": [null, {"m": [1]}]}}',
    '{"v": 2, "experiment_id": "EXP", "artifacts": 5, "runs": {"RUN": [[1, 2, 3, "u",'
    ' "FINISHED", 1, 2, "active", null, "n"], {}]}}',
    '{"v": 2, "experiment_id": "EXP", "artifacts": "", "runs": {"RUN": [[1, 2, 3, "u",'
    ' "DONE", 1, 2, "active", null, "n"], {}]}}',
])
def test_damaged_summary_is_ignored(root: Path, content: str) -> None:
    exp, ids = _summary_tree(root)
    expected = _order(root, exp)
    text = content.replace("EXP", exp).replace("RUN", ids[0])
    (root / f".trackstore-summary-{exp}").write_text(text)
    assert _order(root, exp) == expected


def test_summary_of_a_copied_tree_is_rechecked(root: Path, tmp_path: Path) -> None:
    import shutil

    exp, ids = _summary_tree(root)
    _order(root, exp)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)  # new inodes: every summary entry misses
    store = FileStore(str(copy))
    store.log_metric(ids[5], Metric("m", -1.0, T0 + 9, 9))
    store.close()
    order = _order(copy, exp)
    assert order[-1] == (ids[5], -1.0, "active") and len(order) == 120


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_processes_creating_a_new_tree_at_once_all_see_the_default_experiment(
        tmp_path: Path) -> None:
    # The tree is published whole (built aside, then renamed into place): a process that finds
    # the root never finds it without experiment 0, which it would then skip.
    for round_ in range(12):
        root = tmp_path / f"r{round_}" / "mlruns"
        gate_read, gate_write = os.pipe()
        children = []
        for _ in range(6):
            pid = os.fork()
            if pid == 0:  # the child: wait for the gate, open the tree, look at it
                status = 1
                try:
                    os.close(gate_write)
                    os.read(gate_read, 1)
                    store = FileStore(str(root))
                    names = [e.name for e in store.search_experiments()]
                    status = 0 if names == ["Default"] and not store.problems() else 2
                finally:
                    os._exit(status)
            children.append(pid)
        os.close(gate_read)
        os.close(gate_write)  # opens the gate for every child at once
        statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
        assert statuses == [0] * 6, f"round {round_}: {statuses}"
        assert sorted(p.name for p in root.parent.iterdir()) == ["mlruns"]  # no staging left
    # Made as os.mkdir makes directories (the umask applies), as MLflow's tree is.
    assert root.stat().st_mode & 0o777 == (tmp_path / "r0").stat().st_mode & 0o777
