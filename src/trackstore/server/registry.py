"""The model registry endpoints of MLflow's REST API (``ModelRegistryService``), one function
each, over the store's registry calls (:class:`~trackstore.store.model_registry.RegistryCalls`).

Paths, methods and fields are MLflow's (mlflow-spec §5.5); the JSON shape of the answers is
:mod:`trackstore.registry_wire`. Request checks follow MLflow's handler schemas: "required"
means present, not null and not ``""`` (MLflow's "Missing value for required parameter"
message), strings must be JSON strings (``version`` included: MLflow's client sends
``"1"``), ``max_results`` is an int64 (a number or a decimal string) and
``archive_existing_versions`` a JSON boolean. What the values mean (a valid name, a numeric
version, a known stage, a page size within MLflow's bounds) is checked by the store, with
MLflow's messages, before anything is written.

Answers match MLflow's where it reads an absent field as the proto default: a version created
without a description or run link shows ``""`` for them (the store keeps ``None``, see
:mod:`trackstore.registry_wire`); ``search`` without ``max_results`` returns up to the proto's
default (100 registered models, 200,000 versions).

``model-versions/create`` checks the version's ``source`` as MLflow's server does (see
:func:`check_source`): a ``models:/`` source is resolved to the version it names, and a local
path, a ``runs:/`` URI or an artifact proxy URI must lie within the artifacts of the run given
with it.

A store without a registry (an ``mlruns`` directory) answers every call with
``FEATURE_DISABLED`` (HTTP 501), saying that a database-backed store is needed.
"""

from __future__ import annotations

