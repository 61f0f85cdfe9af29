"""Offset page tokens and ``max_results`` limits."""

from __future__ import annotations

import base64

import pytest

from trackstore.exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from trackstore.search import (
    SEARCH_MAX_RESULTS_THRESHOLD,
    create_page_token,
    paginate,
    parse_page_token,
    validate_experiment_max_results,
    validate_run_max_results,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_token_format_is_mlflows() -> None:
    assert create_page_token(1) == "eyJvZmZzZXQiOiAxfQ=="
    assert base64.b64decode(create_page_token(250)) == b'{"offset": 250}'


@pytest.mark.parametrize("offset", [1, 2, 999, 50000, 10**12])
def test_round_trip(offset: int) -> None:
    token = create_page_token(offset)
    assert parse_page_token(token) == offset
    assert parse_page_token(token.encode()) == offset  # MLflow's stores hand out bytes


def test_no_token_means_the_start() -> None:
    assert parse_page_token(None) == 0
    assert parse_page_token("") == 0


@pytest.mark.parametrize(("token", "message"), [
    ("x", "Invalid page token, could not base64-decode"),
    ("abc", "Invalid page token, could not base64-decode"),
    ("é", "Invalid page token, could not base64-decode"),
    (b64("not json"), "Invalid page token, decoded value=b'not json'"),
    (b64('{"offset": 0}'), "Invalid page token, parsed value={'offset': 0}"),  # as MLflow
    (b64("{}"), "Invalid page token, parsed value={}"),
    (b64('{"offset": null}'), "Invalid page token, parsed value={'offset': None}"),
    (b64("[1]"), "Invalid page token, parsed value=[1]"),
    (b64("7"), "Invalid page token, parsed value=7"),
    (b64('{"offset": "x"}'), "Invalid page token, not stringable x"),
    (b64('{"offset": [1]}'), "Invalid page token, not stringable [1]"),
    (b64('{"offset": Infinity}'), "Invalid page token, not stringable inf"),
    (b64('{"offset": -3}'), "Invalid page token, parsed value={'offset': -3}"),
])
def test_invalid_tokens(token: str, message: str) -> None:
    with pytest.raises(TrackstoreError) as info:
        parse_page_token(token)
    assert info.value.message == message
    assert info.value.error_code == INVALID_PARAMETER_VALUE


def test_lenient_offsets_like_mlflow() -> None:
    assert parse_page_token(b64('{"offset": "5"}')) == 5
    assert parse_page_token(b64('{"offset": 2.7}')) == 2


def test_paginate() -> None:
    items = list(range(10))
    assert paginate(items, None, 4) == ([0, 1, 2, 3], create_page_token(4))
    assert paginate(items, create_page_token(4), 4) == ([4, 5, 6, 7], create_page_token(8))
    assert paginate(items, create_page_token(8), 4) == ([8, 9], None)  # last page: no token
    assert paginate(items, create_page_token(6), 4) == ([6, 7, 8, 9], None)
    assert paginate(items, create_page_token(20), 4) == ([], None)
    assert paginate(items, None, 10) == (items, None)
    assert paginate(items, create_page_token(3), None) == (items[3:], None)
    assert paginate([], None, 5) == ([], None)


def test_run_max_results() -> None:
    validate_run_max_results(None)
    validate_run_max_results(1)
    validate_run_max_results(SEARCH_MAX_RESULTS_THRESHOLD)
    with pytest.raises(TrackstoreError) as info:
        validate_run_max_results(50001)
    assert info.value.message == ("Invalid value for request parameter max_results. It must be "
                                  "at most 50000, but got value 50001")
    with pytest.raises(TrackstoreError) as info:
        validate_run_max_results(0)
    assert info.value.message == ("Invalid value 0 for parameter 'max_results' supplied. It must "
                                  "be a positive integer")


@pytest.mark.parametrize(("value", "message"), [
    (0, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"),
    (-1, "Invalid value -1 for parameter 'max_results' supplied. It must be a positive integer"),
    ("5", "Invalid value 5 for parameter 'max_results' supplied. It must be a positive integer"),
    (None,
     "Invalid value None for parameter 'max_results' supplied. It must be a positive integer"),
    (50001, "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000"),
])
def test_experiment_max_results(value: object, message: str) -> None:
    validate_experiment_max_results(1)
    validate_experiment_max_results(50000)
    with pytest.raises(TrackstoreError) as info:
        validate_experiment_max_results(value)
    assert info.value.message == message
