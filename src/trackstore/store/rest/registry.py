"""The model registry of a :class:`~trackstore.store.rest.RestStore`: MLflow's registry
endpoints, called as MLflow's own registry client calls them.

Each call is the endpoint MLflow's ``RestStore`` (``mlflow/store/model_registry/rest_store.py``)
uses, with the same HTTP method, path and fields (mlflow-spec §5.5, §5.8): reads are GETs with
query parameters; creates, renames, tags, aliases and stage transitions POST a JSON body;
updates are PATCHes and deletions DELETEs, both with JSON bodies. Versions travel as strings;
fields left unset are left out. ``get-latest-versions`` is POSTed, and sent again as a GET
only when the server answers ``ENDPOINT_NOT_FOUND`` (servers that only know the GET form).

Arguments arrive checked by :class:`~trackstore.store.model_registry.RegistryCalls`; the
answers are read with :mod:`trackstore.registry_wire`, and a server's error is raised as a
:class:`~trackstore.exceptions.TrackstoreError` with the server's ``error_code``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ...entities import PagedList
from ...exceptions import ENDPOINT_NOT_FOUND, INTERNAL_ERROR, TrackstoreError
from ...model_registry import ModelVersion, RegisteredModel
from ...registry_wire import model_version_from_json, registered_model_from_json
from ...wire import pairs_to_json, text
from ..model_registry import RegistryBackend
from ._http import HttpClient
from .store import API_PREFIX, _field, _list

T = TypeVar("T")


def _search_params(filter_string: str | None, max_results: int, order_by: list[str],
                   page_token: str | None) -> dict[str, Any]:
    """A search's query parameters, without the unset ones (as MLflow's client sends them)."""
    params: dict[str, Any] = {"max_results": max_results}
    if filter_string:
        params["filter"] = filter_string
    if order_by:
        params["order_by"] = order_by
    if page_token:
        params["page_token"] = page_token
    return params


def _read(read: Callable[[Any, str], T], value: Any, name: str) -> T:
    """*value* of the server's answer read with *read*; a malformed one is the server's fault
    (``INTERNAL_ERROR``), not the caller's."""
    try:
        return read(value, name)
    except TrackstoreError as exc:
        raise TrackstoreError(f"The tracking server's response has a malformed '{name}': "
                              f"{exc.message}", INTERNAL_ERROR) from None


def _token(value: Any, name: str) -> str | None:
    """A page token: ``None`` on the last page (left out, or ``""``)."""
    return None if value is None else text(value, name) or None


def _registered_model(response: Mapping[str, Any]) -> RegisteredModel:
    return _read(registered_model_from_json, _field(response, "registered_model"),
                 "registered_model")


def _model_version(response: Mapping[str, Any]) -> ModelVersion:
    return _read(model_version_from_json, _field(response, "model_version"), "model_version")


def _model_versions(response: Mapping[str, Any]) -> list[ModelVersion]:
    return [_read(model_version_from_json, v, f"model_versions[{i}]")
            for i, v in enumerate(_list(response, "model_versions"))]


