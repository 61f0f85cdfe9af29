"""MLflow's limits and name rules, applied once, at the store boundary.

Messages are MLflow's, word for word, so users and the ``mlflow`` client see what they know.
Key validation is cached: a training loop logs the same few keys millions of times.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import posixpath
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from . import _metrics
from .entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from .exceptions import INVALID_PARAMETER_VALUE, TrackstoreError

MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_ENTITY_KEY_LENGTH = 250
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
SEARCH_MAX_RESULTS_THRESHOLD = 50000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_NAME_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_EXPERIMENT_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")
_BAD_CHARACTERS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
    "colon(:) and slashes (/)."
)


def _bad(message: str) -> TrackstoreError:
    return TrackstoreError(message, INVALID_PARAMETER_VALUE)


def invalid_value(path: str, value: Any, message: str | None = None) -> str:
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if message:
        return f"Invalid value {shown} for parameter '{path}' supplied: {message}"
    return f"Invalid value {shown} for parameter '{path}' supplied."


def missing_value(path: str) -> str:
    return f"Missing value for required parameter '{path}'."


#: The tail MLflow's request-schema checks put on their messages; kept so that errors read
#: the same from trackstore as from an MLflow server.
API_DOCS_HINT = " See the API docs for more information about request parameters."


def missing_parameter(path: str) -> TrackstoreError:
    """A required request parameter that is absent, null or empty (MLflow's message)."""
    return TrackstoreError(missing_value(path) + API_DOCS_HINT, INVALID_PARAMETER_VALUE)


def wrong_type(path: str, value: Any, expected: str) -> TrackstoreError:
    """A request parameter of the wrong JSON type."""
    return TrackstoreError(invalid_value(path, value) + f" Hint: Value was of type "
                           f"'{type(value).__name__}', expected {expected}.",
                           INVALID_PARAMETER_VALUE)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def truncate_long_values() -> bool:
    """``MLFLOW_TRUNCATE_LONG_VALUES`` (default true): over-long params and tags are cut."""
    raw = os.environ.get("MLFLOW_TRUNCATE_LONG_VALUES", "true").strip().lower()
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise _bad(f"MLFLOW_TRUNCATE_LONG_VALUES must be true, false, 1 or 0; got {raw!r}")


#: Keys already found valid (bounded): the training-loop fast path is one set lookup.
VALID_KEYS: set[str] = set()


#: The most bytes of a key's part between two ``/`` (``NAME_MAX``): the file store keeps a
#: key as a file, and a key must fit every store (runs move between stores).
MAX_KEY_PART_BYTES = 255


@lru_cache(maxsize=65536)
def _name_problem(name: str) -> str | None:
    """Why *name* is not a valid name (its characters, or a path that resolves elsewhere), or
    None. Cached: keys repeat."""
    if not _NAME_RE.match(name):
        return _BAD_CHARACTERS
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith("..") or norm.startswith("/"):
        return (
            "Names may be treated as files in certain cases, and must not resolve to other names"
            f" when treated as such. This name would resolve to {norm!r}"
        )
    return None


@lru_cache(maxsize=65536)
def _key_problem(name: str) -> str | None:
    """Why *name* is not a valid metric/param/tag key, or None: a name's problem, or a part
    longer than a file name may be (the file store keeps a key as a file; model names, which
    no store keeps as files, may be longer)."""
    problem = _name_problem(name)
    if problem is None and len(name) > MAX_KEY_PART_BYTES // 4 and any(
            len(part.encode("utf-8")) > MAX_KEY_PART_BYTES for part in name.split("/")):
        return (f"Names may be treated as files in certain cases, and a part of a name between "
                f"two '/' must not be longer than {MAX_KEY_PART_BYTES} bytes in UTF-8")
    return problem


def validate_key(name: Any, path: str, kind: str) -> None:
    """Check a metric, param or tag key (also experiment tag keys)."""
    if name is None:
        if kind == "Metric":
            raise _bad(invalid_value(path, None,
                                     "Metric name cannot be None. A key name must be provided."))
        if kind == "Tag":
            raise _bad(missing_value(path))
        raise _bad(invalid_value(path, "", "A key name must be provided."))
    if not isinstance(name, str):
        raise _bad(invalid_value(path, name, "Names must be strings."))
    problem = _key_problem(name)
    if problem is not None:
        raise _bad(invalid_value(path, name, problem))
    if len(VALID_KEYS) < 65536 and len(name) <= MAX_ENTITY_KEY_LENGTH:
        VALID_KEYS.add(name)


