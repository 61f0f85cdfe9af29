"""One exception family with MLflow's error codes, so every layer maps errors in one place.

The codes are the names MLflow puts on the wire (``databricks.proto``); :data:`HTTP_STATUS`
is MLflow's mapping from code to HTTP status, used by the server and the REST client.
"""

from __future__ import annotations

import json
from typing import Any

INTERNAL_ERROR = "INTERNAL_ERROR"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
BAD_REQUEST = "BAD_REQUEST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
MALFORMED_REQUEST = "MALFORMED_REQUEST"
INVALID_STATE = "INVALID_STATE"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
ABORTED = "ABORTED"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
DATA_LOSS = "DATA_LOSS"
FEATURE_DISABLED = "FEATURE_DISABLED"

#: MLflow's ``ERROR_CODE_TO_HTTP_STATUS``; anything absent is a 500.
HTTP_STATUS: dict[str, int] = {
    INVALID_PARAMETER_VALUE: 400,
    BAD_REQUEST: 400,
    MALFORMED_REQUEST: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    PERMISSION_DENIED: 403,
    UNAUTHENTICATED: 401,
    REQUEST_LIMIT_EXCEEDED: 429,
    RESOURCE_EXHAUSTED: 429,
    ABORTED: 409,
    INTERNAL_ERROR: 500,
    INVALID_STATE: 500,
    DATA_LOSS: 500,
    NOT_IMPLEMENTED: 501,
    # Not in MLflow's map (a 500 there): a store without the feature (the model registry on
    # an mlruns directory) is not a server fault to retry.
    FEATURE_DISABLED: 501,
    TEMPORARILY_UNAVAILABLE: 503,
    DEADLINE_EXCEEDED: 504,
}


class TrackstoreError(Exception):
    """An error with an MLflow-style ``error_code`` (default ``INTERNAL_ERROR``)."""

    def __init__(self, message: str, error_code: str = INTERNAL_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.error_code, 500)

    def to_dict(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message}

    def serialize_as_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def invalid_parameter_value(cls, message: str) -> TrackstoreError:
        return cls(message, INVALID_PARAMETER_VALUE)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.error_code))


_UNAVAILABLE = frozenset({"OperationalError", "DisconnectionError", "TimeoutError"})


def database_unavailable(exc: BaseException) -> bool:
    """Whether *exc* says the database is down, locked or unreachable (retrying may help).

    SQLAlchemy's errors and every DBAPI driver's (sqlite3, psycopg2, PyMySQL) share these
    class names, so no driver needs importing to tell.
    """
    return any(cls.__name__ in _UNAVAILABLE for cls in type(exc).__mro__)


class MalformedYamlError(TrackstoreError):
    """A ``meta.yaml`` document that cannot be loaded.

    ``str(error)`` is the same whichever twin of ``yamlio`` raised it; ``detail`` carries the
    parser's own diagnosis (position, problem), which may differ between LibYAML and the pure
    Python reader.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message, INTERNAL_ERROR)
        self.detail = detail

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.detail))