import os
import posixpath
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from .. import wire
from ..exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from ..model_registry import (
    IS_PROMPT_TAG,
    LATEST_ALIAS,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from ..registry_wire import model_version_to_json, registered_model_to_json
from ..store.base import AbstractStore
from ..validation import wrong_type
from .handlers import Args, Handler, Result, _page, _strings, optional, required

#: What ``max_results`` is when a search request leaves it out: the proto defaults, which
#: MLflow's server passes on as they are.
REGISTERED_MODELS_PAGE = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT
MODEL_VERSIONS_PAGE = SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD


def _boolean(value: Any, name: str) -> bool:
    """A bool field: a JSON ``true``/``false`` (MLflow refuses ``"true"`` in a body)."""
    if isinstance(value, bool):
        return value
    raise wrong_type(name, value, "true or false")


def _registered_model(model: RegisteredModel) -> Result:
    return {"registered_model": registered_model_to_json(model)}


def _model_version(version: ModelVersion) -> Result:
    return {"model_version": model_version_to_json(version)}


# -- registered models ---------------------------------------------------------------------------

def create_registered_model(store: AbstractStore, args: Args) -> Result:
    name = required(args, "name")
    tags = [RegisteredModelTag(k, v) for k, v in wire.tags_from_json(args.many("tags"))]
    return _registered_model(store.create_registered_model(
        name, tags, optional(args, "description"),
        optional(args, "deployment_job_id") or None))


def rename_registered_model(store: AbstractStore, args: Args) -> Result:
    name = required(args, "name")
    return _registered_model(store.rename_registered_model(name, required(args, "new_name")))


def update_registered_model(store: AbstractStore, args: Args) -> Result:
    name = required(args, "name")
    return _registered_model(store.update_registered_model(
        name, optional(args, "description"), optional(args, "deployment_job_id") or None))


def delete_registered_model(store: AbstractStore, args: Args) -> Result:
    store.delete_registered_model(required(args, "name"))
    return {}


def get_registered_model(store: AbstractStore, args: Args) -> Result:
    return _registered_model(store.get_registered_model(required(args, "name")))


def search_registered_models(store: AbstractStore, args: Args) -> Result:
    page = store.search_registered_models(
        filter_string=optional(args, "filter") or None,
        max_results=optional(args, "max_results", wire.int64, REGISTERED_MODELS_PAGE),
        order_by=_strings(args, "order_by"),
        page_token=optional(args, "page_token") or None)
    return _page([registered_model_to_json(m) for m in page], "registered_models", page.token)


def get_latest_versions(store: AbstractStore, args: Args) -> Result:
    name = required(args, "name")
    versions = store.get_latest_versions(name, _strings(args, "stages") or None)
    return _page([model_version_to_json(v) for v in versions], "model_versions", None)


def set_registered_model_tag(store: AbstractStore, args: Args) -> Result:
    name = required(args, "name")
    tag = RegisteredModelTag(required(args, "key"), optional(args, "value", wire.text, ""))
    store.set_registered_model_tag(name, tag)
    return {}


def delete_registered_model_tag(store: AbstractStore, args: Args) -> Result:
    store.delete_registered_model_tag(required(args, "name"), required(args, "key"))
    return {}


# -- aliases -------------------------------------------------------------------------------------

def set_registered_model_alias(store: AbstractStore, args: Args) -> Result:
    name, alias = required(args, "name"), required(args, "alias")
    store.set_registered_model_alias(name, alias, required(args, "version"))
    return {}


def delete_registered_model_alias(store: AbstractStore, args: Args) -> Result:
    store.delete_registered_model_alias(required(args, "name"), required(args, "alias"))
    return {}


def get_model_version_by_alias(store: AbstractStore, args: Args) -> Result:
    name = required(args, "name")
    return _model_version(store.get_model_version_by_alias(name, required(args, "alias")))


# -- model versions ------------------------------------------------------------------------------

def create_model_version(store: AbstractStore, args: Args) -> Result:
    name, source = required(args, "name"), required(args, "source")
    pairs = wire.tags_from_json(args.many("tags"))
    run_id, model_id = optional(args, "run_id"), optional(args, "model_id")
    store.registry_backend()  # (a store without a registry says so before sources are read)
    prompt = dict(pairs).get(IS_PROMPT_TAG, "").lower() == "true"
    source, run_id, model_id = check_source(store, source, run_id, model_id, prompt=prompt)
    return _model_version(store.create_model_version(
        name, source, run_id=run_id or None, tags=[ModelVersionTag(k, v) for k, v in pairs],
        run_link=optional(args, "run_link") or None,
        description=optional(args, "description") or None,
        model_id=model_id or None))


def update_model_version(store: AbstractStore, args: Args) -> Result:
    name, version = required(args, "name"), required(args, "version")
    return _model_version(store.update_model_version(name, version,
                                                     optional(args, "description")))


def transition_model_version_stage(store: AbstractStore, args: Args) -> Result:
    name, version = required(args, "name"), required(args, "version")
    stage = required(args, "stage")
    archive = optional(args, "archive_existing_versions", _boolean, False)
    return _model_version(store.transition_model_version_stage(name, version, stage, archive))


def delete_model_version(store: AbstractStore, args: Args) -> Result:
    store.delete_model_version(required(args, "name"), required(args, "version"))
    return {}


def get_model_version(store: AbstractStore, args: Args) -> Result:
    name = required(args, "name")
    return _model_version(store.get_model_version(name, required(args, "version")))


def get_model_version_download_uri(store: AbstractStore, args: Args) -> Result:
    name = required(args, "name")
    uri = store.get_model_version_download_uri(name, required(args, "version"))
    return {"artifact_uri": uri}


def search_model_versions(store: AbstractStore, args: Args) -> Result:
    page = store.search_model_versions(
        filter_string=optional(args, "filter") or None,
        max_results=optional(args, "max_results", wire.int64, MODEL_VERSIONS_PAGE),
        order_by=_strings(args, "order_by"),
        page_token=optional(args, "page_token") or None)
    return _page([model_version_to_json(v) for v in page], "model_versions", page.token)


def set_model_version_tag(store: AbstractStore, args: Args) -> Result:
    name, version = required(args, "name"), required(args, "version")
    tag = ModelVersionTag(required(args, "key"), optional(args, "value", wire.text, ""))
    store.set_model_version_tag(name, version, tag)
    return {}


def delete_model_version_tag(store: AbstractStore, args: Args) -> Result:
    name, version = required(args, "name"), required(args, "version")
    store.delete_model_version_tag(name, version, required(args, "key"))
    return {}


# -- model version sources -----------------------------------------------------------------------
#
# MLflow's server checks a new version's source before storing it (``_create_model_version`` in
# mlflow/server/handlers.py): the checks keep a version from pointing at files of the server that
# its run does not own, or at hosts the server would connect to. They are applied here with the
# same outcomes and messages, so that a client sees the same answers from either server.

#: What a prompt's version has as its source (``mlflow.prompt.constants``).
PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})
#: A regular expression every source must match, when set (MLflow's variable).
SOURCE_PATTERN_ENV = "MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX"
#: Comma-separated schemes whose sources may name any host (MLflow's variable).
ALLOWED_HOST_SCHEMES_ENV = "MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES"
#: Schemes whose artifact repositories connect to the host the URI names, by the family of
#: services they reach, with the ports an URI without one means.
_HOST_ADDRESSED: dict[str, tuple[str, tuple[int | None, ...]]] = {
    "ftp": ("ftp", (21,)), "sftp": ("sftp", (22,)), "hdfs": ("hdfs", (None,)),
    "viewfs": ("hdfs", (None,)), "http": ("http", (80,)), "https": ("http", (443,)),
    "mlflow-artifacts": ("http", (80, 443)), "r2": ("r2", (443,)), "b2": ("b2", (443,)),
    "abfss": ("abfss", (443,)),
}
_PROXY_ROUTE = ("api", "2.0", "mlflow-artifacts", "artifacts")