def _length_limited(entity: str, limit: int, value: str | None, truncate: bool = False) -> Any:
    if value is None or len(value) <= limit:
        return value
    if truncate and truncate_long_values():
        return value[:limit]
    raise _bad(f"'{entity}' exceeds the maximum length of {limit} characters")


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


def plain_metric(m: Metric) -> bool:
    """The common case, checked in a few hundred nanoseconds: a float value, int timestamp
    and step in range, a key seen valid before, no dataset."""
    return (type(m.value) is float and type(m.timestamp) is int and type(m.step) is int
            and m.key in VALID_KEYS and 0 <= m.timestamp <= INT64_MAX
            and INT64_MIN <= m.step <= INT64_MAX and m.dataset_name is None
            and m.dataset_digest is None)


def validate_metric(metric: Metric, path: str = "") -> Metric:
    """Check one metric; returns it, or a normalised copy (float value, int timestamp and step).

    The caller's object is never modified.
    """
    if plain_metric(metric):
        return metric
    key, value, timestamp, step = metric.key, metric.value, metric.timestamp, metric.step
    normalised = False
    validate_key(key, _join(path, "name"), "Metric")
    if type(value) is not float:
        if value is None:
            raise _bad(missing_value(_join(path, "value")))
        if not _is_number(value) or isinstance(value, complex):
            raise _bad(invalid_value(
                _join(path, "value"), value,
                f"(timestamp={timestamp}). Please specify value as a valid double (64-bit "
                "floating point)"))
        value, normalised = float(value), True
    if type(timestamp) is not int:
        if not _is_number(timestamp) or isinstance(timestamp, complex) or not math.isfinite(
                timestamp) or timestamp != int(timestamp):
            raise _bad(invalid_value(
                _join(path, "timestamp"), timestamp,
                f"metric '{key}' (value={value}). Timestamp must be a nonnegative long (64-bit "
                "integer) "))
        timestamp, normalised = int(timestamp), True
    if not 0 <= timestamp <= INT64_MAX:
        raise _bad(invalid_value(
            _join(path, "timestamp"), timestamp,
            f"metric '{key}' (value={value}). Timestamp must be a nonnegative long (64-bit "
            "integer) "))
    if type(step) is not int:
        if not _is_number(step) or isinstance(step, complex) or not math.isfinite(step) \
                or step != int(step):
            raise _bad(invalid_value(
                _join(path, "step"), step,
                f"metric '{key}' (value={value}). Step must be a valid long (64-bit integer)."))
        step, normalised = int(step), True
    if not INT64_MIN <= step <= INT64_MAX:
        raise _bad(invalid_value(
            _join(path, "step"), step,
            f"metric '{key}' (value={value}). Step must be a valid long (64-bit integer)."))
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise _bad(f"'Metric name' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} "
                   "characters")
    if (metric.dataset_name is None) != (metric.dataset_digest is None):
        raise _bad("Both dataset_name and dataset_digest must be provided if one is provided")
    for name in ("dataset_name", "dataset_digest"):
        field = getattr(metric, name)
        # Metric files separate fields with spaces: whitespace would corrupt the line.
        if field is not None and (not isinstance(field, str) or not field
                                  or any(c.isspace() for c in field)):
            raise _bad(invalid_value(_join(path, name), field,
                                     "must be a non-empty string without whitespace"))
    if normalised:
        return Metric(key, value, timestamp, step, metric.model_id, metric.dataset_name,
                      metric.dataset_digest, metric.run_id)
    return metric


