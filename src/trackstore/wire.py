"""MLflow's JSON shape for the entities, both ways: what the server sends and the client reads.

The shape is MLflow's REST API (mlflow-spec §5.2): proto field names in snake_case, int64 as
JSON numbers, enums by name, unset fields omitted, and non-finite doubles as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (never Python's bare ``NaN``, which is not JSON).

Readers accept what protobuf's ``ParseDict`` accepts: int64 as a number or a decimal string,
doubles as numbers or those three strings, enums by name or number. A value of the wrong type
is a :class:`TrackstoreError` with ``INVALID_PARAMETER_VALUE``, naming the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from . import _metrics
from .entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    LoggedModelInput,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    ViewType,
)
from .validation import missing_parameter, wrong_type

try:
    import orjson as _orjson
except ImportError:  # an optional speedup (a dependency where it builds)
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "dataset_input_from_json", "dataset_input_to_json", "double", "dumps", "experiment_from_json",
    "experiment_to_json", "int64", "loads", "metric_from_json", "metric_to_json",
    "metrics_from_json", "out", "pairs_to_json", "run_from_json", "run_info_from_json",
    "run_info_to_json", "run_status", "run_to_json", "run_view_type", "tags_from_json", "text",
]

_NON_FINITE_OUT = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_NON_FINITE_IN = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf,
                  "nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def loads(body: bytes | str) -> Any:
    """Parse a JSON document, with orjson when it is installed (a 1000-point log-batch body:
    0.6 ms against 2.3 ms). Whatever orjson refuses and Python's reader accepts (bare
    ``NaN``, lone surrogates) is read by Python's, so the documents accepted do not depend on
    orjson being there. One difference remains: orjson reads an integer beyond 64 bits as a
    float; every integer field here is int64, which refuses such a value either way.

    Raises ``ValueError`` for anything that is not JSON, nesting too deep for Python's reader
    included (it would otherwise raise RecursionError)."""
    if _orjson is not None:
        try:
            return _orjson.loads(body)
        except _orjson.JSONDecodeError:
            pass
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON of *obj*, whose floats were already made JSON-safe by :func:`out`."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def out(value: float) -> float | str:
    """A double as MLflow writes it: finite as a number, NaN and ±inf as strings."""
    if value - value == 0.0:  # finite
        return value
    return _NON_FINITE_OUT[repr(float(value))]


# -- readers of request / response fields --------------------------------------------------------

def int64(value: Any, field: str) -> int:
    """An int64 field: a JSON integer, or a decimal string (proto3 JSON)."""
    if type(value) is int:
        if -(1 << 63) <= value < (1 << 63):
            return value
        raise wrong_type(field, value, "a 64-bit integer")
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("-").isdigit() and stripped.isascii():
            return int64(int(stripped), field)
    if isinstance(value, float) and value.is_integer():
        return int64(int(value), field)
    raise wrong_type(field, value, "an integer")


def double(value: Any, field: str) -> float:
    """A double field: a JSON number, or ``"NaN"``/``"Infinity"``/``"-Infinity"``/a numeral."""
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return float(value)
    if kind is str:
        special = _NON_FINITE_IN.get(value)
        if special is not None:
            return special
        try:
            parsed = float(value)
        except ValueError:
            pass
        else:
            if not math.isnan(parsed):
                return parsed
    raise wrong_type(field, value, "a number")


def text(value: Any, field: str) -> str:
    """A string field; JSON numbers and booleans are refused, as protobuf refuses them."""
    if isinstance(value, str):
        return value
    raise wrong_type(field, value, "a string")


def run_status(value: Any, field: str = "status") -> int:
    """A ``RunStatus`` enum: by name (``"FINISHED"``) or by number."""
    if isinstance(value, str):
        try:
            return RunStatus.from_string(value)
        except ValueError:
            pass
    elif type(value) is int and value in RunStatus.all_status():
        return value
    raise wrong_type(field, value, "one of " + ", ".join(
        RunStatus.to_string(s) for s in RunStatus.all_status()))


_VIEW_NAMES = {"ACTIVE_ONLY": ViewType.ACTIVE_ONLY, "DELETED_ONLY": ViewType.DELETED_ONLY,
               "ALL": ViewType.ALL}


def run_view_type(value: Any, field: str) -> int:
    """A ``ViewType`` enum: by name or by number."""
    if isinstance(value, str) and value in _VIEW_NAMES:
        return _VIEW_NAMES[value]
    if type(value) is int and value in _VIEW_NAMES.values():
        return value
    if isinstance(value, str) and value.isdigit() and int(value) in _VIEW_NAMES.values():
        return int(value)
    raise wrong_type(field, value, "ACTIVE_ONLY, DELETED_ONLY or ALL")


def _items(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise wrong_type(field, value, "an array")


def _obj(value: Any, field: str) -> Mapping[str, Any]:
    if isinstance(value, dict):
        return value
    raise wrong_type(field, value, "an object")


def _opt_text(d: Mapping[str, Any], name: str, field: str) -> str | None:
    value = d.get(name)
    return None if value is None else text(value, field)


# -- experiments ---------------------------------------------------------------------------------

def tags_from_json(value: Any, field: str = "tags") -> list[tuple[str, str]]:
    """``[{key, value}]`` → ``[(key, value)]``; a missing value is ``""`` (proto default)."""
    pairs = []
    for i, item in enumerate(_items(value, field)):
        entry = _obj(item, f"{field}[{i}]")
        key = entry.get("key")
        pairs.append((text(key, f"{field}[{i}].key") if key is not None else "",
                      _opt_text(entry, "value", f"{field}[{i}].value") or ""))
    return pairs


def experiment_to_json(exp: Experiment) -> dict[str, Any]:
    d: dict[str, Any] = {"experiment_id": exp.experiment_id, "name": exp.name,
                         "artifact_location": exp.artifact_location,
                         "lifecycle_stage": exp.lifecycle_stage}
    if exp.last_update_time is not None:
        d["last_update_time"] = exp.last_update_time
    if exp.creation_time is not None:
        d["creation_time"] = exp.creation_time
    if exp.tags:
        d["tags"] = pairs_to_json(exp.tags.items())
    return d


def experiment_from_json(d: Mapping[str, Any]) -> Experiment:
    def opt_int(name: str) -> int | None:
        value = d.get(name)
        return None if value is None else int64(value, name)

    return Experiment(
        str(d.get("experiment_id", "")), d.get("name", ""), d.get("artifact_location", ""),
        d.get("lifecycle_stage", "active"),
        [ExperimentTag(k, v) for k, v in tags_from_json(d.get("tags"))],
        opt_int("creation_time"), opt_int("last_update_time"))


# -- runs ----------------------------------------------------------------------------------------

def run_info_to_json(info: RunInfo) -> dict[str, Any]:
    d: dict[str, Any] = {"run_uuid": info.run_id, "experiment_id": info.experiment_id}
    if info.run_name is not None:
        d["run_name"] = info.run_name
    d["user_id"] = info.user_id
    d["status"] = info.status
    if info.start_time is not None:
        d["start_time"] = info.start_time
    if info.end_time is not None:
        d["end_time"] = info.end_time
    if info.artifact_uri is not None:
        d["artifact_uri"] = info.artifact_uri
    d["lifecycle_stage"] = info.lifecycle_stage
    d["run_id"] = info.run_id
    return d


def run_info_from_json(d: Mapping[str, Any]) -> RunInfo:
    status = d.get("status", "RUNNING")
    if isinstance(status, int):
        status = RunStatus.to_string(status)
    start, end = d.get("start_time"), d.get("end_time")
    return RunInfo(
        run_id=d.get("run_id") or d.get("run_uuid", ""),
        experiment_id=str(d.get("experiment_id", "")),
        user_id=d.get("user_id", ""),
        status=status,
        start_time=None if start is None else int64(start, "start_time"),
        end_time=None if end is None else int64(end, "end_time"),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        artifact_uri=d.get("artifact_uri"),
        run_name=d.get("run_name"),
    )


def metric_to_json(m: Metric) -> dict[str, Any]:
    d: dict[str, Any] = {"key": m.key, "value": out(m.value), "timestamp": m.timestamp,
                         "step": m.step}
    if m.dataset_name is not None:
        d["dataset_name"] = m.dataset_name
    if m.dataset_digest is not None:
        d["dataset_digest"] = m.dataset_digest
    if m.model_id is not None:
        d["model_id"] = m.model_id
    if m.run_id is not None:
        d["run_id"] = m.run_id
    return d


def metric_from_json(d: Any, field: str = "metric") -> Metric:
    """A metric point from JSON; ``key``, ``value`` and ``timestamp`` must be present."""
    entry = _obj(d, field)
    for name in ("key", "value", "timestamp"):
        if entry.get(name) is None or entry.get(name) == "":
            raise missing_parameter(f"{field}.{name}")
    step = entry.get("step")
    return Metric(
        text(entry["key"], f"{field}.key"), double(entry["value"], f"{field}.value"),
        int64(entry["timestamp"], f"{field}.timestamp"),
        0 if step is None else int64(step, f"{field}.step"),
        model_id=_opt_text(entry, "model_id", f"{field}.model_id") or None,
        dataset_name=_opt_text(entry, "dataset_name", f"{field}.dataset_name") or None,
        dataset_digest=_opt_text(entry, "dataset_digest", f"{field}.dataset_digest") or None,
        run_id=_opt_text(entry, "run_id", f"{field}.run_id") or None,
    )


def metrics_from_json(items: list[Any], field: str = "metrics") -> list[Metric]:
    """Many metric points: the common shape (four plain fields, see
    :func:`trackstore._metrics.from_json_plain`) made into objects in compiled code.

    A log-batch body carries up to 1000 points; anything else takes :func:`metric_from_json`,
    whose checks and messages are the reference.
    """
    metrics: list[Metric] = []
    count = len(items)
    i = _metrics.from_json_plain(items, 0, metrics)
    while i < count:
        metrics.append(metric_from_json(items[i], f"{field}[{i}]"))
        i = _metrics.from_json_plain(items, i + 1, metrics)
    return metrics


def dataset_input_to_json(di: DatasetInput) -> dict[str, Any]:
    ds = di.dataset
    dataset: dict[str, Any] = {"name": ds.name, "digest": ds.digest,
                               "source_type": ds.source_type, "source": ds.source}
    if ds.schema is not None:
        dataset["schema"] = ds.schema
    if ds.profile is not None:
        dataset["profile"] = ds.profile
    d: dict[str, Any] = {}
    if di.tags:
        d["tags"] = [{"key": t.key, "value": t.value} for t in di.tags]
    d["dataset"] = dataset
    return d


def dataset_input_from_json(d: Any, field: str = "datasets") -> DatasetInput:
    entry = _obj(d, field)
    raw = _obj(entry.get("dataset") or {}, f"{field}.dataset")
    dataset = Dataset(
        name=_opt_text(raw, "name", f"{field}.dataset.name") or "",
        digest=_opt_text(raw, "digest", f"{field}.dataset.digest") or "",
        source_type=_opt_text(raw, "source_type", f"{field}.dataset.source_type") or "",
        source=_opt_text(raw, "source", f"{field}.dataset.source") or "",
        schema=_opt_text(raw, "schema", f"{field}.dataset.schema"),
        profile=_opt_text(raw, "profile", f"{field}.dataset.profile"),
    )
    tags = [InputTag(k, v) for k, v in tags_from_json(entry.get("tags"), f"{field}.tags")]
    return DatasetInput(dataset, tags)


def run_to_json(run: Run) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if run.data.metric_objs:
        data["metrics"] = [metric_to_json(m) for m in run.data.metric_objs]
    if run.data.params:
        data["params"] = pairs_to_json(run.data.params.items())
    if run.data.tags:
        data["tags"] = pairs_to_json(run.data.tags.items())
    inputs: dict[str, Any] = {}
    if run.inputs.dataset_inputs:
        inputs["dataset_inputs"] = [dataset_input_to_json(di)
                                    for di in run.inputs.dataset_inputs]
    if run.inputs.model_inputs:
        inputs["model_inputs"] = [{"model_id": mi.model_id} for mi in run.inputs.model_inputs]
    return {"info": run_info_to_json(run.info), "data": data, "inputs": inputs, "outputs": {}}


def run_from_json(d: Mapping[str, Any]) -> Run:
    data = d.get("data") or {}
    metrics = [metric_from_json(m, "data.metrics") for m in data.get("metrics") or ()]
    params = [Param(k, v) for k, v in tags_from_json(data.get("params"), "data.params")]
    tags = [RunTag(k, v) for k, v in tags_from_json(data.get("tags"), "data.tags")]
    raw_inputs = d.get("inputs") or {}
    inputs = RunInputs(
        [dataset_input_from_json(x) for x in raw_inputs.get("dataset_inputs") or ()],
        [LoggedModelInput(x.get("model_id", "")) for x in raw_inputs.get("model_inputs") or ()])
    return Run(run_info_from_json(d.get("info") or {}), RunData(metrics, params, tags), inputs)


def pairs_to_json(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """Tags and params: ``[{"key": k, "value": v}, ...]``."""
    return [{"key": k, "value": v} for k, v in pairs]