def _refused(source: str, resource: str) -> TrackstoreError:
    return TrackstoreError(
        f"Invalid model version source: '{source}'. The {resource} request parameter must "
        "identify the resource that contains the source.", INVALID_PARAMETER_VALUE)


def _local_refused(source: object, resource: str) -> TrackstoreError:
    return TrackstoreError(
        f"Invalid model version source: '{source}'. To use a local path as a model version "
        f"source, the {resource} request parameter has to be specified and the local path has "
        f"to be contained within the artifact directory of the run specified by the "
        f"{resource}.", INVALID_PARAMETER_VALUE)


def check_source(store: AbstractStore, source: str, run_id: str | None, model_id: str | None,
                 *, prompt: bool = False) -> tuple[str, str | None, str | None]:
    """The ``source``, ``run_id`` and ``model_id`` to store for a new version, or the error
    MLflow's server gives for them.

    * With ``MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX`` set, the source must match.
    * A prompt's source is one of MLflow's placeholders; nothing else is checked.
    * A scheme whose artifacts live on a host the URI names (``http``, ``ftp``, ``hdfs``, …)
      must name the host of the store's artifact root, unless the scheme is listed in
      ``MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES``.
    * ``models:/<name>/<version|stage|latest>`` and ``models:/<name>@<alias>`` become
      ``models:/<name>/<version>``; the version's run (and model) id is taken when the request
      gives none, and must be the version's when it gives one.
    * A local path must lie within the artifact directory of the run given with it; a
      ``runs:/`` URI must name that run; an artifact proxy URI (``mlflow-artifacts:``, or
      ``http(s)`` to ``/api/2.0/mlflow-artifacts/artifacts``) must lie within its artifacts.
      With a ``model_id`` (a logged model, which trackstore does not store) neither a local
      path nor an artifact proxy URI can be shown to be the model's, so both are refused.
    * No source may climb out of its location (``..``, also percent-encoded, or a NUL).
    """
    pattern = os.environ.get(SOURCE_PATTERN_ENV)
    if pattern and not re.search(pattern, source):
        raise TrackstoreError(f"Invalid model version source: '{source}'.",
                              INVALID_PARAMETER_VALUE)
    if prompt:
        if source not in PROMPT_SOURCES:
            raise TrackstoreError(f"Invalid prompt source: '{source}'. Prompt sources must use "
                                  "an MLflow placeholder.", INVALID_PARAMETER_VALUE)
        return source, run_id, model_id
    _check_host(store, source)
    source, run_id, model_id = _resolve_models_source(store, source, run_id, model_id)
    if model_id:
        _check_model_source(source, model_id)
    else:
        _check_run_source(store, source, run_id)
    return source, run_id, model_id


