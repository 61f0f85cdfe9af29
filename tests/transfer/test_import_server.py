"""``trackstore import SOURCE http://server``: into a ``trackstore server`` on a SQL store.

The server (in-process, a real HTTP server on 127.0.0.1) applies the import with its
database's bulk writer; the result equals an import straight into a database, a second import
sends nothing, and what the endpoints refuse changes nothing.
"""

from __future__ import annotations

import base64
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._live_server import serve_in_thread
from trackstore.entities import ViewType
from trackstore.exceptions import TrackstoreError
from trackstore.store.file import FileStore
from trackstore.store.sql import SqlStore
from trackstore.transfer import run_import
from trackstore.transfer.rest import PREFIX

from .conftest import MLRUNS_317, snapshot, snapshot_of


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, SqlStore]]:
    store = SqlStore(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        with serve_in_thread(store) as url:
            yield url, store
    finally:
        store.close()


def _post(url: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_import_through_the_server_equals_a_direct_import(
        server: tuple[str, SqlStore], tree_317: Path, tmp_path: Path) -> None:
    url, store = server
    summary, result = run_import(str(tree_317), url, check=True, batch_points=1000)
    assert result is not None and result.ok, result.differences
    assert summary.runs_imported == 27 and summary.points == 4807
    direct = f"sqlite:///{tmp_path / 'direct.db'}"
    run_import(str(tree_317), direct)
    assert snapshot(store) == snapshot_of(direct)
    again, _ = run_import(str(tree_317), url)
    assert (again.runs_imported, again.runs_unchanged, again.points) == (0, 27, 0)


def test_a_grown_metric_file_sends_only_its_new_points(server: tuple[str, SqlStore],
                                                       tree_317: Path) -> None:
    url, store = server
    run_import(str(tree_317), url)
    path = next(tree_317.glob("*/*/metrics/m1"))
    with open(path, "a") as f:
        f.write("1800000000000 0.5 5000\n1800000000001 0.25 5001\n")
    summary, result = run_import(str(tree_317), url, check=True)
    assert result is not None and result.ok, result.differences
    assert (summary.runs_imported, summary.points) == (1, 2)
    history = store.get_metric_history(path.parent.parent.name, "m1")
    assert [m.step for m in history][-2:] == [5000, 5001]


def test_a_file_store_server_refuses_imports(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path / "served"))
    try:
        with serve_in_thread(store) as url, \
                pytest.raises(TrackstoreError, match="import into its directory instead"):
            run_import(str(MLRUNS_317), url)
    finally:
        store.close()


def test_a_server_without_the_import_endpoints_is_a_clear_error(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        with serve_in_thread(store, static_prefix="/elsewhere") as url, \
                pytest.raises(TrackstoreError, match="does not accept imports"):
            run_import(str(MLRUNS_317), url)
    finally:
        store.close()


def test_bad_batches_get_json_errors_and_change_nothing(server: tuple[str, SqlStore],
                                                        tree_317: Path) -> None:
    url, store = server
    shutil.rmtree(tree_317 / ".trash")
    run_import(str(tree_317), url)
    before = snapshot(store)
    run_id = next(r for e in before.values() for r in e["runs"])
    good_points = {"op": "points", "run_id": run_id, "key": "fresh",
                   "timestamps": base64.b64encode(b"\0" * 8).decode(),
                   "values": base64.b64encode(b"\0" * 8).decode(),
                   "steps": base64.b64encode(b"\0" * 8).decode()}
    cases = [
        ({"ops": [good_points, {**good_points, "values": "not base64!"}]}, 400,
         "not valid base64"),
        ({"ops": [good_points, {**good_points, "steps": ""}]}, 400, "differ in length"),
        ({"ops": [good_points, {"op": "points", "run_id": "f" * 32, "key": "k",
                                "timestamps": "", "values": "", "steps": ""}]}, 404,
         "not found"),
        ({"ops": [good_points, {"op": "drop-table"}]}, 400, "unknown op"),
        ({"ops": [{"op": "run", "experiment_id": "x", "record": {}}]}, 400,
         "experiment_id must be a number"),
        ({"ops": [{"op": "run", "experiment_id": "0", "record": {"info": {}}}]}, 400,
         "Malformed run record"),
        ({"ops": [{"op": "run", "experiment_id": "424242", "record": {}}]}, 404,
         "424242"),
    ]
    for body, status, message in cases:
        code, answer = _post(url, f"{PREFIX}/batch", {"source": "test", **body})
        assert code == status, (body, answer)
        assert message in answer["message"] and "Traceback" not in answer["message"]
        assert answer["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    code, answer = _post(url, f"{PREFIX}/batch", {"ops": []})
    assert code == 400 and "source" in answer["message"]
    assert snapshot(store) == before  # every refused batch rolled back whole


def test_ids_imported_through_the_server_are_never_handed_out_again(
        server: tuple[str, SqlStore], tmp_path: Path) -> None:
    url, store = server
    db = tmp_path / "mlflow.db"
    shutil.copyfile(Path(__file__).parent.parent / "fixtures" / "mlflow-dbs" /
                    "mlflow-3.17.2.db", db)
    _, result = run_import(f"sqlite:///{db}", url, check=True)
    assert result is not None and result.ok, result.differences
    imported = {e.experiment_id for e in store.search_experiments(view_type=ViewType.ALL)}
    assert imported == {"0", "1", "2", "3"}  # MLflow's sequential ids, kept
    assert store.create_experiment("made afterwards") == "4"