def _with(body: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """*body* plus each optional field that is set (not ``None``)."""
    body.update((name, value) for name, value in optional.items() if value is not None)
    return body


class RestRegistry(RegistryBackend):
    """The registry calls of a tracking server, over the :class:`RestStore`'s HTTP client
    (its connections, credentials, retries and timeouts).

    Calls whose repetition would not leave the same state (creating a model or a version,
    renaming, deleting) are not resent after a failure that may have reached the server;
    everything else is retried as the REST store's other calls are.
    """

    def __init__(self, http: HttpClient) -> None:
        self._http = http

    def _call(self, method: str, endpoint: str, payload: Mapping[str, Any], *,
              retry_safe: bool = True) -> dict[str, Any]:
        return self._http.call(method, API_PREFIX + endpoint, payload, retry_safe=retry_safe)

    # -- registered models ------------------------------------------------------------------

    def create_registered_model(self, name: str, tags: dict[str, str], description: str | None,
                                deployment_job_id: str | None) -> RegisteredModel:
        body = _with({"name": name}, description=description,
                     deployment_job_id=deployment_job_id)
        if tags:
            body["tags"] = pairs_to_json(tags.items())
        response = self._call("POST", "/registered-models/create", body, retry_safe=False)
        return _registered_model(response)

    def update_registered_model(self, name: str, description: str | None,
                                deployment_job_id: str | None) -> RegisteredModel:
        body = _with({"name": name}, description=description,
                     deployment_job_id=deployment_job_id)
        response = self._call("PATCH", "/registered-models/update", body)
        return _registered_model(response)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        response = self._call("POST", "/registered-models/rename",
                              {"name": name, "new_name": new_name}, retry_safe=False)
        return _registered_model(response)

    def delete_registered_model(self, name: str) -> None:
        self._call("DELETE", "/registered-models/delete", {"name": name}, retry_safe=False)

    def search_registered_models(self, filter_string: str | None, max_results: int,
                                 order_by: list[str], page_token: str | None
                                 ) -> PagedList[RegisteredModel]:
        response = self._call("GET", "/registered-models/search",
                              _search_params(filter_string, max_results, order_by, page_token))
        return PagedList([_read(registered_model_from_json, m, f"registered_models[{i}]")
                          for i, m in enumerate(_list(response, "registered_models"))],
                         _read(_token, response.get("next_page_token"), "next_page_token"))

    def get_registered_model(self, name: str) -> RegisteredModel:
        response = self._call("GET", "/registered-models/get", {"name": name})
        return _registered_model(response)

    def get_latest_versions(self, name: str, stages: list[str] | None) -> list[ModelVersion]:
        payload = _with({"name": name}, stages=stages or None)
        try:
            response = self._call("POST", "/registered-models/get-latest-versions", payload)
        except TrackstoreError as exc:
            if exc.error_code != ENDPOINT_NOT_FOUND:
                raise
            response = self._call("GET", "/registered-models/get-latest-versions", payload)
        return _model_versions(response)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._call("POST", "/registered-models/set-tag", {"name": name, "key": key,
                                                           "value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._call("DELETE", "/registered-models/delete-tag", {"name": name, "key": key})

    # -- model versions ---------------------------------------------------------------------

    def create_model_version(self, name: str, source: str, run_id: str | None,
                             tags: dict[str, str], run_link: str | None,
                             description: str | None, model_id: str | None) -> ModelVersion:
        body = _with({"name": name, "source": source}, run_id=run_id, run_link=run_link,
                     description=description, model_id=model_id)
        if tags:
            body["tags"] = pairs_to_json(tags.items())
        response = self._call("POST", "/model-versions/create", body, retry_safe=False)
        return _model_version(response)

    def update_model_version(self, name: str, version: int,
                             description: str | None) -> ModelVersion:
        body = _with({"name": name, "version": str(version)}, description=description)
        response = self._call("PATCH", "/model-versions/update", body)
        return _model_version(response)

    def transition_model_version_stage(self, name: str, version: int, stage: str,
                                       archive_existing_versions: bool) -> ModelVersion:
        response = self._call("POST", "/model-versions/transition-stage", {
            "name": name, "version": str(version), "stage": stage,
            "archive_existing_versions": archive_existing_versions})
        return _model_version(response)

    def delete_model_version(self, name: str, version: int) -> None:
        self._call("DELETE", "/model-versions/delete", {"name": name, "version": str(version)},
                   retry_safe=False)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        response = self._call("GET", "/model-versions/get",
                              {"name": name, "version": str(version)})
        return _model_version(response)

    def get_model_version_download_uri(self, name: str, version: int) -> str:
        response = self._call("GET", "/model-versions/get-download-uri",
                              {"name": name, "version": str(version)})
        return _read(text, _field(response, "artifact_uri"), "artifact_uri")

    def search_model_versions(self, filter_string: str | None, max_results: int,
                              order_by: list[str], page_token: str | None
                              ) -> PagedList[ModelVersion]:
        response = self._call("GET", "/model-versions/search",
                              _search_params(filter_string, max_results, order_by, page_token))
        return PagedList(_model_versions(response),
                         _read(_token, response.get("next_page_token"), "next_page_token"))

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        self._call("POST", "/model-versions/set-tag",
                   {"name": name, "version": str(version), "key": key, "value": value})

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        self._call("DELETE", "/model-versions/delete-tag",
                   {"name": name, "version": str(version), "key": key})

    # -- aliases ----------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        self._call("POST", "/registered-models/alias",
                   {"name": name, "alias": alias, "version": str(version)})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._call("DELETE", "/registered-models/alias", {"name": name, "alias": alias})

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        response = self._call("GET", "/registered-models/alias", {"name": name, "alias": alias})
        return _model_version(response)
