"""``trackstore import --verify``: compare the source with the destination, run by run.

For every run of the source: its info (status, times, lifecycle, user, artifact URI, name,
experiment), params, tags, dataset inputs, and every metric as a set of distinct points
``(step, timestamp, value, dataset)`` with a count and a checksum (BLAKE2b of the sorted
points; a value is compared by its bits, NaN as NaN). Exact duplicate points count once: a
SQL destination stores a point once by design, and the import reports how many it merged.
Memory holds one metric history at a time.

The model registry, where the destination holds one (a SQL store): every registered model of
the source with its times, description, tags and aliases, each live version with every field
and tag, and a version counter past every number the source used (its deleted versions
included). A model the import left alone (its name taken in the destination) is a difference.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import TrackstoreError
from .records import MetricSeries, RegisteredModelRecord, RunRecord
from .sources import Source

_RUN_FIELDS = ("status", "start_time", "end_time", "lifecycle_stage", "user_id",
               "artifact_uri", "run_name")


@dataclass
class VerifyResult:
    runs: int = 0
    series: int = 0
    points: int = 0
    models: int = 0
    model_versions: int = 0
    source_checksum: str = ""
    destination_checksum: str = ""
    differences: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "runs": self.runs, "metrics": self.series,
                "points": self.points, "registered_models": self.models,
                "model_versions": self.model_versions, "source_checksum": self.source_checksum,
                "destination_checksum": self.destination_checksum,
                "differences": [{"where": w, "difference": d} for w, d in self.differences]}


def _value_key(value: float) -> bytes:
    if math.isnan(value):
        return b"nan"
    return struct.pack("<d", value + 0.0)  # -0.0 is 0.0, as a SQL store keeps it


def _digest(points: set[tuple[int, int, bytes, Any, Any]]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for step, ts, value, name, digest in sorted(points, key=lambda p: (p[0], p[1], p[2],
                                                                        p[3] or "", p[4] or "")):
        h.update(struct.pack("<qq", step, ts) + value + repr((name, digest)).encode())
    return h.hexdigest()


def _source_points(source: Source, run: RunRecord, series: MetricSeries
                   ) -> set[tuple[Any, ...]]:
    points: set[tuple[Any, ...]] = set()
    for chunk in source.points(run, series, 0):
        named = {row: (name, digest) for row, name, digest in chunk.datasets}
        for i in range(len(chunk)):
            points.add((chunk.steps[i], chunk.timestamps[i], _value_key(chunk.values[i]),
                        *named.get(i, (None, None))))
    return points


def verify(source: Source, destination: Any, experiments: dict[str, str],
           models: list[RegisteredModelRecord] | None = None) -> VerifyResult:
    """Compare *source* with the *destination* store; *experiments* maps source experiment
    ids to destination ones (the import's merge rule); *models* is the source's registry as
    the import read it (read again if not given)."""
    result = VerifyResult()
    source_digests: list[str] = []
    dest_digests: list[str] = []
    diff = result.differences

    for exp in source.experiments():
        target = experiments.get(exp.experiment_id, exp.experiment_id)
        where = exp.where or exp.experiment_id
        try:
            dest_exp = destination.get_experiment(target)
        except TrackstoreError:
            diff.append((where, f"experiment {exp.name!r} is missing (expected as {target})"))
            continue
        for k, v in exp.tags.items():
            if dest_exp.tags.get(k) != v:
                diff.append((where, f"experiment tag {k!r} is {dest_exp.tags.get(k)!r}, "
                                    f"not {v!r}"))
        for locator in source.run_locators(exp):
            run = source.read_run(exp, locator)
            if run is not None:
                _verify_run(source, destination, run, target, result, source_digests,
                            dest_digests)
    _verify_registry(source, destination, result, models)
    result.source_checksum = hashlib.blake2b("".join(sorted(source_digests)).encode(),
                                             digest_size=16).hexdigest()
    result.destination_checksum = hashlib.blake2b("".join(sorted(dest_digests)).encode(),
                                                  digest_size=16).hexdigest()
    return result


def _verify_run(source: Source, destination: Any, run: RunRecord, target: str,
                result: VerifyResult, source_digests: list[str], dest_digests: list[str]
                ) -> None:
    diff = result.differences
    where = run.where or run.info.run_id
    result.runs += 1
    try:
        dest = destination.get_run(run.info.run_id)
    except TrackstoreError:
        diff.append((where, "run is missing"))
        return
    if dest.info.experiment_id != target:
        diff.append((where, f"run is in experiment {dest.info.experiment_id}, not {target}"))
    for name in _RUN_FIELDS:
        want, got = getattr(run.info, name), getattr(dest.info, name)
        if name == "run_name" and not want:
            continue
        if want != got:
            diff.append((where, f"{name} is {got!r}, not {want!r}"))
    if dict(dest.data.params) != run.params:
        missing = {k: v for k, v in run.params.items() if dest.data.params.get(k) != v}
        extra = sorted(set(dest.data.params) - set(run.params))
        diff.append((where, f"params differ: {len(missing)} missing or changed, "
                            f"{len(extra)} extra"))
    for k, v in run.tags.items():
        if dest.data.tags.get(k) != v:
            diff.append((where, f"tag {k!r} is {dest.data.tags.get(k)!r}, not {v!r}"))

    def inputs(datasets: Any) -> list[Any]:
        return sorted((d.dataset.name, d.dataset.digest, d.dataset.source_type,
                       d.dataset.source, d.dataset.schema, d.dataset.profile,
                       tuple(sorted((t.key, t.value) for t in d.tags))) for d in datasets)

    if inputs(run.datasets) != inputs(dest.inputs.dataset_inputs):
        diff.append((where, "dataset inputs differ"))
    dest_keys = set(dest.data.metrics)
    for series in run.metrics:
        want = _source_points(source, run, series)
        if not want:
            continue
        result.series += 1
        result.points += len(want)
        have: set[tuple[Any, ...]] = set()
        if series.key in dest_keys:
            for m in destination.get_metric_history(run.info.run_id, series.key):
                have.add((m.step, m.timestamp, _value_key(m.value), m.dataset_name,
                          m.dataset_digest))
        want_digest, got_digest = _digest(want), _digest(have)
        source_digests.append(want_digest)
        dest_digests.append(got_digest)
        if want_digest != got_digest:
            diff.append((where, f"metric {series.key!r}: {len(have)} distinct points, not "
                                f"{len(want)} (checksum {got_digest}, not {want_digest})"))


_MODEL_FIELDS = ("creation_time", "last_updated_time", "description", "deployment_job_id",
                 "tags", "aliases")
_VERSION_FIELDS = ("creation_time", "last_updated_time", "description", "user_id",
                   "current_stage", "source", "storage_location", "run_id", "run_link",
                   "model_id", "status", "status_message", "tags")


def _verify_registry(source: Source, destination: Any, result: VerifyResult,
                     models: list[RegisteredModelRecord] | None) -> None:
    from ..store.sql.store import SqlStore

    if not isinstance(destination, SqlStore):
        return  # not carried there (the summary counts it)
    if models is None:
        models = source.registered_models()
    if not models:
        return
    from ..store.sql.registry_import import read_registry

    stored = read_registry(destination)
    for rec in models:
        result.models += 1
        result.model_versions += len(rec.versions)
        have = stored.get(rec.name)
        if have is None:
            result.differences.append((rec.where or rec.name,
                                       f"registered model {rec.name!r} is missing"))
            continue
        _verify_model(rec, have.record, have.next_version, result.differences)


def _verify_model(rec: RegisteredModelRecord, have: RegisteredModelRecord, next_version: int,
                  diff: list[tuple[str, str]]) -> None:
    where = rec.where or rec.name
    what = f"registered model {rec.name!r}"
    for name in _MODEL_FIELDS:
        want, got = getattr(rec, name), getattr(have, name)
        if want != got:
            diff.append((where, f"{what}: {name} is {got!r}, not {want!r}"))
    if next_version <= rec.highest_version:
        diff.append((where, f"{what}: its next version would be {next_version}, a number the "
                            f"source used (up to {rec.highest_version})"))
    versions = {v.version: v for v in have.versions}
    for v in rec.versions:
        got_version = versions.pop(v.version, None)
        if got_version is None:
            diff.append((where, f"{what}: version {v.version} is missing"))
            continue
        for name in _VERSION_FIELDS:
            want, got = getattr(v, name), getattr(got_version, name)
            if want != got:
                diff.append((where, f"{what} version {v.version}: {name} is {got!r}, not "
                                    f"{want!r}"))
    if versions:
        diff.append((where, f"{what}: the destination has version(s) "
                            f"{', '.join(str(n) for n in sorted(versions))} the source has not"))
