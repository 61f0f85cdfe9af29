"""Metric keys for benchmark statistics, and the names they stand for.

A benchmark's statistic is stored as the metric ``<benchmark>/<statistic>``:

``<benchmark>``
    The benchmark's pytest node id (pytest-benchmark's ``fullname``), with the parameter id
    moved out of its brackets into a path segment of its own:
    ``benches/bench_x.py::test_y[param-1]`` → ``benches/bench_x.py::test_y/param-1``.
    That *readable* form is used when it decodes back to the very same name (see
    :func:`decode_benchmark`), is a valid metric key (only letters, digits, ``_ - . : /``
    and spaces; no empty, ``.`` or ``..`` path segment), is at most
    :data:`BENCHMARK_SEGMENT_MAX` characters long and does not end like a hashed name.
    Otherwise the *hashed* form is used: the readable form with every character a key may not
    hold replaced by ``_``, cut to fit, then ``-`` and the first :data:`HASH_LENGTH` hex digits
    of the SHA-256 of the full name (``..._a_1_-3f2a9c1b7e``). The run keeps the name in the
    tag ``trackstore.benchmark.name.<those digits>``.

``<statistic>``
    One of :data:`STATS` (pytest-benchmark's statistics, in seconds but ``ops``, ``rounds``,
    ``iterations`` and the outlier counts), or ``extra.<name>`` for a numeric ``extra_info``
    value, where ``<name>`` follows the same readable-or-hashed rule without ``/``, at most
    :data:`EXTRA_NAME_MAX` characters.

The rule is deterministic (the same benchmark gets the same key in every run, which is what
``trackstore compare`` matches on) and collision-free: a readable key decodes to one name
only, a hashed key never looks like a readable one, and two hashed keys collide only if two
names share the first 40 bits of their SHA-256 (the recorder checks each run for that).
The longest key is 200 + 1 + 6 + 40 = 247 characters, under MLflow's 250.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from ..exceptions import TrackstoreError
from ..validation import MAX_ENTITY_KEY_LENGTH, validate_key

#: pytest-benchmark's numeric statistics, in the order it lists them (``outliers``, a
#: ``"a;b"`` string, is stored as its two counts).
STATS: tuple[str, ...] = (
    "min", "max", "mean", "stddev", "rounds", "median", "iqr", "q1", "q3", "iqr_outliers",
    "stddev_outliers", "ld15iqr", "hd15iqr", "ops", "total", "iterations",
)
#: Statistics measured in seconds.
TIME_STATS = frozenset({"min", "max", "mean", "stddev", "median", "iqr", "q1", "q3",
                        "ld15iqr", "hd15iqr", "total"})
#: Statistics that get better as they grow (everything timed gets better as it shrinks).
HIGHER_IS_BETTER = frozenset({"ops"})
#: What ``trackstore compare`` can judge: a time, or operations per second.
COMPARABLE_STATS: tuple[str, ...] = ("min", "max", "mean", "median", "q1", "q3", "ld15iqr",
                                     "hd15iqr", "ops")

EXTRA_PREFIX = "extra."
NAME_TAG_PREFIX = "trackstore.benchmark.name."
#: A run recorded by the pytest plugin carries this tag (the version of this key format).
FORMAT_TAG = "trackstore.benchmark.format"
FORMAT_VERSION = "1"

BENCHMARK_SEGMENT_MAX = 200
EXTRA_NAME_MAX = 40
HASH_LENGTH = 10

_HASHED = re.compile(rf"-[0-9a-f]{{{HASH_LENGTH}}}$")
_NOT_IN_KEYS = re.compile(r"[^\w.\- :/]")
_STAT_SEGMENT = re.compile(r"^(?:" + "|".join(STATS) + r"|extra\..+)$")

assert BENCHMARK_SEGMENT_MAX + 1 + len(EXTRA_PREFIX) + EXTRA_NAME_MAX <= MAX_ENTITY_KEY_LENGTH


def name_hash(name: str) -> str:
    """The digits a hashed segment ends with, and its name tag's suffix."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def _valid_segment(segment: str) -> bool:
    """Whether *segment* can start a metric key, by trackstore's (MLflow's) own rule applied
    to ``<segment>/x`` (alone, a trailing newline would pass its pattern's ``$``)."""
    try:
        validate_key(f"{segment}/x", "key", "Metric")
    except TrackstoreError:
        return False
    return True


def readable_benchmark(fullname: str) -> str:
    """``path::test[param]`` → ``path::test/param``; a name without a parameter is kept."""
    head, sep, rest = fullname.partition("::")
    bracket = rest.find("[")
    if not sep or bracket < 0 or not rest.endswith("]"):
        return fullname
    return f"{head}::{rest[:bracket]}/{rest[bracket + 1:-1]}"


