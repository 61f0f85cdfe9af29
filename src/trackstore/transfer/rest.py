"""Importing into a ``trackstore server``: the client's writer and the wire format.

The server (backed by a SQL store) applies what the client sends with the same bulk writer an
import into its database would use, so ids, times and every point arrive as they are. Four
endpoints, under ``/api/2.0/trackstore/import/``:

``state``      ``{source, description}`` -> ``{fingerprints: {run: fp}, partial: [run]}``: the
               runs imported from this source before, and those an interrupted import left
               half-done;
``experiment`` ``{source, experiment: {...}}`` -> ``{experiment_id}``: the merge rule applied;
``offsets``    ``{source, run_id}`` -> ``{offsets: {key: byte offset}}``: where a run's metric
               files were read to;
``batch``      ``{source, ops: [...]}`` -> ``{duplicates, problems}``: runs, chunks of points
               and completed runs, applied and committed together (a batch sent twice changes
               nothing more: every write is an upsert, a point is stored once).

Points travel as the columns' bytes (little-endian int64 / IEEE 754 doubles) in base64.
"""

from __future__ import annotations

import array
import base64
import sys
from dataclasses import dataclass, field
from typing import Any

from ..entities import Dataset, DatasetInput, InputTag, RunInfo
from ..exceptions import ENDPOINT_NOT_FOUND, INVALID_PARAMETER_VALUE, TrackstoreError
from .records import ExperimentRecord, PointChunk, Problem, RunRecord

PREFIX = "/api/2.0/trackstore/import"
#: Bytes of encoded points a batch request carries at most (the server's default request
#: limit is 16 MiB).
BATCH_BYTES = 6 << 20


def encode_column(column: array.array[Any]) -> str:
    if sys.byteorder != "little":
        column = array.array(column.typecode, column)
        column.byteswap()
    return base64.b64encode(column.tobytes()).decode("ascii")


def decode_column(text: Any, typecode: str, name: str) -> array.array[Any]:
    if not isinstance(text, str):
        raise TrackstoreError(f"'{name}' must be a base64 string", INVALID_PARAMETER_VALUE)
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        raise TrackstoreError(f"'{name}' is not valid base64", INVALID_PARAMETER_VALUE) from None
    column = array.array(typecode)
    if len(data) % column.itemsize:
        raise TrackstoreError(f"'{name}' is not a whole number of {column.itemsize}-byte "
                              "values", INVALID_PARAMETER_VALUE)
    column.frombytes(data)
    if sys.byteorder != "little":
        column.byteswap()
    return column


def experiment_to_json(rec: ExperimentRecord) -> dict[str, Any]:
    return {"experiment_id": rec.experiment_id, "name": rec.name,
            "artifact_location": rec.artifact_location, "lifecycle_stage": rec.lifecycle_stage,
            "creation_time": rec.creation_time, "last_update_time": rec.last_update_time,
            "tags": rec.tags, "where": rec.where}


def experiment_from_json(data: Any) -> ExperimentRecord:
    try:
        return ExperimentRecord(
            experiment_id=str(data["experiment_id"]), name=_text(data["name"], "name"),
            artifact_location=data.get("artifact_location"),
            lifecycle_stage=_text(data["lifecycle_stage"], "lifecycle_stage"),
            creation_time=_int(data.get("creation_time")),
            last_update_time=_int(data.get("last_update_time")),
            tags=_strings(data.get("tags") or {}, "tags"), where=str(data.get("where") or ""))
    except (KeyError, TypeError, AttributeError) as exc:
        raise TrackstoreError(f"Malformed experiment record: {exc}",
                              INVALID_PARAMETER_VALUE) from None


