"""The model registry's value objects, stages and input checks: MLflow's names and messages.

Registered models and their versions live in database-backed stores only (``sqlite:``,
``postgresql:``, ``mysql:``, ``mssql:``, or a tracking server in front of one); see
:class:`trackstore.store.base.AbstractStore` for the calls and
:func:`registry_unsupported` for what a file store answers.

Versions are strings here, as they are in MLflow's JSON and in what its REST client returns
(``"1"``); every call accepts an ``int`` or a numeric string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .exceptions import FEATURE_DISABLED, INVALID_PARAMETER_VALUE, TrackstoreError
from .validation import _name_problem, invalid_value, missing_value, validate_key

STAGE_NONE = "None"
STAGE_STAGING = "Staging"
STAGE_PRODUCTION = "Production"
STAGE_ARCHIVED = "Archived"
#: What a deleted version's row says (MLflow keeps the row, redacted, so numbers are never
#: handed out twice); never returned by a read.
STAGE_DELETED_INTERNAL = "Deleted_Internal"
ALL_STAGES = (STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED)
#: The stages ``archive_existing_versions`` may be used with.
ACTIVE_STAGES = (STAGE_STAGING, STAGE_PRODUCTION)
_CANONICAL = {stage.lower(): stage for stage in ALL_STAGES}

#: ``ModelVersionStatus`` (the proto enum): versions are created READY.
PENDING_REGISTRATION, FAILED_REGISTRATION, READY = "PENDING_REGISTRATION", "FAILED_REGISTRATION", \
    "READY"
MODEL_VERSION_STATUSES = (PENDING_REGISTRATION, FAILED_REGISTRATION, READY)

#: Tag MLflow puts on registered models that are prompts: searches leave them out unless the
#: filter asks for them.
IS_PROMPT_TAG = "mlflow.prompt.is_prompt"

SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000

MAX_MODEL_NAME_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 5000
MAX_REGISTRY_TAG_KEY_LENGTH = 250
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_SOURCE_LENGTH = 500
MAX_RUN_LINK_LENGTH = 500

_ALIAS_RE = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")
LATEST_ALIAS = "latest"


@dataclass(slots=True)
class RegisteredModelTag:
    key: str
    value: str


@dataclass(slots=True)
class ModelVersionTag:
    key: str
    value: str


@dataclass(slots=True)
class RegisteredModelAlias:
    alias: str
    version: str


@dataclass(slots=True)
class ModelVersion:
    """One version of a registered model. ``tags`` is a dict, ``aliases`` a list of names."""

    name: str
    version: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    user_id: str | None = None
    current_stage: str = STAGE_NONE
    source: str | None = None
    run_id: str | None = None
    status: str = READY
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_link: str | None = None
    aliases: list[str] = field(default_factory=list)
    model_id: str | None = None

    def to_dictionary(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(slots=True)
class RegisteredModel:
    """A registered model: ``latest_versions`` holds the latest version of each stage,
    ``tags`` is a dict, ``aliases`` maps an alias to its version."""

    name: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    deployment_job_id: str | None = None
    deployment_job_state: str | None = None

    def to_dictionary(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _bad(message: str) -> TrackstoreError:
    return TrackstoreError(message, INVALID_PARAMETER_VALUE)


def registry_unsupported() -> TrackstoreError:
    """What a store without a model registry (an ``mlruns`` directory) answers. The message
    names no path: a server sends it to remote clients."""
    return TrackstoreError(
        "The model registry needs a database-backed store, and this tracking store is a file "
        "store (an mlruns directory). Use a database: a tracking URI such as "
        "sqlite:///mlflow.db, or a tracking server started on one (trackstore server "
        "--backend-store-uri sqlite:///mlflow.db). An existing mlruns tree can be copied into "
        "a database with: trackstore import <mlruns> sqlite:///mlflow.db",
        FEATURE_DISABLED)


def canonical_stage(stage: Any) -> str:
    """``stage`` with MLflow's spelling (matched case-insensitively)."""
    key = stage.lower() if isinstance(stage, str) else None
    if key not in _CANONICAL:
        raise _bad(f"Invalid Model Version stage: {stage}. Value must be one of "
                   f"{', '.join(ALL_STAGES)}.")
    return _CANONICAL[key]


def validate_model_name(name: Any, path: str = "name") -> str:
    if name is None or (isinstance(name, str) and name.strip() == ""):
        raise _bad(missing_value(path))
    if not isinstance(name, str):
        raise _bad(invalid_value(path, name, "Names must be strings."))
    if "/" in name or ":" in name:
        raise _bad(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    problem = _name_problem(name)
    if problem is not None and not problem.startswith("Names may only"):
        raise _bad(invalid_value(path, name, problem))
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise _bad(f"Model name '{name[:40]}...' is {len(name)} characters long; the maximum is "
                   f"{MAX_MODEL_NAME_LENGTH}.")
    return name


def validate_version(version: Any) -> int:
    """A version number from an ``int`` or a numeric string (MLflow's message otherwise)."""
    if isinstance(version, bool):
        version = str(version)
    if isinstance(version, int):
        return version
    try:
        return int(version)
    except (TypeError, ValueError):
        raise _bad(f"Parameter 'version' must be an integer, got '{version}'.") from None


def validate_alias(alias: Any, *, setting: bool = False) -> str:
    """An alias name; ``setting`` also refuses the reserved ``latest`` and ``v<digits>``."""
    if alias is None or alias == "":
        raise _bad("Registered model alias name cannot be empty.")
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise _bad(f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
                   "underscores (_), and dashes (-).")
    _limited("Registered model alias name", MAX_ALIAS_LENGTH, alias)
    if setting:
        if alias.lower() == LATEST_ALIAS:
            raise _bad("'latest' alias name (case insensitive) is reserved.")
        if _VERSION_ALIAS_RE.match(alias):
            raise _bad(f"Version alias name '{alias}' is reserved.")
    return alias


def _limited(what: str, limit: int, value: str) -> str:
    if len(value) > limit:
        raise _bad(f"'{what}' exceeds the maximum length of {limit} characters")
    return value


def validate_registry_tag(key: Any, value: Any) -> tuple[str, str]:
    """A registered model or model version tag (values are stored as strings)."""
    validate_key(key, "key", "Tag")
    _limited("key", MAX_REGISTRY_TAG_KEY_LENGTH, key)
    text = "" if value is None else str(value)
    _limited("value", MAX_REGISTRY_TAG_VALUE_LENGTH, text)
    return key, text


def validate_description(description: Any) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str):
        raise _bad(invalid_value("description", description, "Descriptions must be strings."))
    return _limited("description", MAX_DESCRIPTION_LENGTH, description)