def _host_targets(uri: str) -> frozenset[tuple[str, str, int | None]] | None:
    """The (service, host, port) a URI's artifact repository would connect to; None when its
    scheme connects to no host the URI names."""
    scheme = urllib.parse.urlparse(uri).scheme.lower()
    if scheme not in _HOST_ADDRESSED:
        return None
    parts = urllib.parse.urlparse(uri)
    if scheme == "mlflow-artifacts" and not parts.netloc:
        return None  # the tracking server's own proxy
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port == -1 or "\\" in parts.netloc or any(c.isspace() for c in parts.netloc):
        return frozenset({("malformed", parts.netloc, None)})  # never a trusted host
    family, defaults = _HOST_ADDRESSED[scheme]
    host = (parts.hostname or "").lower()
    return frozenset((family, host, p) for p in ((port,) if port is not None else defaults))


def _check_host(store: AbstractStore, source: str) -> None:
    targets = _host_targets(source)
    if targets is None:
        return
    scheme = urllib.parse.urlparse(source).scheme.lower()
    allowed = {s.strip().lower() for s in os.environ.get(ALLOWED_HOST_SCHEMES_ENV, "").split(",")}
    root = getattr(store, "artifact_root_uri", None)
    trusted = (_host_targets(root) if isinstance(root, str) else None) or frozenset()
    if scheme in allowed or targets & trusted:
        return
    raise TrackstoreError(
        f"'source' cannot use the '{scheme}' scheme: the '{scheme}' scheme addresses a host "
        "other than the tracking server's configured artifact storage, so the server would "
        f"connect to the host named in the URI. Set the {ALLOWED_HOST_SCHEMES_ENV} environment "
        "variable on the server to allow it.", INVALID_PARAMETER_VALUE)


class _ModelsUri(NamedTuple):
    """A ``models:/`` URI: a logged model's id, or a registered model and one of a version,
    a stage or an alias (none of them: its latest version)."""

    model_id: str | None = None
    name: str | None = None
    version: str | None = None
    stage: str | None = None
    alias: str | None = None


def _parse_models_uri(source: str) -> _ModelsUri:
    """*source*'s parts, as MLflow's ``_parse_model_uri`` reads them; a malformed one is
    refused."""
    path = urllib.parse.urlparse(source, allow_fragments=False).path
    if not path.startswith("/") or len(path) <= 1:
        raise _refused(source, "model_id")
    parts = path.lstrip("/").split("/")
    if len(parts) > 2 or not parts[0].strip():
        raise _refused(source, "model_id")
    if len(parts) == 2:
        name, suffix = parts
        if not suffix.strip():
            raise _refused(source, "model_id")
        if suffix.isdigit():
            return _ModelsUri(name=name, version=suffix)
        if suffix.lower() == LATEST_ALIAS:
            return _ModelsUri(name=name)
        return _ModelsUri(name=name, stage=suffix)
    if "@" in path:
        name, _, alias = parts[0].rpartition("@")
        if not alias.strip():
            raise _refused(source, "model_id")
        return _ModelsUri(name=name, alias=alias)
    return _ModelsUri(model_id=parts[0])


