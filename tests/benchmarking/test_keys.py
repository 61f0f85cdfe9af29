"""The metric-key mapping: valid keys, one name per key, names shown back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackstore.benchmarking import keys
from trackstore.exceptions import TrackstoreError
from trackstore.validation import MAX_ENTITY_KEY_LENGTH, validate_key


def assert_valid(key: str) -> None:
    validate_key(key, "key", "Metric")  # raises if MLflow would refuse it
    assert len(key) <= MAX_ENTITY_KEY_LENGTH


def shown(fullname: str) -> str:
    """The name a reader of the run gets back from the key segment and the run's tags."""
    segment = keys.benchmark_segment(fullname)
    names = keys.names_from_tags(keys.name_tags([fullname]))
    return keys.display_name(segment, names)


@pytest.mark.parametrize(("fullname", "segment"), [
    ("benches/bench_x.py::test_y[param-1]", "benches/bench_x.py::test_y/param-1"),
    ("benches/bench_x.py::test_y", "benches/bench_x.py::test_y"),
    ("tests/test_a.py::TestClass::test_m[sqlite-trackstore]",
     "tests/test_a.py::TestClass::test_m/sqlite-trackstore"),
    ("a.py::t[x/y]", "a.py::t/x/y"),  # a "/" in the id decodes: the test name holds none
    ("a.py::t[1.5-a b:c]", "a.py::t/1.5-a b:c"),
    ("a.py::t[ü]", "a.py::t/ü"),
])
def test_readable_names_keep_their_form(fullname: str, segment: str) -> None:
    assert keys.benchmark_segment(fullname) == segment
    assert keys.name_tags([fullname]) == {}  # nothing to store: the key says it all
    assert shown(fullname) == fullname
    for stat in keys.STATS:
        key = keys.metric_key(fullname, stat)
        assert key == f"{segment}/{stat}"
        assert_valid(key)
        assert keys.split_metric_key(key) == (segment, stat)


@pytest.mark.parametrize("fullname", [
    "a.py::t[a[1]]",  # brackets are not allowed in keys
    "a.py::t[x=1,y=2]",
    "a.py::t[]",  # an empty path segment
    "a.py::t[.]", "a.py::t[..]", "a.py::t[a//b]",  # segments a path would normalise away
    "../outside/test_a.py::t[1]",  # a key may not start with ".."
    "/abs/test_a.py::t",  # nor with "/"
    "a.py::t[sha-0123456789]",  # would read as a hashed name
    "a.py::t[tab\there]",
    "a.py::t[x\n]", "a.py::t\n",  # a trailing newline passes MLflow's pattern on its own
    "a.py::t/x",  # a name that the readable form would decode as "a.py::t[x]"
    "a.py::t[" + "x" * 300 + "]",  # too long
    "d/" * 150 + "test_long.py::test[" + "p" * 120 + "]",
])
def test_other_names_are_hashed_and_kept_in_a_tag(fullname: str) -> None:
    segment = keys.benchmark_segment(fullname)
    assert len(segment) <= keys.BENCHMARK_SEGMENT_MAX
    assert segment.endswith("-" + keys.name_hash(fullname))
    assert keys.name_tags([fullname]) == {
        f"trackstore.benchmark.name.{keys.name_hash(fullname)}": fullname}
    assert shown(fullname) == fullname
    for stat in keys.STATS:
        key = keys.metric_key(fullname, stat)
        assert_valid(key)
        assert keys.split_metric_key(key) == (segment, stat)


def test_the_documented_examples() -> None:
    # docs/benchmarking.md shows these keys; the hash is part of the format (stable).
    assert keys.metric_key("benches/bench_x.py::test_y[a[1]]", "median") == \
        "benches/bench_x.py::test_y/a_1_-1b200a481e/median"
    assert keys.metric_key("tests/test_a.py::TestIO::test_read[sqlite-1000]", "median") == \
        "tests/test_a.py::TestIO::test_read/sqlite-1000/median"


