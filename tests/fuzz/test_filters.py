"""Fuzzing the search grammars: run, experiment and registry filters and every ``order_by``.

Three kinds of input, each through all eight parsers (four filter grammars, four ``order_by``
grammars) and through real searches of a :class:`FileStore` and a :class:`SqlStore` on SQLite:

* raw text (any Unicode, and text over the grammar's own alphabet);
* near-valid strings: valid filters mutated (characters inserted, deleted and swapped; quotes,
  backticks, escapes, dotted keys, huge numbers, ``IN`` lists, long ``AND`` chains spliced in);
* long adversarial strings (100 KB of one token, 100,000 tokens, nesting, ``LIKE`` patterns
  that make a backtracking matcher exponential), each with a time bound.

The property: a result, or :class:`TrackstoreError` with ``INVALID_PARAMETER_VALUE``, never
another exception, within a time bound per input; and a filter the stores accept gives the same
runs from both (``tests/store/test_search_equivalence.py`` fuzzes that with generated runs and
well-formed filters; here the filters are the mutated ones).
"""

from __future__ import annotations

import functools
import shlex
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests._figures import record, scaled
from trackstore.entities import ExperimentTag, Metric, Param, RunTag, ViewType
from trackstore.exceptions import TrackstoreError
from trackstore.search import grammar, like_pattern
from trackstore.search.evaluate import _like_matcher
from trackstore.store.file import FileStore
from trackstore.store.sql import SqlStore

INVALID = "INVALID_PARAMETER_VALUE"
#: The most one parse of a short fuzzed input may take (generous: the machine is shared).
SHORT_SECONDS = 2.0
#: The most one parse of a long adversarial input (up to ~100 KB) may take.
LONG_SECONDS = 4.0

PARSERS: dict[str, Callable[[str], Any]] = {
    "run_filter": grammar.parse_run_filter,
    "experiment_filter": grammar.parse_experiment_filter,
    "registered_model_filter": grammar.parse_registered_model_filter,
    "model_version_filter": grammar.parse_model_version_filter,
    "run_order_by": lambda s: grammar.parse_run_order_by([s]),
    "experiment_order_by": lambda s: grammar.parse_experiment_order_by([s]),
    "registered_model_order_by": lambda s: grammar.parse_registered_model_order_by([s]),
    "model_version_order_by": lambda s: grammar.parse_model_version_order_by([s]),
}

VALID_FILTERS = [
    "metrics.acc > 0.5", "metrics.`my metric` <= -1e10", "params.lr = '0.01'",
    'params."p 1" != "x"', "tags.`mlflow.runName` LIKE 'run-%'", "tags.t ILIKE '%A_b%'",
    "attributes.status = 'FINISHED'", "run_name = 'a''b'", "attribute.run_id IN ('a', 'b')",
    "run_id NOT IN ('x')", "start_time >= 1700000000000", "created < 5", "end_time IS NULL",
    "tags.t IS NOT NULL", "datasets.name IN ('train', 'eval')", "datasets.context = 'training'",
    "metrics.a > 1 and params.b = 'c' AND tags.d != 'e'", "name = 'exp'", "tags.k = 'v'",
    "creation_time > 0", "last_update_time <= 99", "name LIKE 'm%'", "version_number >= 2",
    "run_id = 'abc'", "source_path = 'runs:/x/model'", "tag.`a.b` = 'c'",
    "metrics.x = 123456789012345678901234567890", "params.k = '\\'quoted\\''",
    "metrics.`a`.b > 1",
]
VALID_ORDER_BY = [
    "metrics.acc DESC", "params.`p 1` ASC", "tags.t", "start_time", "attribute.run_name DESC",
    "name", "last_update_time asc", "creation_time", "version_number DESC",
    "last_updated_timestamp", "timestamp DESC", "`metrics`.`a b`", '"params"."p"',
]
#: Pieces the mutator splices in: the grammar's operators, quotes, keywords and edge values.
FRAGMENTS = [
    "'", '"', "`", "\\", "\\'", "''", "``", "(", ")", "[", "]", ",", ".", ";", " ", "\t", "\n",
    "=", "!=", "<>", "<=", ">=", "==", "LIKE", "ILIKE", "NOT", "IN", "IS", "NULL", "AND", "OR",
    "ASC", "DESC", "metrics.", "params.", "tags.", "attributes.", "datasets.", "tag.", "run.",
    "1e999", "-1e999", "NaN", "Infinity", "9" * 40, "-0x1F", ".5", "1.", "0.0",
    "('a', 'b')", "()", "(1, 2)", "/*", "*/", "--", "# ", "%s", "?", ":x", "$1", "é", "\u0000",
    "\ud7ff", "\U0001f600", "\u202e", "\x85", " and metrics.a > 1", "a.b.c.d", "`a.b`",
]
ALPHABET = "abcmetrisparmtg.`'\"\\()[], =<>!%_;-+*/#?:$@éÉ0123456789\t\nNOTLIKEANDISUL"


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """A valid filter or ``order_by`` entry, mutated a few times."""
    text = draw(st.sampled_from(VALID_FILTERS + VALID_ORDER_BY))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["insert", "delete", "replace", "splice", "repeat"]))
        at = draw(st.integers(0, len(text)))
        if action == "insert":
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 4)):]
        elif action == "replace":
            text = text[:at] + draw(st.sampled_from(ALPHABET)) + text[at + 1:]
        elif action == "splice":
            text = text[:at] + " AND " + draw(st.sampled_from(VALID_FILTERS))
        else:
            text = " and ".join([text] * draw(st.integers(2, 60)))[:3000]
    return text