def _resolve_models_source(store: AbstractStore, source: str, run_id: str | None,
                           model_id: str | None) -> tuple[str, str | None, str | None]:
    """A ``models:/`` source naming a registered model's version, as that version's
    ``models:/<name>/<version>``, with its run and model ids (see :func:`check_source`)."""
    parts = urllib.parse.urlparse(source)
    if parts.scheme != "models":
        return source, run_id, model_id
    if parts.netloc:
        raise TrackstoreError(f"Invalid model version source: '{source}'. Registered model "
                              "sources must use the active model registry.",
                              INVALID_PARAMETER_VALUE)
    uri = _parse_models_uri(source)
    if uri.model_id is not None or uri.name is None:
        return source, run_id, model_id
    if store.get_registered_model(uri.name).tags.get(IS_PROMPT_TAG, "").lower() == "true":
        raise TrackstoreError(f"Invalid model version source: '{source}'. Prompt versions "
                              "cannot be used as model version sources.",
                              INVALID_PARAMETER_VALUE)
    if uri.version is not None:
        version = uri.version
    elif uri.alias is not None:
        version = store.get_model_version_by_alias(uri.name, uri.alias).version
    else:
        latest = store.get_latest_versions(uri.name, None if uri.stage is None else [uri.stage])
        if not latest:
            stage = "" if uri.stage is None else f" and stage '{uri.stage}'"
            raise TrackstoreError(f"No versions of model with name '{uri.name}'{stage} found",
                                  RESOURCE_DOES_NOT_EXIST)
        version = str(max(int(v.version) for v in latest))
    found = store.get_model_version(uri.name, version)
    if ((run_id is not None and run_id != (found.run_id or ""))
            or (model_id is not None and model_id != (found.model_id or ""))):
        raise TrackstoreError(f"Invalid model version source: '{source}'. The run_id and "
                              "model_id request parameters must match the referenced model "
                              "version.", INVALID_PARAMETER_VALUE)
    return (f"models:/{uri.name}/{found.version}",
            found.run_id if run_id is None else run_id,
            found.model_id if model_id is None else model_id)


def _is_local(uri: str) -> bool:
    """Whether *uri* is a path on the server (MLflow's ``is_local_uri``)."""
    if uri == "databricks":
        return False
    parts = urllib.parse.urlparse(uri)
    if parts.scheme == "":
        return True
    host = parts.hostname or ""
    remote = bool(host) and not (host == "." or host.startswith(("localhost", "127.0.0.1")))
    if parts.scheme == "file":
        if remote:
            raise TrackstoreError(
                f"{uri} is not a valid remote uri. For remote access on windows, please "
                "consider using a different scheme such as SMB (e.g. smb://<hostname>/<path>).",
                INVALID_PARAMETER_VALUE)
        return True
    return False


def _local_path(uri: str) -> Path:
    path = urllib.parse.urlparse(uri).path if uri.startswith("file:") else uri
    return Path(urllib.request.url2pathname(path)).resolve()


def _uri_parts(uri: str) -> tuple[str, str, tuple[str, ...]]:
    """(scheme, authority, path segments fully percent-decoded), lower-cased where URIs are
    case-insensitive."""
    parts = urllib.parse.urlsplit(uri)
    decoded = (_unquoted(segment, urllib.parse.unquote) for segment in parts.path.split("/"))
    return parts.scheme.lower(), parts.netloc.lower(), tuple(s for s in decoded if s)


def _unquoted(text: str, unquote: Callable[[str], str]) -> str:
    """*text* percent-decoded until nothing changes (``%252E`` is ``.``)."""
    while (decoded := unquote(text)) != text:
        text = decoded
    return text


def _is_proxy_uri(uri: str) -> bool:
    scheme, _, segments = _uri_parts(uri)
    if scheme == "mlflow-artifacts":
        return True
    n = len(_PROXY_ROUTE)
    return scheme in ("http", "https") and any(
        segments[i:i + n] == _PROXY_ROUTE for i in range(len(segments) - n + 1))


def _within(uri: str, root: str) -> bool:
    scheme, authority, segments = _uri_parts(uri)
    root_scheme, root_authority, root_segments = _uri_parts(root)
    return (scheme, authority) == (root_scheme, root_authority) and bool(root_segments) \
        and segments[:len(root_segments)] == root_segments


def _check_no_climbing(source: str) -> None:
    """Refuse a source whose path climbs (``..``, also percent-encoded) or is not normal.

    MLflow compares the path with its resolution on the server's file system; the path of a
    remote URI is not a path there, so it is compared with its lexical normal form (the same
    outcome, except where MLflow's server would follow a symbolic link of its own disk)."""
    message = (f"Invalid model version source: '{source}'. If supplying a source as an http, "
               "https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute "
               "path must be provided without relative path references present. Please "
               "provide an absolute path.")
    decoded = _unquoted(source, urllib.parse.unquote_plus)
    path = re.sub(r"/+", "/", urllib.parse.urlparse(decoded).path.rstrip("/"))
    if "\x00" in path or ".." in decoded.split("/") or posixpath.normpath(path) != path:
        raise TrackstoreError(message, INVALID_PARAMETER_VALUE)


