"""``trackstore import`` into the server's store: the endpoints of :mod:`trackstore.transfer.rest`.

Each request opens the SQL store's bulk import writer for the source it names, applies what it
carries and commits it in one transaction (``batch``), so a request that fails changes nothing
and one sent twice changes nothing more. A server on a file store refuses imports: its
directory is the place to import into.
"""

from __future__ import annotations

import sys
from typing import Any

from ..exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from ..store.base import AbstractStore
from ..transfer import rest
from .handlers import Args, Handler, required


def _writer(store: AbstractStore, args: Args, problems: list[dict[str, str]],
            load_state: bool = False) -> Any:
    from ..store.sql.imports import SqlImportWriter
    from ..store.sql.store import SqlStore

    if not isinstance(store, SqlStore):
        raise TrackstoreError(
            "This server keeps its runs in a file store: import into its directory instead "
            "(trackstore import SOURCE /path/to/mlruns)", INVALID_PARAMETER_VALUE)
    source = required(args, "source")
    description = args.get("description") or source

    def report(where: str, reason: str) -> None:
        problems.append({"where": where, "reason": reason})

    return SqlImportWriter(store, source, str(description), report, batch_points=sys.maxsize,
                           load_state=load_state)


def import_state(store: AbstractStore, args: Args) -> dict[str, Any]:
    writer = _writer(store, args, [], load_state=True)
    try:
        return {"fingerprints": writer.fingerprints, "partial": writer.partial_runs()}
    finally:
        writer.close()


def import_experiment(store: AbstractStore, args: Args) -> dict[str, Any]:
    problems: list[dict[str, str]] = []
    writer = _writer(store, args, problems)
    try:
        experiment_id = writer.experiment(rest.experiment_from_json(args.get("experiment")))
        writer.commit()
    finally:
        writer.close()
    return {"experiment_id": experiment_id, "problems": problems}


def import_offsets(store: AbstractStore, args: Args) -> dict[str, Any]:
    writer = _writer(store, args, [])
    try:
        return {"offsets": writer.offsets_of(required(args, "run_id"))}
    finally:
        writer.close()


def import_batch(store: AbstractStore, args: Args) -> dict[str, Any]:
    problems: list[dict[str, str]] = []
    writer = _writer(store, args, problems)
    targets: dict[str, Any] = {}
    experiments: set[str] = set()
    duplicates = 0
    try:
        for i, op in enumerate(args.many("ops")):
            kind = op.get("op") if isinstance(op, dict) else None
            if kind == "run":
                experiment_id = str(op.get("experiment_id"))
                if not experiment_id.isdigit():
                    raise TrackstoreError(f"ops[{i}]: experiment_id must be a number",
                                          INVALID_PARAMETER_VALUE)
                if experiment_id not in experiments:
                    store.get_experiment(experiment_id)  # RESOURCE_DOES_NOT_EXIST if missing
                    experiments.add(experiment_id)
                record = rest.run_from_json(op.get("record"))
                targets[record.info.run_id] = writer.begin_run(record, experiment_id)
            elif kind == "points":
                run_id = required(Args(op), "run_id")
                target = targets.get(run_id) or writer.target_of(run_id)
                targets[run_id] = target
                duplicates += writer.write_points(target, rest.chunk_from_json(op),
                                                  bool(op.get("resumable")))
            elif kind == "end":
                writer.record_fingerprint(required(Args(op), "run_id"),
                                          required(Args(op), "fingerprint"))
            else:
                raise TrackstoreError(f"ops[{i}]: unknown op {kind!r}", INVALID_PARAMETER_VALUE)
        writer.commit()
    except BaseException as exc:
        writer.rollback(exc)
        raise
    finally:
        writer.close()
    return {"duplicates": duplicates, "problems": problems}


#: ``path -> handler``, all POST, under :data:`trackstore.transfer.rest.PREFIX`.
IMPORT_ROUTES: dict[str, Handler] = {
    f"{rest.PREFIX}/state": import_state,
    f"{rest.PREFIX}/experiment": import_experiment,
    f"{rest.PREFIX}/offsets": import_offsets,
    f"{rest.PREFIX}/batch": import_batch,
}