def _stringify(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def validate_param(param: Param, path: str = "") -> Param:
    validate_key(param.key, _join(path, "key"), "Param")
    value = _stringify(param.value)
    return Param(
        _length_limited("Param key", MAX_ENTITY_KEY_LENGTH, param.key),
        _length_limited("Param value", MAX_PARAM_VAL_LENGTH, value, truncate=True),
    )


def validate_tag(tag: RunTag, path: str = "") -> RunTag:
    validate_key(tag.key, _join(path, "key"), "Tag")
    value = _stringify(tag.value)
    return RunTag(
        _length_limited(_join(path, "key"), MAX_ENTITY_KEY_LENGTH, tag.key),
        _length_limited(_join(path, "value"), MAX_TAG_VAL_LENGTH, value, truncate=True),
    )


def validate_experiment_tag(key: Any, value: Any) -> tuple[str, str]:
    validate_key(key, "key", "Tag")
    text = _stringify(value)
    _length_limited("key", MAX_EXPERIMENT_TAG_KEY_LENGTH, key)
    _length_limited("value", MAX_EXPERIMENT_TAG_VAL_LENGTH, text)
    return key, text


def validate_param_keys_unique(params: Sequence[Param]) -> None:
    seen: set[str] = set()
    dupes = []
    for p in params:
        if p.key in seen:
            dupes.append(p.key)
        seen.add(p.key)
    if dupes:
        raise _bad(
            f"Duplicate parameter keys have been submitted: {dupes}. Please ensure "
            "the request contains only one param value per param key.")


def _batch_limit(entity: str, limit: int, length: int) -> None:
    if length > limit:
        raise _bad(
            f"A batch logging request can contain at most {limit} {entity}. Got {length} "
            f"{entity}. Please split up {entity} across multiple requests and try again.")


def validate_batch(metrics: Sequence[Metric], params: Sequence[Param],
                   tags: Sequence[RunTag]) -> tuple[list[Metric], list[Param], list[RunTag]]:
    """Validate a ``log_batch`` call as MLflow does; returns normalised copies of the lists."""
    metrics, params, tags = list(metrics), list(params), list(tags)
    _batch_limit("metrics", MAX_METRICS_PER_BATCH, len(metrics))
    _batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, len(params))
    _batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags))
    _batch_limit("metrics, params, and tags", MAX_ENTITIES_PER_BATCH,
                 len(metrics) + len(params) + len(tags))
    plain = _metrics.count_plain(metrics, VALID_KEYS)
    checked_metrics = metrics[:plain]
    checked_metrics += [validate_metric(m, f"metrics[{i}]")
                        for i, m in enumerate(metrics[plain:], plain)]
    checked_params = [validate_param(p, f"params[{i}]") for i, p in enumerate(params)]
    checked_tags = [validate_tag(t, f"tags[{i}]") for i, t in enumerate(tags)]
    validate_param_keys_unique(checked_params)
    return checked_metrics, checked_params, checked_tags


def validate_run_id(run_id: Any, path: str = "run_id") -> str:
    if not isinstance(run_id, str) or _RUN_ID_RE.match(run_id) is None:
        raise _bad(invalid_value(path, run_id))
    return run_id


def validate_experiment_id(experiment_id: Any) -> str:
    """An experiment id as the file store allows it (also what path components allow)."""
    if isinstance(experiment_id, int) and not isinstance(experiment_id, bool):
        experiment_id = str(experiment_id)
    if not isinstance(experiment_id, str) or _EXPERIMENT_ID_RE.match(experiment_id) is None:
        raise _bad(f"Invalid experiment ID: '{experiment_id}'")
    return experiment_id


def validate_experiment_name(name: Any) -> str:
    if name == "" or name is None:
        raise _bad(f"Invalid experiment name: '{name}'")
    if not isinstance(name, str):
        raise _bad(f"Invalid experiment name: {name}. Expects a string.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise _bad(f"'name' exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters")
    return name


def validate_artifact_location(location: str) -> None:
    limit = int(os.environ.get("MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH", "2048"))
    if len(location) > limit:
        raise _bad(
            "Invalid artifact path length. The length of the artifact path cannot be greater "
            f"than {limit} characters. To configure this limit, please set the "
            "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable.")


def validate_dataset_input(dataset_input: DatasetInput) -> None:
    dataset: Dataset | None = dataset_input.dataset
    if dataset is None:
        raise _bad("Dataset cannot be None")
    for name in ("name", "digest", "source_type", "source"):
        if getattr(dataset, name) is None:
            raise _bad(f"Dataset {name} cannot be None")
    for name, limit in (("name", MAX_DATASET_NAME_SIZE), ("digest", MAX_DATASET_DIGEST_SIZE),
                        ("source", MAX_DATASET_SOURCE_SIZE), ("schema", MAX_DATASET_SCHEMA_SIZE),
                        ("profile", MAX_DATASET_PROFILE_SIZE)):
        value = getattr(dataset, name)
        if value is not None and len(value) > limit:
            raise _bad(f"'{name}' exceeds the maximum length of {limit} characters")
    for tag in dataset_input.tags or ():
        validate_input_tag(tag)


def validate_input_tag(tag: InputTag | None) -> None:
    if tag is None:
        raise _bad("InputTag cannot be None")
    if tag.key is None:
        raise _bad("InputTag key cannot be None")
    if tag.value is None:
        raise _bad("InputTag value cannot be None")
    if len(tag.key) > MAX_INPUT_TAG_KEY_SIZE:
        raise _bad(f"'key' exceeds the maximum length of {MAX_INPUT_TAG_KEY_SIZE} characters")
    if len(tag.value) > MAX_INPUT_TAG_VALUE_SIZE:
        raise _bad(f"'value' exceeds the maximum length of {MAX_INPUT_TAG_VALUE_SIZE} characters")
