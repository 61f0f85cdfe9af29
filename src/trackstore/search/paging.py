"""Offset page tokens and ``max_results`` limits, as MLflow's search APIs use them.

A token is ``base64(json.dumps({"offset": N}))``: offset 1 is ``eyJvZmZzZXQiOiAxfQ==``. The
last page has no token. Tokens are returned as ``str`` (MLflow's stores return ``bytes`` from
their in-memory paths and ``str`` over REST); both are accepted.

Deviations from MLflow 3.17, where it crashes or misbehaves instead of rejecting the input:

* a token that is not ASCII, or whose JSON is not an object, or is nested too deeply, is
  rejected with the matching "Invalid page token" message (MLflow raises ValueError /
  AttributeError / RecursionError);
* an offset that ``int()`` cannot take (a list, ``Infinity``) gets "not stringable" (MLflow
  raises TypeError / OverflowError); a negative offset is rejected with "parsed value=..."
  (MLflow slices from the end of the list);
* ``max_results < 1`` for runs is rejected with the SQL store's message (the FileStore returns
  an empty page and a token for offset 0, which it then refuses to accept).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from trackstore.exceptions import INVALID_PARAMETER_VALUE, TrackstoreError

T = TypeVar("T")

SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_THRESHOLD = 50000


def _invalid(message: str) -> TrackstoreError:
    return TrackstoreError(message, INVALID_PARAMETER_VALUE)


#: The largest offset a token may carry: a signed 64-bit integer, what SQL binds.
_MAX_OFFSET = 2**63 - 1


def create_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def parse_page_token(page_token: str | bytes | None) -> int:
    """The start offset a token encodes; no token means 0. Offset 0 is refused, like MLflow."""
    if not page_token:
        return 0
    try:
        decoded = base64.b64decode(page_token)
    except (TypeError, ValueError):
        raise _invalid("Invalid page token, could not base64-decode") from None
    try:
        parsed: Any = json.loads(decoded)
    except (ValueError, RecursionError):
        raise _invalid(f"Invalid page token, decoded value={decoded!r}") from None
    offset_value = parsed.get("offset") if isinstance(parsed, dict) else None
    if not offset_value:
        raise _invalid(f"Invalid page token, parsed value={parsed}")
    try:
        offset = int(offset_value)
    except (TypeError, ValueError, OverflowError):
        raise _invalid(f"Invalid page token, not stringable {offset_value}") from None
    if offset < 0 or offset > _MAX_OFFSET:  # (past int64, no database can bind it)
        raise _invalid(f"Invalid page token, parsed value={parsed}")
    return offset


def paginate(
    items: Sequence[T], page_token: str | bytes | None, max_results: int | None
) -> tuple[list[T], str | None]:
    """The page of *items* a token asks for, and the token of the next page (if any)."""
    start = parse_page_token(page_token)
    if max_results is None:
        return list(items[start:]), None
    end = start + max_results
    return list(items[start:end]), create_page_token(end) if end < len(items) else None


def validate_run_max_results(max_results: int | None) -> None:
    """``search_runs``: at most 50000 (FileStore's message); ``None`` means no limit."""
    if max_results is None:
        return
    if max_results > SEARCH_MAX_RESULTS_THRESHOLD:
        raise _invalid("Invalid value for request parameter max_results. It must be at most "
                       f"{SEARCH_MAX_RESULTS_THRESHOLD}, but got value {max_results}")
    if max_results < 1:
        raise _invalid(f"Invalid value {max_results} for parameter 'max_results' supplied. It "
                       "must be a positive integer")


def validate_experiment_max_results(max_results: object) -> None:
    """``search_experiments``: an int in 1..50000, with MLflow's messages."""
    if not isinstance(max_results, int) or max_results < 1:
        raise _invalid(f"Invalid value {max_results} for parameter 'max_results' supplied. It "
                       "must be a positive integer")
    if max_results > SEARCH_MAX_RESULTS_THRESHOLD:
        raise _invalid(f"Invalid value {max_results} for parameter 'max_results' supplied. It "
                       f"must be at most {SEARCH_MAX_RESULTS_THRESHOLD}")