def test_hashed_names_read_as_is_without_their_tag() -> None:
    segment = keys.benchmark_segment("a.py::t[a[1]]")
    assert keys.display_name(segment, {}) == segment


def test_the_longest_keys_fit_mlflow_limit() -> None:
    fullname = "x" * 1000
    longest_extra = "e" * 1000
    assert_valid(keys.extra_metric_key(fullname, longest_extra))
    assert_valid(keys.metric_key(fullname, "stddev_outliers"))


@pytest.mark.parametrize(("name", "segment"), [
    ("points", "extra.points"), ("points per call", "extra.points per call"),
])
def test_extra_info_names(name: str, segment: str) -> None:
    assert keys.extra_segment(name) == segment
    key = keys.extra_metric_key("a.py::t[1]", name)
    assert key == f"a.py::t/1/{segment}"
    assert keys.split_metric_key(key) == ("a.py::t/1", segment)
    assert keys.display_name(segment, {}) == name


@pytest.mark.parametrize("name", ["a/b", "bytes[0]", "", "n" * 41, "x-0123456789", "n\n"])
def test_other_extra_info_names_are_hashed(name: str) -> None:
    segment = keys.extra_segment(name)
    assert "/" not in segment and segment.startswith("extra.")
    assert_valid(f"a.py::t/{segment}")
    tags = keys.name_tags([], [name])
    assert tags == {f"trackstore.benchmark.name.{keys.name_hash(name)}": name}
    assert keys.display_name(segment, keys.names_from_tags(tags)) == name


def test_unknown_statistic() -> None:
    with pytest.raises(ValueError, match="not a pytest-benchmark statistic"):
        keys.metric_key("a.py::t", "p99")


@pytest.mark.parametrize("key", [
    "train/loss", "loss", "a.py::t/p99", "a.py::t", "nested/median",
])
def test_other_metrics_are_not_benchmark_statistics(key: str) -> None:
    assert keys.split_metric_key(key) is None


# pytest node ids: a path, "::"-separated names, maybe a bracketed parameter id of anything.
_paths = st.lists(st.text(min_size=1, max_size=12).filter(lambda s: "::" not in s),
                  min_size=1, max_size=4).map("/".join)
_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
_params = st.one_of(st.none(), st.text(max_size=60))
node_ids = st.builds(
    lambda path, classes, name, param: "::".join([path, *classes, name])
    + ("" if param is None else f"[{param}]"),
    _paths, st.lists(_names, max_size=2), _names, _params)


@given(st.lists(st.one_of(node_ids, st.text(max_size=300)), min_size=2, max_size=6,
                unique=True))
def test_keys_are_valid_and_collision_free(fullnames: list[str]) -> None:
    segments = [keys.benchmark_segment(name) for name in fullnames]
    assert len(set(segments)) == len(fullnames)
    names = keys.names_from_tags(keys.name_tags(fullnames))
    for fullname, segment in zip(fullnames, segments, strict=True):
        assert keys.display_name(segment, names) == fullname
        key = keys.metric_key(fullname, "median")
        try:
            assert_valid(key)
        except TrackstoreError as exc:  # say which name made which key
            pytest.fail(f"{fullname!r} -> invalid key {key!r}: {exc.message}")
        assert keys.split_metric_key(key) == (segment, "median") or (
            "::" not in segment and keys.split_metric_key(key) is None)


@given(st.lists(st.text(max_size=80), min_size=2, max_size=6, unique=True))
def test_extra_keys_are_valid_and_collision_free(names: list[str]) -> None:
    segments = [keys.extra_segment(name) for name in names]
    assert len(set(segments)) == len(names)
    shown_names = keys.names_from_tags(keys.name_tags([], names))
    for name, segment in zip(names, segments, strict=True):
        assert_valid(f"a.py::t/{segment}")
        assert keys.display_name(segment, shown_names) == name