def run_to_json(rec: RunRecord) -> dict[str, Any]:
    i = rec.info
    return {
        "info": {"run_id": i.run_id, "experiment_id": i.experiment_id, "user_id": i.user_id,
                 "status": i.status, "start_time": i.start_time, "end_time": i.end_time,
                 "lifecycle_stage": i.lifecycle_stage, "artifact_uri": i.artifact_uri,
                 "run_name": i.run_name},
        "deleted_time": rec.deleted_time, "params": rec.params, "tags": rec.tags,
        "datasets": [{"name": d.dataset.name, "digest": d.dataset.digest,
                      "source_type": d.dataset.source_type, "source": d.dataset.source,
                      "schema": d.dataset.schema, "profile": d.dataset.profile,
                      "tags": {t.key: t.value for t in d.tags}} for d in rec.datasets],
        "model_inputs": rec.model_inputs, "where": rec.where, "fingerprint": rec.fingerprint,
    }


def run_from_json(data: Any) -> RunRecord:
    try:
        i = data["info"]
        status = _text(i["status"], "status")
        if status not in ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"):
            raise TrackstoreError(f"Unknown run status {status!r}", INVALID_PARAMETER_VALUE)
        info = RunInfo(run_id=_text(i["run_id"], "run_id"),
                       experiment_id=str(i["experiment_id"]),
                       user_id=_text(i.get("user_id") or "unknown", "user_id"), status=status,
                       start_time=_int(i.get("start_time")), end_time=_int(i.get("end_time")),
                       lifecycle_stage=_text(i["lifecycle_stage"], "lifecycle_stage"),
                       artifact_uri=i.get("artifact_uri"), run_name=i.get("run_name"))
        datasets = [DatasetInput(Dataset(
            name=_text(d["name"], "name"), digest=_text(d["digest"], "digest"),
            source_type=_text(d["source_type"], "source_type"), source=_text(d["source"], "source"),
            schema=d.get("schema"), profile=d.get("profile")),
            [InputTag(k, v) for k, v in _strings(d.get("tags") or {}, "tags").items()])
            for d in data.get("datasets") or []]
        return RunRecord(info=info, deleted_time=_int(data.get("deleted_time")),
                         params=_strings(data.get("params") or {}, "params"),
                         tags=_strings(data.get("tags") or {}, "tags"), datasets=datasets,
                         model_inputs=[str(m) for m in data.get("model_inputs") or []],
                         metrics=[], where=str(data.get("where") or ""),
                         fingerprint=str(data.get("fingerprint") or ""))
    except (KeyError, TypeError, AttributeError) as exc:
        raise TrackstoreError(f"Malformed run record: {exc}", INVALID_PARAMETER_VALUE) from None


def chunk_from_json(op: Any) -> PointChunk:
    try:
        chunk = PointChunk(
            key=_text(op["key"], "key"),
            timestamps=decode_column(op["timestamps"], "q", "timestamps"),
            values=decode_column(op["values"], "d", "values"),
            steps=decode_column(op["steps"], "q", "steps"),
            datasets=[(int(r), _text(n, "dataset name"), _text(d, "dataset digest"))
                      for r, n, d in op.get("datasets") or []],
            end=int(op.get("end") or 0), final=bool(op.get("final", True)))
    except (KeyError, TypeError, ValueError) as exc:
        raise TrackstoreError(f"Malformed points: {exc}", INVALID_PARAMETER_VALUE) from None
    n = len(chunk.timestamps)
    if len(chunk.values) != n or len(chunk.steps) != n or any(
            not 0 <= row < n for row, _, _ in chunk.datasets):
        raise TrackstoreError("Malformed points: the columns differ in length",
                              INVALID_PARAMETER_VALUE)
    return chunk


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TrackstoreError(f"'{name}' must be a string", INVALID_PARAMETER_VALUE)
    return value


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TrackstoreError(f"{value!r} is not an integer", INVALID_PARAMETER_VALUE)
    return int(value)


