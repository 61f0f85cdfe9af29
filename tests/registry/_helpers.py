"""Comparable views of registry values, a full dump of a registry, paging, the clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from trackstore.exceptions import TrackstoreError

IS_PROMPT = "mlflow.prompt.is_prompt"
PROMPT_FILTER = f"tags.`{IS_PROMPT}` = 'true'"
#: The source of a prompt's versions (MLflow's server refuses any other for a prompt).
PROMPT_SOURCE = "prompt-template"

MV_FIELDS = ("name", "version", "creation_timestamp", "last_updated_timestamp", "description",
             "user_id", "current_stage", "source", "run_id", "status", "status_message", "tags",
             "run_link", "aliases", "model_id")
RM_FIELDS = ("name", "creation_timestamp", "last_updated_timestamp", "description",
             "latest_versions", "tags", "aliases", "deployment_job_id", "deployment_job_state")


def mv_view(mv: Any) -> dict[str, Any]:
    """Every field of a model version, as plain values (aliases sorted: they have no order)."""
    view = {name: getattr(mv, name) for name in MV_FIELDS}
    view["tags"] = dict(view["tags"])
    view["aliases"] = sorted(view["aliases"])
    return view


def rm_view(rm: Any) -> dict[str, Any]:
    """Every field of a registered model (latest versions in version order)."""
    view = {name: getattr(rm, name) for name in RM_FIELDS}
    view["tags"] = dict(view["tags"])
    view["aliases"] = dict(view["aliases"])
    view["latest_versions"] = sorted((mv_view(mv) for mv in view["latest_versions"]),
                                     key=lambda v: int(v["version"]))
    return view


def mv_expected(name: str, version: str, created: int, updated: int | None = None,
                **fields: Any) -> dict[str, Any]:
    """The view of a model version with MLflow's defaults for whatever *fields* omits."""
    view: dict[str, Any] = {
        "name": name, "version": version, "creation_timestamp": created,
        "last_updated_timestamp": created if updated is None else updated,
        "description": None, "user_id": None, "current_stage": "None", "source": None,
        "run_id": None, "status": "READY", "status_message": None, "tags": {},
        "run_link": None, "aliases": [], "model_id": None}
    unknown = set(fields) - set(view)
    assert not unknown, unknown
    view.update(fields)
    view["aliases"] = sorted(view["aliases"])
    return view


def rm_expected(name: str, created: int, updated: int | None = None,
                **fields: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": name, "creation_timestamp": created,
        "last_updated_timestamp": created if updated is None else updated,
        "description": None, "latest_versions": [], "tags": {}, "aliases": {},
        "deployment_job_id": None, "deployment_job_state": None}
    unknown = set(fields) - set(view)
    assert not unknown, unknown
    view.update(fields)
    view["latest_versions"] = sorted(view["latest_versions"], key=lambda v: int(v["version"]))
    return view


# -- errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prefix:
    """An expected message known only by its beginning (MLflow prints a ``set`` after it, in
    an order that changes from one process to the next, or a database's own words)."""

    text: str


Message = str | Prefix


def message_matches(actual: str, expected: Message) -> bool:
    if isinstance(expected, Prefix):
        return actual.startswith(expected.text)
    return actual == expected


def error_of(call: Callable[[], Any]) -> TrackstoreError:
    with pytest.raises(TrackstoreError) as e:
        call()
    return e.value


def assert_error(call: Callable[[], Any], code: str, message: Message) -> None:
    exc = error_of(call)
    assert exc.error_code == code and message_matches(exc.message, message), (
        f"expected {code}: {message!r}\n     got {exc.error_code}: {exc.message!r}")


def check_error(call: Callable[[], Any], code: str, message: Message) -> str | None:
    """What is wrong with the error *call* raises (``None`` when it is the expected one)."""
    try:
        result = call()
    except TrackstoreError as exc:
        if exc.error_code == code and message_matches(exc.message, message):
            return None
        return f"raised {exc.error_code}: {exc.message!r}; expected {code}: {message!r}"
    except Exception as exc:  # a crash is a finding too; report it with the others
        return f"raised {type(exc).__name__}: {exc}; expected {code}: {message!r}"
    return f"returned {result!r}; expected {code}: {message!r}"


# -- the whole registry ---------------------------------------------------------------------


def all_pages(search: Callable[..., Any], page_size: int, **kwargs: Any) -> list[Any]:
    """Every result of *search*, page after page."""
    found: list[Any] = []
    token = None
    for _ in range(10_000):
        page = search(max_results=page_size, page_token=token, **kwargs)
        found.extend(page)
        token = page.token
        if not token:
            return found
    raise AssertionError("paging does not end")


def quoted(value: str) -> str:
    """*value* as a string literal of a search filter (which has no escapes)."""
    quote = '"' if "'" in value else "'"
    assert quote not in value, value
    return f"{quote}{value}{quote}"


def dump(registry: Any) -> dict[str, Any]:
    """Everything the registry holds that its API shows: each registered model as
    ``get_registered_model`` returns it, prompts included, with each of its versions as
    ``get_model_version`` returns it. Two dumps are equal when no call changed anything."""
    models = [*all_pages(registry.search_registered_models, 1000),
              *all_pages(registry.search_registered_models, 1000, filter_string=PROMPT_FILTER)]
    state: dict[str, Any] = {}
    for model in models:
        name = model.name
        by_name = f"name = {quoted(name)}"
        versions = [*all_pages(registry.search_model_versions, 10_000, filter_string=by_name),
                    *all_pages(registry.search_model_versions, 10_000,
                               filter_string=f"{by_name} AND {PROMPT_FILTER}")]
        numbers = sorted({int(mv.version) for mv in versions})
        state[name] = {
            "model": rm_view(registry.get_registered_model(name)),
            "versions": [mv_view(registry.get_model_version(name, str(n))) for n in numbers],
        }
    return state


# -- time ------------------------------------------------------------------------------------


def now_ms() -> int:
    return int(time.time() * 1000)


def tick() -> int:
    """Wait until the millisecond clock has moved on; returns the new time. Call it before an
    operation whose timestamps must differ from the ones before it."""
    start = now_ms()
    while now_ms() <= start + 1:
        time.sleep(0.001)
    return now_ms()


class Window:
    """The times around one call: ``with Window() as w: ...; assert w.holds(timestamp)``."""

    def __enter__(self) -> Window:
        self.start = tick()
        return self

    def __exit__(self, *exc: object) -> None:
        self.end = now_ms()

    def holds(self, timestamp: int | None) -> bool:
        return timestamp is not None and self.start <= timestamp <= self.end


def names(items: Iterable[Any]) -> list[str]:
    return [item.name for item in items]


def sort_views(views: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """*views* ordered by *keys* (field, ascending), the first key the most significant."""
    ordered = list(views)
    for field, ascending in reversed(keys):
        if field == "version":
            ordered.sort(key=lambda v: int(v["version"]), reverse=not ascending)
        else:
            ordered.sort(key=lambda v, f=field: v[f], reverse=not ascending)  # type: ignore[misc]
    return ordered
