"""Experiments in the file store: ``<root>/<id>/`` when active, ``<root>/.trash/<id>/`` when
deleted. Where the directory is decides the lifecycle stage; ``meta.yaml`` is kept in step."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager

from ...entities import (
    Experiment,
    ExperimentTag,
    LifecycleStage,
    PagedList,
    ViewType,
    now_ms,
)
from ...exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackstoreError,
)
from ...search import search_experiments as _search_experiments
from ...validation import validate_experiment_id
from ..base import name_taken
from .index import RunIndex
from .layout import (
    META,
    RESERVED_ROOT_FOLDERS,
    TAGS,
    key_path,
    list_dirs,
    new_experiment_id,
    remove_tree,
    write_atomic,
)
from .meta import (
    BadMeta,
    append_to_uri,
    dump_meta,
    experiment_from_meta,
    experiment_meta,
    load_meta,
    resolve_local_uri,
)
from .reading import RunReader
from .summary import Summaries


class ExperimentsMixin:
    """Experiment operations of :class:`~trackstore.store.file.FileStore`."""

    # Provided by FileStore (declared here for the type checker).
    root_directory: str
    trash_folder: str
    artifact_root_uri: str
    _report: Callable[[str, str], None]
    _reader: RunReader
    _summaries: Summaries
    _index: RunIndex
    _set_runs_stage: Callable[[str, str, str, int | None], None]
    _forget_dir: Callable[[str], None]
    _journal: Callable[[list[str]], AbstractContextManager[None]]

    # -- locating and reading -----------------------------------------------------------------

    def _experiment_dir(self, experiment_id: str,
                        view_type: int = ViewType.ALL) -> str | None:
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            path = os.path.join(self.root_directory, experiment_id)
            if os.path.isdir(path):
                return path
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL):
            path = os.path.join(self.trash_folder, experiment_id)
            if os.path.isdir(path):
                return path
        return None

    def _read_experiment(self, experiment_id: str, path: str) -> Experiment:
        """Raises BadMeta for a damaged experiment directory."""
        meta_path = os.path.join(path, META)
        meta = load_meta(meta_path)
        tags = dict(self._reader.key_values(os.path.join(path, TAGS)))
        experiment = experiment_from_meta(meta, meta_path, tags)
        if experiment.experiment_id != experiment_id:
            raise BadMeta(f"{meta_path} records experiment id {experiment.experiment_id!r} in "
                          f"the directory of experiment {experiment_id!r}")
        in_trash = os.path.dirname(path) == self.trash_folder
        experiment.lifecycle_stage = LifecycleStage.DELETED if in_trash else LifecycleStage.ACTIVE
        return experiment

    def get_experiment(self, experiment_id: str) -> Experiment:
        experiment_id = validate_experiment_id(
            "0" if experiment_id is None else experiment_id)
        path = self._experiment_dir(experiment_id)
        if path is None:
            raise TrackstoreError(f"Could not find experiment with ID {experiment_id}",
                                  RESOURCE_DOES_NOT_EXIST)
        try:
            return self._read_experiment(experiment_id, path)
        except BadMeta as exc:
            self._report(path, str(exc))
            raise TrackstoreError(f"Experiment '{experiment_id}' does not exist.",
                                  RESOURCE_DOES_NOT_EXIST) from None

    def _experiment_ids(self, view_type: int) -> list[tuple[str, str]]:
        """(id, directory) of every experiment directory in view."""
        found: list[tuple[str, str]] = []
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            for name in list_dirs(self.root_directory):
                if name not in RESERVED_ROOT_FOLDERS:
                    found.append((name, os.path.join(self.root_directory, name)))
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL):
            found.extend((n, os.path.join(self.trash_folder, n))
                         for n in list_dirs(self.trash_folder))
        return found

    def _all_experiments(self, view_type: int) -> list[Experiment]:
        out = []
        for experiment_id, path in self._experiment_ids(view_type):
            try:
                validate_experiment_id(experiment_id)
                out.append(self._read_experiment(experiment_id, path))
            except TrackstoreError:
                self._report(path, "is not an experiment directory (invalid experiment id)")
            except BadMeta as exc:
                if not _being_created(path):
                    self._report(path, f"malformed experiment skipped: {exc}")
        return out

    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        for experiment in self._all_experiments(ViewType.ALL):
            if experiment.name == experiment_name:
                return experiment
        return None

    def _search_experiments(self, view_type: int, max_results: int,
                            filter_string: str | None, order_by: list[str],
                            page_token: str | None) -> PagedList[Experiment]:
        experiments = self._all_experiments(view_type)
        page, token = _search_experiments(experiments, filter_string, order_by, max_results,
                                          page_token)
        return PagedList(page, token)

    # -- writing --------------------------------------------------------------------------------

    def _check_name_free(self, name: str) -> None:
        existing = self.get_experiment_by_name(name)
        if existing is not None:
            raise name_taken(existing, "the experiment from the .trash folder (under tracking "
                             "server's root folder)")

    def _create_experiment(self, name: str, artifact_location: str | None,
                           tags: list[ExperimentTag]) -> str:
        self._check_name_free(name)
        while True:
            experiment_id = new_experiment_id()
            path = os.path.join(self.root_directory, experiment_id)
            try:
                os.mkdir(path)
                break
            except FileExistsError:
                continue
        self._write_new_experiment(experiment_id, path, name, artifact_location, tags)
        return experiment_id

    def _write_new_experiment(self, experiment_id: str, path: str, name: str,
                              artifact_location: str | None, tags: list[ExperimentTag]) -> None:
        location = (resolve_local_uri(artifact_location) if artifact_location
                    else append_to_uri(self.artifact_root_uri, experiment_id))
        created = now_ms()
        experiment = Experiment(experiment_id, name, location, LifecycleStage.ACTIVE,
                                creation_time=created, last_update_time=created)
        for tag in tags:
            self._write_experiment_tag(path, tag)
        # meta.yaml last: a crash before it leaves a directory every reader skips.
        write_atomic(os.path.join(path, META), dump_meta(experiment_meta(experiment)))

    def create_default_experiment(self, root: str | None = None) -> None:
        """Make experiment ``0`` in the tree, or in *root* (a tree being built)."""
        path = os.path.join(root or self.root_directory, "0")
        os.makedirs(path, exist_ok=True)
        if not os.path.exists(os.path.join(path, META)):
            self._write_new_experiment("0", path, Experiment.DEFAULT_EXPERIMENT_NAME, None, [])

    def _rewrite_experiment_meta(self, path: str, experiment: Experiment) -> None:
        meta_path = os.path.join(path, META)
        try:
            previous = load_meta(meta_path)
        except BadMeta:
            previous = None
        write_atomic(meta_path, dump_meta(experiment_meta(experiment, previous)))

    def _active_experiment(self, experiment_id: str, action: str) -> tuple[str,
                                                                                      Experiment]:
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise TrackstoreError(
                f"The experiment {experiment.experiment_id} must be in the 'active' "
                f"lifecycle_stage to {action}", INVALID_PARAMETER_VALUE)
        path = self._experiment_dir(experiment.experiment_id, ViewType.ACTIVE_ONLY)
        assert path is not None
        return path, experiment

    def _rename_experiment(self, experiment_id: str, new_name: str) -> None:
        experiment = self.get_experiment(experiment_id)
        self._check_name_free(new_name)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise TrackstoreError(
                "Cannot rename experiment in non-active lifecycle stage. Current stage: "
                f"{experiment.lifecycle_stage}", INVALID_PARAMETER_VALUE)
        experiment.name = new_name
        experiment.last_update_time = now_ms()
        path = self._experiment_dir(experiment.experiment_id, ViewType.ACTIVE_ONLY)
        assert path is not None
        self._rewrite_experiment_meta(path, experiment)

    def delete_experiment(self, experiment_id: str) -> None:
        experiment_id = validate_experiment_id(experiment_id)
        if experiment_id == "0":
            raise TrackstoreError(
                "Cannot delete the default experiment '0'. This is an internally reserved "
                "experiment.", INVALID_PARAMETER_VALUE)
        path = self._experiment_dir(experiment_id, ViewType.ACTIVE_ONLY)
        if path is None:
            raise TrackstoreError(f"Could not find experiment with ID {experiment_id}",
                                  RESOURCE_DOES_NOT_EXIST)
        experiment = self.get_experiment(experiment_id)
        deleted_at = now_ms()
        self._set_runs_stage(experiment_id, path, LifecycleStage.DELETED, deleted_at)
        os.makedirs(self.trash_folder, exist_ok=True)
        target = os.path.join(self.trash_folder, experiment_id)
        if os.path.exists(target):
            raise TrackstoreError(
                f"Cannot delete experiment {experiment_id}: a deleted experiment with the same "
                "ID is already in the .trash folder", RESOURCE_ALREADY_EXISTS)
        self._forget_dir(path)
        os.rename(path, target)
        experiment.lifecycle_stage = LifecycleStage.DELETED
        experiment.last_update_time = deleted_at
        self._rewrite_experiment_meta(target, experiment)

    def restore_experiment(self, experiment_id: str) -> None:
        experiment_id = validate_experiment_id(experiment_id)
        path = self._experiment_dir(experiment_id, ViewType.DELETED_ONLY)
        if path is None:
            raise TrackstoreError(f"Could not find deleted experiment with ID {experiment_id}",
                                  RESOURCE_DOES_NOT_EXIST)
        target = os.path.join(self.root_directory, experiment_id)
        if os.path.exists(target):
            raise TrackstoreError(
                f"Cannot restore experiment with ID {experiment_id}. An experiment with same ID "
                "already exists.", RESOURCE_ALREADY_EXISTS)
        experiment = self.get_experiment(experiment_id)
        self._forget_dir(path)
        os.rename(path, target)
        self._set_runs_stage(experiment_id, target, LifecycleStage.ACTIVE, None)
        experiment.lifecycle_stage = LifecycleStage.ACTIVE
        experiment.last_update_time = now_ms()
        self._rewrite_experiment_meta(target, experiment)

    def _set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None:
        path, _ = self._active_experiment(experiment_id, "set tags")
        self._write_experiment_tag(path, tag)

    def _write_experiment_tag(self, path: str, tag: ExperimentTag) -> None:
        target = key_path(os.path.join(path, TAGS), tag.key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        write_atomic(target, tag.value.encode("utf-8"), tmp_dir=path, fsync=False)

    def _delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        path, _ = self._active_experiment(experiment_id, "delete tags")
        try:
            os.unlink(key_path(os.path.join(path, TAGS), key))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise TrackstoreError(
                f"No tag with name: {key} in experiment with id {experiment_id}",
                RESOURCE_DOES_NOT_EXIST) from None

    def hard_delete_experiment(self, experiment_id: str) -> None:
        experiment_id = validate_experiment_id(experiment_id)
        path = self._experiment_dir(experiment_id, ViewType.DELETED_ONLY)
        if path is None:
            if self._experiment_dir(experiment_id, ViewType.ACTIVE_ONLY) is not None:
                raise TrackstoreError(
                    f"Experiment {experiment_id} is not deleted; only deleted experiments can "
                    "be removed permanently", INVALID_PARAMETER_VALUE)
            raise TrackstoreError(f"Could not find deleted experiment with ID {experiment_id}",
                                  RESOURCE_DOES_NOT_EXIST)
        self._forget_dir(path)
        self._index.purge(set(list_dirs(path)))  # the side files first (see hard_delete_runs)
        self._summaries.remove(experiment_id)
        with self._journal([path]):
            remove_tree(path)  # its meta.yaml last: an interrupted removal is done again by gc


def _being_created(path: str) -> bool:
    """Whether the experiment folder *path* is one whose creation has not reached its
    ``meta.yaml``: a generated (numeric) id with nothing in it but (maybe) its first tags.
    ``create_experiment`` writes ``meta.yaml`` last, so that is a creation in progress in
    another process, or one killed half-way: no experiment yet, and no damage either (as a
    run folder without ``meta.yaml`` is no run). Any other folder is still reported."""
    if not os.path.basename(path).isdigit():
        return False
    try:
        return not os.path.exists(os.path.join(path, META)) and set(os.listdir(path)) <= {TAGS}
    except OSError:
        return False