def _strings(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TrackstoreError(f"'{name}' must map strings to strings", INVALID_PARAMETER_VALUE)
    return value


# -- the client's writer ----------------------------------------------------------------------


@dataclass(slots=True)
class RestRunTarget:
    run_id: str
    offsets: dict[str, int] = field(default_factory=dict)


class RestImportWriter:
    """The import's writer for a ``trackstore server`` destination (see the module doc)."""

    #: The import endpoints take no model registry (see ``not carried`` in the summary).
    registry_note = ("a server does not take the model registry through an import: import "
                     "into the server's database to carry it")

    def __init__(self, store: Any, identity: str, description: str, report: Problem,
                 batch_points: int = 50_000) -> None:
        self.store = store
        self.report = report
        self.identity = identity
        self.batch_points = batch_points
        self._ops: list[dict[str, Any]] = []
        self._points = 0
        self._bytes = 0
        try:
            state = self._call("state", {"description": description})
        except TrackstoreError as exc:
            if exc.error_code == ENDPOINT_NOT_FOUND:
                raise TrackstoreError(
                    f"The server at {store!r} does not accept imports: it is not a trackstore "
                    "server, or an older one. Import into its database instead (its "
                    "--backend-store-uri).", INVALID_PARAMETER_VALUE) from None
            raise
        self.fingerprints: dict[str, str] = dict(state.get("fingerprints") or {})
        self._partial = set(state.get("partial") or ())

    def _call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.store._http.call(
            "POST", f"{PREFIX}/{endpoint}", {"source": self.identity, **body}, retry_safe=True)
        return answer

    def experiment(self, rec: ExperimentRecord) -> str:
        self.commit()
        return str(self._call("experiment", {"experiment": experiment_to_json(rec)})[
            "experiment_id"])

    def begin_run(self, rec: RunRecord, experiment_id: str) -> RestRunTarget:
        run_id = rec.info.run_id
        offsets: dict[str, int] = {}
        if run_id in self.fingerprints or run_id in self._partial:
            self.commit()  # what the server holds of this run must be there first
            offsets = {str(k): int(v) for k, v in self._call("offsets", {"run_id": run_id})
                       .get("offsets", {}).items()}
        self._ops.append({"op": "run", "experiment_id": experiment_id,
                          "record": run_to_json(rec)})
        return RestRunTarget(run_id, offsets)

    def write_points(self, target: RestRunTarget, chunk: PointChunk, resumable: bool) -> int:
        op = {"op": "points", "run_id": target.run_id, "key": chunk.key,
              "timestamps": encode_column(chunk.timestamps),
              "values": encode_column(chunk.values), "steps": encode_column(chunk.steps),
              "datasets": [list(d) for d in chunk.datasets], "end": chunk.end,
              "final": chunk.final, "resumable": resumable}
        self._ops.append(op)
        self._points += len(chunk)
        self._bytes += 32 * len(chunk) + 256
        if resumable:
            target.offsets[chunk.key] = chunk.end
        if self._points >= self.batch_points or self._bytes >= BATCH_BYTES:
            return self._flush()
        return 0

    def end_run(self, target: RestRunTarget, rec: RunRecord) -> None:
        self._ops.append({"op": "end", "run_id": target.run_id, "fingerprint": rec.fingerprint})
        self.fingerprints[target.run_id] = rec.fingerprint

    def _flush(self) -> int:
        if not self._ops:
            return 0
        ops, self._ops, self._points, self._bytes = self._ops, [], 0, 0
        answer = self._call("batch", {"ops": ops})
        for problem in answer.get("problems") or ():
            self.report(str(problem.get("where", "")), str(problem.get("reason", "")))
        return int(answer.get("duplicates") or 0)

    def commit(self) -> None:
        self._flush()

    def rollback(self, exc: BaseException) -> None:
        self._ops, self._points, self._bytes = [], 0, 0

    def finish(self) -> None:
        self._flush()

    def close(self) -> None:
        """Nothing is held open (the store's connections are the store's)."""
