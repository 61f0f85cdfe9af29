"""Walking an ``mlruns`` tree: every finding, each with the fix a repair would apply.

The walk reads what MLflow's FileStore and trackstore's read (experiment and run
``meta.yaml``, every metric, param and tag file, dataset and input metadata, trackstore's
side files at the root) through the compiled parsers, and checks them against what both
readers need (see :mod:`.metas` and docs/fsck.md). Nothing is written here.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import re
import time
from typing import Any

from .. import _metrics
from ..exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from ..store.file import summary
from ..store.file.appender import SETTLE
from ..store.file.layout import (
    ARTIFACTS,
    DATASETS,
    GC_JOURNAL,
    INPUTS,
    META,
    METRICS,
    PARAMS,
    RESERVED_EXPERIMENT_FOLDERS,
    RUN_INDEX,
    TAGS,
    TRASH,
    process_gone,
    read_with_stat,
    stale_temp_pid,
    walk_keys,
)
from ..store.file.meta import append_to_uri, dump_meta, path_to_file_uri
from ..validation import validate_experiment_id, validate_key, validate_run_id
from .metas import (
    RunEvidence,
    experiment_field_problems,
    load_mapping,
    rebuild_experiment,
    rebuild_run,
    run_field_problems,
    salvage,
)
from .report import Finding

#: Archives of what a repair removed or replaced: plain files at the root, which MLflow and
#: trackstore never list (a directory there would be taken for an experiment).
QUARANTINE_PREFIX = ".fsck-quarantine-"
OUTPUTS = "outputs"
#: MLflow >= 3.8 finds a run by id only if it has these (``_is_valid_run_directory``).
REQUIRED_RUN_FOLDERS = (METRICS, PARAMS, ARTIFACTS)
_RUN_FOLDERS = frozenset({METRICS, PARAMS, TAGS, ARTIFACTS})
#: A temporary file whose writer may still be alive is stale after this long anyway: an
#: atomic write keeps its temporary file for milliseconds.
STALE_TEMP_SECONDS = 3600.0
#: ``tempfile.mkstemp(suffix="file.yaml")``: MLflow's temporary meta.yaml (made in the system
#: temporary directory, so in a tree only when TMPDIR points into it).
_MLFLOW_TEMP = re.compile(r"^tmp[a-z0-9_]{8}file\.yaml$")


@dataclasses.dataclass(slots=True)
class Fix:
    """One change a repair makes. ``original`` is the file's content when it was checked
    (None: no file), re-read before the change: a file changed since is left alone."""

    action: str  # "write", "remove", "mkdirs", "rmdirs" or "move"
    path: str
    original: bytes | None = None
    data: bytes | None = None
    target: str | None = None
    dirs: tuple[str, ...] = ()
    findings: list[Finding] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class _Experiment:
    experiment_id: str
    path: str
    in_trash: bool
    data: bytes | None  # its meta.yaml (None: absent)
    meta: dict[str, Any] | None = None
    problem: str | None = None
    name: str | None = None


def check_root(path: str) -> str:
    """The absolute root of the tree at *path*; TrackstoreError if it is not an mlruns tree."""
    root = os.path.abspath(path)
    if not os.path.exists(root):
        raise TrackstoreError(f"'{path}' does not exist.", RESOURCE_DOES_NOT_EXIST)
    if not os.path.isdir(root):
        raise TrackstoreError(f"'{path}' is not a directory.", INVALID_PARAMETER_VALUE)
    with os.scandir(root) as it:
        dirs = [e for e in it if e.is_dir()]
    if not any(e.name == TRASH or e.name.isdigit() or os.path.isfile(os.path.join(e.path, META))
               for e in dirs):
        raise TrackstoreError(
            f"'{path}' is not an mlruns tree (no .trash folder, no experiment directory).",
            INVALID_PARAMETER_VALUE)
    return root


def _valid(check: Any, value: str) -> bool:
    try:
        check(value)
    except TrackstoreError:
        return False
    return True


def _only_dirs(path: str) -> bool:
    """Whether *path* holds nothing but (possibly nested) empty directories."""
    return all(not files for _, _, files in os.walk(path))


class Scanner:
    """One walk of one tree. :meth:`run` fills :attr:`findings` and :attr:`fixes`."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.root_uri = path_to_file_uri(root)
        self.findings: list[Finding] = []
        self.fixes: list[Fix] = []
        self.experiments = 0
        self.runs = 0
        self.metric_files = 0
        self.now = time.time()
        #: run id -> the directories holding it, and the ids of their experiments
        self._run_dirs: dict[str, list[str]] = collections.defaultdict(list)
        self._run_homes: dict[str, set[str]] = collections.defaultdict(set)
        self._names: dict[str, list[str]] = collections.defaultdict(list)

    # -- findings ------------------------------------------------------------------------------

    def _rel(self, path: str) -> str:
        rel = os.path.relpath(path, self.root)
        return "." if rel == "." else rel.replace(os.sep, "/")

    def _add(self, kind: str, path: str, message: str, fix: Fix | None = None,
             repairable: bool | None = None) -> Finding:
        finding = Finding(kind, self._rel(path), message,
                          fix is not None if repairable is None else repairable)
        self.findings.append(finding)
        if fix is not None:
            if not fix.findings:
                self.fixes.append(fix)
            fix.findings.append(finding)
        return finding

    # -- the walk ------------------------------------------------------------------------------

    def run(self) -> None:
        experiments: list[_Experiment] = []
        root_files: list[os.DirEntry[str]] = []
        trash = os.path.join(self.root, TRASH)
        with os.scandir(self.root) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            if entry.name in (TRASH, "models") and entry.is_dir():
                continue
            if entry.is_dir():
                found = self._top_dir(entry.name, entry.path, in_trash=False)
                if found is not None:
                    experiments.append(found)
            elif entry.is_file():
                root_files.append(entry)
        if os.path.isdir(trash):
            with os.scandir(trash) as it:
                for entry in sorted(it, key=lambda e: e.name):
                    if entry.is_dir():
                        found = self._top_dir(entry.name, entry.path, in_trash=True)
                        if found is not None:
                            experiments.append(found)
        active = {e.experiment_id for e in experiments if not e.in_trash}
        for experiment in experiments:
            if experiment.in_trash and experiment.experiment_id in active:
                self._add("duplicate-experiment-id", experiment.path,
                          f"experiment {experiment.experiment_id} is also at the root, which "
                          "hides this deleted one from MLflow and trackstore")
        taken = {e.meta["name"] for e in experiments
                 if e.meta is not None and isinstance(e.meta.get("name"), str)}
        for experiment in experiments:
            self._experiment(experiment, taken)
        for name, paths in self._names.items():
            if len(paths) > 1:
                for path in paths:
                    self._add("duplicate-experiment-name", path,
                              f"the name {name!r} is also the name of "
                              + ", ".join(self._rel(p) for p in paths if p != path))
        for run_id, paths in self._run_dirs.items():
            if len(paths) > 1:
                for path in paths:
                    self._add("duplicate-run-id", path, f"run {run_id} is also in "
                              + ", ".join(self._rel(p) for p in paths if p != path)
                              + ": MLflow and trackstore find only one of them")
        for entry in root_files:
            self._root_file(entry, active | {e.experiment_id for e in experiments})

    def _top_dir(self, name: str, path: str, in_trash: bool) -> _Experiment | None:
        """An experiment directory, or None after reporting what else the directory is."""
        meta_path = os.path.join(path, META)
        try:
            data: bytes | None = read_with_stat(meta_path)[0]
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            data = None
        mapping = load_mapping(data)[0] if data is not None else None
        if mapping is not None and "name" not in mapping and (
                "run_id" in mapping or "run_uuid" in mapping):
            self._misplaced_run(name, path, mapping)
            return None
        if not _valid(validate_experiment_id, name):
            where = ".trash" if in_trash else "the root"
            self._add("stray-dir", path, f"a directory in {where} that is not an experiment "
                      "(its name is not an experiment id): MLflow's experiment listing fails "
                      "on it; move it out of the tree")
            return None
        return _Experiment(name, path, in_trash, data)

    def _misplaced_run(self, name: str, path: str, meta: dict[str, Any]) -> None:
        experiment_id = meta.get("experiment_id")
        home = None
        if isinstance(experiment_id, (str, int)) and not isinstance(experiment_id, bool):
            for parent in (self.root, os.path.join(self.root, TRASH)):
                candidate = os.path.join(parent, str(experiment_id))
                if _valid(validate_experiment_id, str(experiment_id)) and os.path.isfile(
                        os.path.join(candidate, META)):
                    home = candidate
                    break
        target = os.path.join(home, name) if home is not None else None
        message = "a run directory outside any experiment"
        if target is None or not _valid(validate_run_id, name) or os.path.exists(target):
            self._add("misplaced-run", path, message + (
                f"; its experiment {experiment_id!r} is not in the tree" if home is None
                else f"; {self._rel(target or '')} exists already" if target else ""),
                repairable=False)
            return
        self._add("misplaced-run", path, message + f"; it belongs in {self._rel(target)}",
                  Fix("move", path, target=target))

    # -- experiments ---------------------------------------------------------------------------

    def _experiment(self, exp: _Experiment, taken: set[str]) -> None:
        with os.scandir(exp.path) as it:
            entries = list(it)
        candidates = [e for e in entries
                      if e.is_dir() and e.name not in RESERVED_EXPERIMENT_FOLDERS]
        run_metas: dict[str, tuple[bytes | None, dict[str, Any] | None, str | None]] = {}
        for entry in candidates:
            try:
                data: bytes | None = read_with_stat(os.path.join(entry.path, META))[0]
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                data = None
            mapping, problem = load_mapping(data) if data is not None else (None, None)
            run_metas[entry.name] = (data, mapping, problem)
        meta_path = os.path.join(exp.path, META)
        if exp.data is None and exp.experiment_id != "0":  # 0 is always rebuilt: Default
            if not entries or _only_dirs(exp.path):
                self._add("empty-dir", exp.path, "an empty experiment directory",
                          Fix("rmdirs", exp.path))
                return
            if not any(run_metas[e.name][0] is not None
                       or any(os.path.isdir(os.path.join(e.path, sub)) for sub in _RUN_FOLDERS)
                       for e in candidates):
                self._add("orphan-dir", exp.path, "neither an experiment (no meta.yaml) nor "
                          "a run: MLflow warns about it on every listing")
                return
        self.experiments += 1
        location = self._experiment_meta(exp, meta_path, run_metas, taken)
        trash_time = exp.meta.get("last_update_time") if exp.meta is not None else None
        tags = os.path.join(exp.path, TAGS)
        if os.path.isdir(tags):
            self._keys(tags, "experiment tag", values=True)
        datasets = os.path.join(exp.path, DATASETS)
        if os.path.isdir(datasets):
            self._yaml_children(datasets, "dataset")
        for entry in entries:
            if entry.is_file() and entry.name != META:
                self._maybe_temp(entry)
        for entry in candidates:
            self._run(exp, entry.name, entry.path, run_metas[entry.name], location,
                      trash_time if isinstance(trash_time, int) else None)

    def _experiment_meta(self, exp: _Experiment, meta_path: str,
                         run_metas: dict[str, tuple[bytes | None, dict[str, Any] | None,
                                                    str | None]],
                         taken: set[str]) -> str:
        """Check the experiment's meta.yaml (plan its fix); its artifact location."""
        meta, problem = load_mapping(exp.data) if exp.data is not None else (None, None)
        problems = [problem] if problem else []
        if meta is not None:
            problems = experiment_field_problems(meta)
        if exp.data is not None and not problems and meta is not None:
            exp.meta = meta
            fixed = dict(meta)
            stage = "deleted" if exp.in_trash else "active"
            fix = Fix("write", meta_path, original=exp.data)
            if str(meta["experiment_id"]) != exp.experiment_id:
                fixed["experiment_id"] = exp.experiment_id
                self._add("experiment-id-mismatch", meta_path,
                          f"experiment_id is {meta['experiment_id']!r} in the directory of "
                          f"experiment {exp.experiment_id}: MLflow ignores the experiment", fix)
            if meta["lifecycle_stage"] != stage:
                fixed["lifecycle_stage"] = stage
                self._add("experiment-stage-mismatch", meta_path,
                          f"lifecycle_stage is {meta['lifecycle_stage']} for an experiment in "
                          f"{'.trash' if exp.in_trash else 'the root'}", fix)
            if fix.findings:
                fix.data = dump_meta(fixed)
            self._names[meta["name"]].append(exp.path)
            return str(meta["artifact_location"])
        # Missing or damaged: rebuild from what is left of it and from the runs.
        old = meta if meta is not None else (salvage(exp.data) if exp.data else {})
        suffixes: collections.Counter[str] = collections.Counter()
        starts = []
        for run_id, (_, run_meta, _) in run_metas.items():
            if run_meta is None:
                continue
            uri = run_meta.get("artifact_uri")
            tail = f"/{run_id}/artifacts"
            if isinstance(uri, str) and uri.endswith(tail):
                suffixes[uri[: -len(tail)]] += 1
            start = run_meta.get("start_time")
            if isinstance(start, int) and not isinstance(start, bool):
                starts.append(start)
        location = (suffixes.most_common(1)[0][0] if suffixes
                    else append_to_uri(self.root_uri, exp.experiment_id))
        rebuilt = rebuild_experiment(old, exp.experiment_id, exp.in_trash, taken, location,
                                     min(starts) if starts else None)
        taken.add(rebuilt["name"])
        exp.meta = rebuilt
        self._names[rebuilt["name"]].append(exp.path)
        fix = Fix("write", meta_path, original=exp.data, data=dump_meta(rebuilt))
        if exp.data is None:
            self._add("experiment-meta-missing", meta_path,
                      f"no meta.yaml; it would be rebuilt with the name {rebuilt['name']!r}", fix)
        else:
            self._add("experiment-meta-invalid", meta_path,
                      f"{'; '.join(problems)}; it would be rebuilt (name "
                      f"{rebuilt['name']!r})", fix)
        return str(rebuilt["artifact_location"])

    # -- runs ----------------------------------------------------------------------------------

    def _run(self, exp: _Experiment, name: str, path: str,
             meta_state: tuple[bytes | None, dict[str, Any] | None, str | None],
             location: str, trash_time: int | None) -> None:
        data, meta, problem = meta_state
        with os.scandir(path) as it:
            entries = {e.name: e for e in it}
        folders = {n for n, e in entries.items() if e.is_dir()}
        meta_path = os.path.join(path, META)
        if data is None:
            if not entries or _only_dirs(path):
                self._add("empty-dir", path, "an empty run directory (its creation was "
                          "interrupted before it held anything)", Fix("rmdirs", path))
                return
            if not (folders & _RUN_FOLDERS) or not _valid(validate_run_id, name):
                self._add("orphan-dir", path, "neither a run (no meta.yaml) nor a reserved "
                          "folder of the experiment")
                return
        elif not _valid(validate_run_id, name):
            self._add("bad-run-dir-name", path, f"{name!r} is not a valid run id: neither "
                      "MLflow nor trackstore can look this run up")
            return
        self.runs += 1
        self._run_dirs[name].append(path)
        self._run_homes[name].add(exp.experiment_id)
        problems = [problem] if problem else []
        if meta is not None:
            problems = run_field_problems(meta)
        evidence = RunEvidence() if data is None or problems else None
        self._run_data(path, folders, evidence)
        for entry in entries.values():
            if entry.is_file() and entry.name != META:
                self._maybe_temp(entry)
        missing = [sub for sub in REQUIRED_RUN_FOLDERS if sub not in folders]
        if missing:
            self._add("run-dirs-missing", path, f"no {', '.join(m + '/' for m in missing)} "
                      "(MLflow >= 3.8 does not find the run by id)",
                      Fix("mkdirs", path, dirs=tuple(os.path.join(path, m) for m in missing)))
        if evidence is not None:
            old = meta if meta is not None else (salvage(data) if data else {})
            rebuilt = rebuild_run(old, name, exp.experiment_id, location, exp.in_trash,
                                  trash_time, evidence)
            fix = Fix("write", meta_path, original=data, data=dump_meta(rebuilt))
            if data is None:
                self._add("run-meta-missing", meta_path, "no meta.yaml although the run has "
                          "data; it would be rebuilt", fix)
            else:
                self._add("run-meta-invalid", meta_path,
                          f"{'; '.join(problems)}; it would be rebuilt", fix)
            return
        assert meta is not None and data is not None
        fixed = dict(meta)
        fix = Fix("write", meta_path, original=data)
        ids = {key: meta[key] for key in ("run_id", "run_uuid") if key in meta}
        if any(value != name for value in ids.values()):
            shown = ", ".join(f"{k} {v!r}" for k, v in ids.items())
            fixed.update({key: name for key in ids})
            self._add("run-id-mismatch", meta_path, f"{shown} in the directory of run {name}: "
                      "MLflow cannot look the run up", fix)
        if str(meta["experiment_id"]) != exp.experiment_id:
            fixed["experiment_id"] = exp.experiment_id
            self._add("run-experiment-mismatch", meta_path,
                      f"experiment_id is {meta['experiment_id']!r} in experiment "
                      f"{exp.experiment_id}: MLflow skips the run", fix)
        if fix.findings:
            fix.data = dump_meta(fixed)

    def _run_data(self, path: str, folders: set[str], evidence: RunEvidence | None) -> None:
        if METRICS in folders:
            for key, file_path in walk_keys(os.path.join(path, METRICS)):
                self._metric(key, file_path, evidence)
        if PARAMS in folders:
            self._keys(os.path.join(path, PARAMS), "param", values=True, evidence=evidence)
        if TAGS in folders:
            self._keys(os.path.join(path, TAGS), "tag", values=True, evidence=evidence)
        for sub in (INPUTS, OUTPUTS):
            if sub in folders:
                self._yaml_children(os.path.join(path, sub), sub[:-1])

    def _metric(self, key: str, path: str, evidence: RunEvidence | None) -> None:
        self.metric_files += 1
        if not _valid(lambda k: validate_key(k, "key", "Metric"), key):
            self._add("bad-key-name", path, f"{key!r} is not a valid metric name (MLflow "
                      "fails on the run)")
            return
        try:
            data, st = read_with_stat(path)
        except OSError as exc:
            self._add("bad-key-name", path, f"cannot be read: {exc.strerror}")
            return
        if evidence is not None:
            evidence.saw_file(st.st_mtime_ns)
        parsed = _metrics.parse(data)
        if evidence is not None and len(parsed.timestamps):
            evidence.saw_points(min(parsed.timestamps), max(parsed.timestamps))
        # An unterminated tail younger than SETTLE may be a write in progress (see
        # store/file/appender.py): the store does not call it torn yet, nor do we.
        torn = parsed.torn and self.now - st.st_mtime >= SETTLE
        if not (torn or parsed.bad_lines or not data):
            return
        if not data:
            self._add("metric-empty", path, f"metric {key!r} has no point (MLflow fails on "
                      "the run); the empty file would be removed", Fix("remove", path, b""))
            return
        bad = {line for line, _ in parsed.bad_lines}
        lines = data.split(b"\n")
        complete = lines[:-1]
        kept = [line + b"\n" for n, line in enumerate(complete, 1) if n not in bad]
        if not torn and lines[-1]:
            kept.append(lines[-1])  # a fresh tail stays for its writer to finish
        new = b"".join(kept)
        fix = (Fix("write", path, data, new) if new else Fix("remove", path, data))
        if torn:
            self._add("metric-torn-tail", path,
                      f"metric {key!r} ends in an unterminated line of {len(lines[-1])} bytes "
                      "(a writer was interrupted); it would be cut", fix)
        if parsed.bad_lines:
            shown = ", ".join(f"line {n} ({reason})" for n, reason in parsed.bad_lines[:5])
            more = len(parsed.bad_lines) - 5
            self._add("metric-bad-lines", path,
                      f"metric {key!r}: {shown}{f' and {more} more' if more > 0 else ''}; "
                      "they would be removed", fix)

    def _keys(self, folder: str, what: str, values: bool,
              evidence: RunEvidence | None = None) -> None:
        kind = "Tag" if "tag" in what else "Param"
        for key, path in walk_keys(folder):
            if not _valid(lambda k: validate_key(k, "key", kind), key):
                self._add("bad-key-name", path, f"{key!r} is not a valid {what} name (MLflow "
                          "fails on it)")
                continue
            if not values:
                continue
            try:
                data, st = read_with_stat(path)
            except OSError as exc:
                self._add("bad-key-name", path, f"cannot be read: {exc.strerror}")
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._add("value-not-utf8", path, f"the value of {what} {key!r} is not UTF-8 "
                          f"(byte {exc.start}: {data[exc.start:exc.start + 8]!r}); MLflow fails "
                          "on it, and only you know what it meant")
                continue
            if evidence is not None:
                evidence.saw_file(st.st_mtime_ns)
                if key == "mlflow.runName":
                    evidence.run_name_tag = text
                elif key == "mlflow.user":
                    evidence.user_tag = text

    def _yaml_children(self, folder: str, what: str) -> None:
        with os.scandir(folder) as it:
            children = [e for e in it if e.is_dir()]
        for child in children:
            path = os.path.join(child.path, META)
            try:
                data = read_with_stat(path)[0]
            except OSError:
                self._add("yaml-invalid", path, f"the {what} has no meta.yaml (MLflow fails "
                          "on the run)")
                continue
            problem = load_mapping(data)[1]
            if problem is not None:
                self._add("yaml-invalid", path, f"the {what}'s meta.yaml {problem}")

    # -- leftovers -----------------------------------------------------------------------------

    def _maybe_temp(self, entry: os.DirEntry[str]) -> None:
        name = entry.name
        pid = stale_temp_pid(name)
        if pid is None and not _MLFLOW_TEMP.match(name):
            return
        try:
            st = entry.stat()
            data = read_with_stat(entry.path)[0]
        except OSError:
            return
        old = self.now - st.st_mtime >= STALE_TEMP_SECONDS
        if not old and (pid is None or not process_gone(pid)):
            return  # its writer may still be renaming it into place
        self._add("temp-file", entry.path, "a temporary file of an interrupted atomic write "
                  f"({len(data)} bytes); it would be removed", Fix("remove", entry.path, data))

    def _root_file(self, entry: os.DirEntry[str], experiment_ids: set[str]) -> None:
        name = entry.name
        if name.startswith(QUARANTINE_PREFIX):
            return
        if name.startswith(GC_JOURNAL):
            pid = name[len(GC_JOURNAL):].split("-", 1)[0]
            if pid.isdigit() and process_gone(int(pid)):
                self._add("gc-journal", entry.path, "an interrupted trackstore gc left this "
                          "journal; run trackstore gc on the tree to finish the removal")
            return
        if name == RUN_INDEX:
            self._run_index(entry.path)
        elif name.startswith(summary.PREFIX):
            self._summary(entry.path, name[len(summary.PREFIX):], experiment_ids)
        else:
            self._maybe_temp(entry)

    def _run_index(self, path: str) -> None:
        try:
            data, st = read_with_stat(path)
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        torn = end < len(data) and self.now - st.st_mtime >= SETTLE
        good, bad = [], 0
        for line in data[:end].split(b"\n")[:-1]:
            parts = line.decode("utf-8", "replace").split(" ")
            if len(parts) == 2 and parts[1] in self._run_homes.get(parts[0], ()):
                good.append(line + b"\n")
            else:
                bad += 1
        if not bad and not torn:
            return
        kept = b"".join(good) + (b"" if torn else data[end:])
        fix = Fix("write", path, data, kept) if kept else Fix("remove", path, data)
        self._add("stale-side-file", path,
                  f"{bad} of its lines name runs that are not where they say"
                  f"{' and its last line is torn' if torn else ''}; it would be rewritten "
                  "without them (it is only a hint)", fix)

    def _summary(self, path: str, experiment_id: str, experiment_ids: set[str]) -> None:
        try:
            data = read_with_stat(path)[0]
        except OSError:
            return
        problem = None
        if experiment_id not in experiment_ids:
            problem = f"experiment {experiment_id} is not in the tree"
        else:
            try:
                doc = json.loads(data)
                if doc["v"] != summary.VERSION or doc["experiment_id"] != experiment_id:
                    problem = "it is from another version or another experiment"
            except (ValueError, TypeError, KeyError):
                problem = "it is not a summary"
        if problem is not None:
            self._add("stale-side-file", path, f"a search summary that no reader uses: "
                      f"{problem}; it would be removed", Fix("remove", path, data))