def _run_artifacts(store: AbstractStore, run_id: str, source: str) -> str:
    """The artifact URI of the run a source is given with (a missing run: refused)."""
    try:
        artifact_uri = store.get_run(run_id).info.artifact_uri
    except TrackstoreError as exc:
        if exc.error_code == RESOURCE_DOES_NOT_EXIST:
            raise _refused(source, "run_id") from None
        raise
    return artifact_uri or ""


def _check_run_source(store: AbstractStore, source: str, run_id: str | None) -> None:
    if _is_local(source):
        if run_id:
            artifacts = _run_artifacts(store, run_id, source)
            local = _local_path(source)
            if _is_local(artifacts) and _local_path(artifacts) in (local, *local.parents):
                return
            raise _local_refused(local, "run_id")
        raise _local_refused(source, "run_id")
    _check_no_climbing(source)
    parts = urllib.parse.urlparse(source)
    if parts.scheme == "runs":
        path = parts.path
        named = path[1:].split("/")[0] if path.startswith("/") else ""
        if parts.netloc or not named or not run_id or named != run_id:
            raise _refused(source, "run_id")
        return
    if parts.scheme == "models" and (
            parts.netloc or _parse_models_uri(source).model_id is not None):
        raise _refused(source, "model_id")
    if _is_proxy_uri(source):
        if run_id and _within(source, _run_artifacts(store, run_id, source)):
            return
        raise _refused(source, "run_id")


def _check_model_source(source: str, model_id: str) -> None:
    if _is_local(source):
        raise _refused(source, "model_id")  # no logged model to own it (see check_source)
    _check_no_climbing(source)
    parts = urllib.parse.urlparse(source)
    if parts.scheme == "models":
        if parts.netloc:
            raise _refused(source, "model_id")
        named = _parse_models_uri(source).model_id
        if named is not None and named != model_id:
            raise _refused(source, "model_id")
    if parts.scheme == "runs" or _is_proxy_uri(source):
        raise _refused(source, "model_id")


#: (methods, path under /api/2.0/mlflow and /ajax-api/2.0/mlflow, handler), as
#: ``handlers.TRACKING``. ``registered-models/alias`` serves three calls, one per method.
REGISTRY: list[tuple[tuple[str, ...], str, Handler]] = [
    (("POST",), "/registered-models/create", create_registered_model),
    (("POST",), "/registered-models/rename", rename_registered_model),
    (("PATCH",), "/registered-models/update", update_registered_model),
    (("DELETE",), "/registered-models/delete", delete_registered_model),
    (("GET",), "/registered-models/get", get_registered_model),
    (("GET",), "/registered-models/search", search_registered_models),
    (("POST", "GET"), "/registered-models/get-latest-versions", get_latest_versions),
    (("POST",), "/registered-models/set-tag", set_registered_model_tag),
    (("DELETE",), "/registered-models/delete-tag", delete_registered_model_tag),
    (("POST",), "/registered-models/alias", set_registered_model_alias),
    (("DELETE",), "/registered-models/alias", delete_registered_model_alias),
    (("GET",), "/registered-models/alias", get_model_version_by_alias),
    (("POST",), "/model-versions/create", create_model_version),
    (("PATCH",), "/model-versions/update", update_model_version),
    (("POST",), "/model-versions/transition-stage", transition_model_version_stage),
    (("DELETE",), "/model-versions/delete", delete_model_version),
    (("GET",), "/model-versions/get", get_model_version),
    (("GET",), "/model-versions/search", search_model_versions),
    (("GET",), "/model-versions/get-download-uri", get_model_version_download_uri),
    (("POST",), "/model-versions/set-tag", set_model_version_tag),
    (("DELETE",), "/model-versions/delete-tag", delete_model_version_tag),
]

#: The registry reads whose cost grows with what is stored (see ``handlers.SCANS``).
REGISTRY_SCANS: tuple[Handler, ...] = (search_registered_models, search_model_versions)