def decode_benchmark(segment: str) -> str:
    """The name a readable segment stands for: the inverse of :func:`readable_benchmark`.

    The path before the first ``::`` and the test's name after it hold no ``/``, so the
    first ``/`` after the ``::`` starts the parameter id.
    """
    head, sep, rest = segment.partition("::")
    func, slash, param = rest.partition("/")
    if not sep or not slash:
        return segment
    return f"{head}::{func}[{param}]"


def _hashed(text: str, limit: int, name: str) -> str:
    """*text* with what keys may not hold replaced, cut to fit *limit* with the hash of
    *name* appended; always a valid key (or segment of one)."""
    parts = _NOT_IN_KEYS.sub("_", text).split("/")
    # Empty, "." and ".." segments would be normalised away (and a key may not start "..").
    parts = [part if part.strip(".") else "_" * max(1, len(part)) for part in parts]
    if parts[0].startswith(".."):
        parts[0] = "_" + parts[0][1:]
    suffix = f"-{name_hash(name)}"
    # The suffix makes the last segment neither empty nor "." nor "..", wherever the cut is.
    key = "/".join(parts)[:limit - len(suffix)] + suffix
    return key if _valid_segment(key) else f"benchmark{suffix}"


def benchmark_segment(fullname: str) -> str:
    """The key segment of a benchmark (its pytest node id): readable when that is exact."""
    readable = readable_benchmark(fullname)
    if (len(readable) <= BENCHMARK_SEGMENT_MAX and not _HASHED.search(readable)
            and decode_benchmark(readable) == fullname and _valid_segment(readable)):
        return readable
    return _hashed(readable, BENCHMARK_SEGMENT_MAX, fullname)


def extra_segment(name: str) -> str:
    """The statistic segment of a numeric ``extra_info`` value: ``extra.<name>``."""
    if (name and len(name) <= EXTRA_NAME_MAX and "/" not in name and not _HASHED.search(name)
            and _valid_segment(EXTRA_PREFIX + name)):
        return EXTRA_PREFIX + name
    return EXTRA_PREFIX + _hashed(name.replace("/", "_"), EXTRA_NAME_MAX, name)


def metric_key(fullname: str, stat: str) -> str:
    """The metric key of one of :data:`STATS` of the benchmark *fullname*."""
    if stat not in STATS:
        raise ValueError(f"not a pytest-benchmark statistic: {stat!r} (one of {STATS})")
    return f"{benchmark_segment(fullname)}/{stat}"


def extra_metric_key(fullname: str, name: str) -> str:
    """The metric key of the numeric ``extra_info[name]`` of the benchmark *fullname*."""
    return f"{benchmark_segment(fullname)}/{extra_segment(name)}"


def name_tags(benchmarks: Iterable[str], extras: Iterable[str] = ()) -> dict[str, str]:
    """The tags a run needs to show names back: one per benchmark name (pytest node id) and
    per ``extra_info`` name whose segment is hashed."""
    tags = {}
    for name in benchmarks:
        if benchmark_segment(name) != readable_benchmark(name):
            tags[NAME_TAG_PREFIX + name_hash(name)] = name
    for name in extras:
        if extra_segment(name) != EXTRA_PREFIX + name:
            tags[NAME_TAG_PREFIX + name_hash(name)] = name
    return tags


def split_metric_key(key: str) -> tuple[str, str] | None:
    """``(benchmark segment, statistic segment)`` of a benchmark metric key, else None.

    A benchmark segment holds ``::`` (a pytest node id) or ends with a name hash, and the
    statistic is one of :data:`STATS` or ``extra.<name>``: other metrics of a run are not
    benchmark statistics.
    """
    segment, slash, stat = key.rpartition("/")
    if not slash or not _STAT_SEGMENT.match(stat):
        return None
    if "::" not in segment and not _HASHED.search(segment):
        return None
    return segment, stat


def display_name(segment: str, names: Mapping[str, str]) -> str:
    """The original name of a key segment; *names* maps name hashes to names (the run's
    ``trackstore.benchmark.name.*`` tags, see :func:`names_from_tags`)."""
    if segment.startswith(EXTRA_PREFIX):
        rest = segment[len(EXTRA_PREFIX):]
        found = _HASHED.search(rest)
        return names.get(rest[found.start() + 1:], rest) if found else rest
    found = _HASHED.search(segment)
    if found:
        return names.get(segment[found.start() + 1:], segment)
    return decode_benchmark(segment)


def names_from_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Name hash → name, from a run's tags."""
    return {key[len(NAME_TAG_PREFIX):]: value for key, value in tags.items()
            if key.startswith(NAME_TAG_PREFIX)}