raw_text = st.one_of(st.text(max_size=60), st.text(alphabet=ALPHABET, max_size=60))
any_filter = st.one_of(near_valid(), near_valid(), raw_text)


def outcome(parse: Callable[[str], Any], text: str, limit: float) -> str:
    """``"ok"``, or the error code of the TrackstoreError; fails on anything else or when slow."""
    started = time.perf_counter()
    try:
        parse(text)
        result = "ok"
    except TrackstoreError as exc:
        result = exc.error_code
    seconds = time.perf_counter() - started
    assert seconds < limit, f"{seconds:.2f} s for {text[:200]!r} ({len(text)} chars)"
    return result


def test_every_parser_returns_or_rejects_fuzzed_text() -> None:
    tried = accepted = 0
    started = time.perf_counter()

    @settings(max_examples=scaled(400), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(text=any_filter)
    @example(text="metrics.a > 1 and " * 40 + "metrics.a > 1")
    @example(text="run_id IN ('a',)")
    @example(text="params.`a``b` = 'c'")
    def check(text: str) -> None:
        nonlocal tried, accepted
        tried += 1
        for name, parse in PARSERS.items():
            code = outcome(parse, text, SHORT_SECONDS)
            assert code in ("ok", INVALID), (name, text, code)
            accepted += code == "ok"

    check()
    assert accepted >= tried // 20, f"only {accepted} of {tried * len(PARSERS)} parses passed"
    record("fuzz", "search_grammar", inputs=tried, parsers=len(PARSERS), accepted=accepted,
           tool="hypothesis",
           seconds=round(time.perf_counter() - started, 1))


def _long_inputs() -> dict[str, str]:
    return {
        "one long word": "b" * 100_000,
        "one long backticked key": "metrics.`" + "k" * 100_000 + "` DESC",
        "one long string": "params.p = '" + "v" * 100_000 + "'",
        "dotted chain": "a." * 60_000,
        "long names in a dotted chain": ("n" * 200 + ".") * 480,
        "comma list": "a," * 60_000,
        "and chain": " and ".join(["metrics.m > 1"] * 2_000),
        "too many clauses": " and ".join(["metrics.m > 1"] * 10_000),
        "huge IN list": "run_id IN (" + ", ".join(["'r'"] * 4_000) + ")",
        "open parentheses": "(" * 50_000,
        "nested parentheses": "(" * 4_000 + "a" + ")" * 4_000,
        "open quotes": "'" * 100_001,
        "open backticks": "`" * 100_001,
        "escapes": "params.p = '" + "\\'" * 50_000 + "'",
        "huge integer": "metrics.m = " + "9" * 100_000,
        "huge exponent": "metrics.m = 1." + "9" * 100_000 + "e99999999999",
        "comments": "/* */ x " * 20_000,
        "white space": "metrics.m" + " " * 100_000 + "> 1",
        "many statements": "a;" * 100_000,
        "like with many wildcards": "tags.t LIKE '" + "%a" * 50_000 + "%b'",
    }


LONG_INPUTS = _long_inputs()


@pytest.mark.parametrize("name", sorted(LONG_INPUTS))
def test_long_adversarial_input_is_answered_in_bounded_time(name: str) -> None:
    text = LONG_INPUTS[name]
    started = time.perf_counter()
    for parser, parse in PARSERS.items():
        assert outcome(parse, text, LONG_SECONDS) in ("ok", INVALID), parser
    record("fuzz", "search_grammar_long", inputs=len(PARSERS), chars_max=len(text),
           tool="hand-written", seconds=round(time.perf_counter() - started, 1))


def test_more_tokens_than_sqlparse_allows_get_mlflows_message() -> None:
    """sqlparse (MLflow's parser) refuses a statement of more than 10,000 tokens."""
    at_limit = "a " * 4_999 + "a"  # 9,999 tokens: not refused for its length
    over = "a " * 5_000 + "a"  # 10,001 tokens
    with pytest.raises(TrackstoreError) as caught:
        grammar.parse_run_filter(at_limit)
    assert "Error on parsing" not in caught.value.message
    with pytest.raises(TrackstoreError) as caught:
        grammar.parse_run_filter(over)
    assert caught.value.message == f"Error on parsing filter '{over}'"
    assert caught.value.error_code == INVALID
    with pytest.raises(TrackstoreError) as caught:
        grammar.parse_run_order_by([over])
    assert caught.value.message == f"Error on parsing order_by clause '{over}'"
    # a valid filter just under the limit still parses (3 clauses of 5 tokens and 2 ANDs ...)
    chain = " and ".join(["metrics.m > 1"] * 1_000)  # 1,000 clauses, 9,997 tokens
    assert len(grammar.parse_run_filter(chain).clauses) == 1_000
    # the count is over the whole text: many statements cannot pile up work either
    with pytest.raises(TrackstoreError) as caught:
        grammar.parse_run_filter("a;" * 5_001)
    assert caught.value.message.startswith("Error on parsing filter")


# -- the linear replacements of quadratic / exponential steps, against what they replace --------

@settings(max_examples=scaled(300), deadline=None)
@given(text=st.text(alphabet=" \t\r\n\x0b'\"\\ab`#é", max_size=14))
def test_shell_words_is_shlex_split(text: str) -> None:
    try:
        expected: Any = shlex.split(text)
    except ValueError as exc:
        expected = ("error", str(exc))
    try:
        found: Any = grammar.shell_words(text)
    except ValueError as exc:
        found = ("error", str(exc))
    assert found == expected


@settings(max_examples=scaled(300), deadline=None)
@given(pattern=st.text(alphabet="aA%_é.\n*", max_size=8),
       value=st.text(alphabet="aAbéÉ.\n*", max_size=10), case_sensitive=st.booleans())
def test_like_matcher_is_the_like_regex(pattern: str, value: str, case_sensitive: bool) -> None:
    regex = like_pattern(pattern, case_sensitive).fullmatch(value) is not None
    assert _like_matcher(pattern, case_sensitive)(value) == regex


# -- through the stores ---------------------------------------------------------------------

class Stores:
    """A file store and a SQLite store holding the same runs, experiments and models."""

    def __init__(self, root: Path) -> None:
        self.file = FileStore(str(root / "mlruns"))
        self.sql = SqlStore(f"sqlite:///{root / 'search.db'}", str(root / "artifacts"))
        self.experiments: dict[str, list[str]] = {"file": [], "sql": []}
        values = ["a" * 1000, "b%", "", "Ab_c", "é", "x'y"]
        for e in range(2):
            for kind, store in (("file", self.file), ("sql", self.sql)):
                experiment_id = store.create_experiment(
                    f"exp-{e}", str(root / "artifacts" / f"{kind}-{e}"), [])
                store.set_experiment_tag(experiment_id, ExperimentTag("k", values[e]))
                self.experiments[kind].append(experiment_id)
        for i in range(6):
            run_id = f"{i:032x}"
            for kind, store in (("file", self.file), ("sql", self.sql)):
                with _fixed_run_id(run_id):
                    run = store.create_run(self.experiments[kind][i % 2], f"user{i % 3}",
                                           1_700_000_000_000 + i, [], f"run-{i}")
                store.log_batch(run.info.run_id,
                                [Metric("m", float(i) - 2.5, 1_700_000_000_000 + i, i)],
                                [Param("p", values[i % len(values)])],
                                [RunTag("t", values[(i + 1) % len(values)])])
        self.sql.create_registered_model("model-a", {"t": "1"})
        self.sql.create_registered_model("model-b")
        self.sql.create_model_version("model-a", "runs:/x/model", f"{1:032x}", {"v": "x"})

    def close(self) -> None:
        self.sql.close()


def _fixed_run_id(run_id: str) -> Any:
    """Both stores take run ids from ``uuid.uuid4()``: give them the same one."""
    return mock.patch("uuid.uuid4", return_value=uuid.UUID(hex=run_id))


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    both = Stores(tmp_path_factory.mktemp("search-stores"))
    yield both
    both.close()


def _search(call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    try:
        result: Any = ("ok", call())
    except TrackstoreError as exc:
        result = ("error", exc.error_code)
    assert result[0] == "ok" or result[1] == INVALID, result
    seconds = time.perf_counter() - started
    assert seconds < SHORT_SECONDS * 2, f"search took {seconds:.2f} s"
    return result


def test_stores_search_fuzzed_filters_alike(stores: Stores) -> None:
    tried = accepted = 0
    started = time.perf_counter()

    @settings(max_examples=scaled(300), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(text=st.one_of(st.sampled_from(VALID_FILTERS), any_filter), order_by=st.one_of(
               st.just([]), st.sampled_from(VALID_ORDER_BY).map(lambda entry: [entry]),
               st.one_of(near_valid(), raw_text).map(lambda entry: [entry])),
           view=st.sampled_from([ViewType.ACTIVE_ONLY, ViewType.ALL]))
    @example(text="tags.t LIKE '%a%a%a%a%a%a%a%a%b'", order_by=["metrics.m"], view=1)
    @example(text="params.p ILIKE '" + "%_" * 30 + "%b'", order_by=["run_id"], view=3)
    def check(text: str, order_by: list[str], view: int) -> None:
        nonlocal tried, accepted
        tried += 1
        found = {}
        for kind, store in (("file", stores.file), ("sql", stores.sql)):
            ids = stores.experiments[kind]
            runs = _search(functools.partial(store.search_runs, ids, text, view, 100,
                                             order_by))
            experiments = _search(functools.partial(store.search_experiments, view, 100,
                                                    text, order_by))
            found[kind] = (
                (runs[0], [r.info.run_id for r in runs[1]] if runs[0] == "ok" else runs[1]),
                (experiments[0], [e.name for e in experiments[1]] if experiments[0] == "ok"
                 else experiments[1]))
        assert found["sql"] == found["file"], (text, order_by)
        accepted += found["sql"][0][0] == "ok"
        for call in (lambda: stores.sql.search_registered_models(text, 100, order_by),
                     lambda: stores.sql.search_model_versions(text, 100, order_by)):
            _search(call)

    check()
    assert accepted >= tried // 20, f"only {accepted} of {tried} searches were valid"
    record("fuzz", "search_stores", inputs=tried, accepted=accepted, tool="hypothesis",
           seconds=round(time.perf_counter() - started, 1))


def test_like_with_many_wildcards_over_a_long_value_is_fast(stores: Stores) -> None:
    """The regression: the file store matched LIKE with a regex of one ``.*`` per ``%``, which
    backtracks exponentially; ``'%a%a%a%b'`` over a 1,000-character value took minutes."""
    pattern = "%a" * 40 + "%b"
    for kind, store in (("file", stores.file), ("sql", stores.sql)):
        started = time.perf_counter()
        runs = store.search_runs(stores.experiments[kind], f"params.p LIKE '{pattern}'",
                                 ViewType.ALL)
        assert list(runs) == []
        assert time.perf_counter() - started < SHORT_SECONDS, kind
    matching = stores.file.search_runs(stores.experiments["file"], "params.p LIKE '%a%a%a%'")
    assert [r.data.params["p"] for r in matching] == ["a" * 1000]


@pytest.mark.parametrize("entry", ["b" * 500_000, "metrics.`" + "k" * 500_000 + "` DESC",
                                   'params."' + "p" * 500_000 + '"'],
                         ids=["word", "backticked key", "quoted key"])
def test_a_half_megabyte_order_by_entry_is_answered_in_bounded_time(entry: str) -> None:
    """The regression: the words of an ``order_by`` entry came from ``shlex.split``, which
    grows a word one character at a time (quadratic: about 10 s for a 500 KB key, hours for
    16 MB, the server's largest body)."""
    for name in ("run_order_by", "experiment_order_by", "registered_model_order_by",
                 "model_version_order_by"):
        assert outcome(PARSERS[name], entry, LONG_SECONDS) in ("ok", INVALID), name
