"""The ``yamlio`` trio: the language of ``_yamlio_py`` on both twins, and py == c.

Unit tests run on each twin through ``yamlio_impl`` and use PyYAML's ``SafeLoader`` (installed
with mlflow) as the oracle for values; the hypothesis tests at the end feed the same input to
both twins (``yamlio_twins``) and compare values, types, bytes and error messages.
"""

from __future__ import annotations

import datetime
import enum
import math
import os
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trackstore import _yamlio, _yamlio_py
from trackstore._yamlio_py import (
    MSG_ANCHORS,
    MSG_BAD_SCALAR,
    MSG_MERGE_KEYS,
    MSG_MULTIPLE_DOCUMENTS,
    MSG_NON_SCALAR_KEY,
    MSG_NOT_UTF8,
    MSG_NOT_YAML,
    MSG_TAGS,
    MSG_VALUE_KEYS,
)
from trackstore.exceptions import MalformedYamlError

yaml = pytest.importorskip("yaml")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UTC = datetime.timezone.utc


def snapshot(value: Any, ordered: bool = True) -> Any:
    """A comparable form that tells 1, 1.0 and True apart and makes NaN equal to NaN."""
    if isinstance(value, dict):
        items = tuple((snapshot(k), snapshot(v, ordered)) for k, v in value.items())
        return ("dict", items if ordered else frozenset(items))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(snapshot(item, ordered) for item in value))
    return (type(value).__name__, repr(value))


def safe_load(data: bytes | str) -> Any:
    return yaml.load(data, Loader=yaml.SafeLoader)


def pyyaml_dump(data: Any, dumper: Any = None, width: float | None = None) -> bytes:
    text = yaml.dump(
        data,
        Dumper=dumper or yaml.SafeDumper,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=True,
        width=width,
    )
    return text.encode("utf-8")


def meta_files() -> list[Path]:
    found = sorted(
        Path(root) / name
        for root, _, names in os.walk(FIXTURES)
        for name in names
        if name == "meta.yaml"
    )
    return found


RUN_META = {
    "artifact_uri": "file:///home/alice/mlruns/2148/68659e3de6e74b5a9ee3f4febf9f14e0/artifacts",
    "end_time": None,
    "entry_point_name": "",
    "experiment_id": "214864545278912664",
    "lifecycle_stage": "active",
    "run_id": "68659e3de6e74b5a9ee3f4febf9f14e0",
    "run_name": "dazzling-shrew-294",
    "source_type": 4,
    "start_time": 1700000000000,
    "status": 3,
    "tags": [],
    "user_id": "alice",
}
RUN_META_YAML = b"""\
artifact_uri: file:///home/alice/mlruns/2148/68659e3de6e74b5a9ee3f4febf9f14e0/artifacts
end_time: null
entry_point_name: ''
experiment_id: '214864545278912664'
lifecycle_stage: active
run_id: 68659e3de6e74b5a9ee3f4febf9f14e0
run_name: dazzling-shrew-294
source_type: 4
start_time: 1700000000000
status: 3
tags: []
user_id: alice
"""
EXPERIMENT_META = {
    "artifact_location": "file:///home/alice/mlruns/2148",
    "creation_time": 1700000000000,
    "experiment_id": "2148",
    "last_update_time": 1700000000001,
    "lifecycle_stage": "active",
    "name": "baseline 实验 λ",
    "tags": {"mlflow.note.content": "notes", "team": "vision", "priority": "1"},
}
INPUT_META = {
    "destination_id": "68659e3de6e74b5a9ee3f4febf9f14e0",
    "destination_type": "RUN",
    "source_id": "5b1f0c7e",
    "source_type": "DATASET",
    "tags": {"mlflow.data.context": "train"},
}


# --- load: real documents -------------------------------------------------------------------


@pytest.mark.parametrize("path", meta_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_meta_yaml_loads_like_safe_loader(yamlio_impl: ModuleType, path: Path) -> None:
    data = path.read_bytes()
    assert snapshot(yamlio_impl.load(data)) == snapshot(safe_load(data))


def test_there_are_fixtures() -> None:
    assert len(meta_files()) >= 50


def test_run_meta(yamlio_impl: ModuleType) -> None:
    assert snapshot(yamlio_impl.load(RUN_META_YAML)) == snapshot(RUN_META)


@pytest.mark.parametrize("meta", [EXPERIMENT_META, INPUT_META], ids=["experiment", "input"])
@pytest.mark.parametrize("dumper", ["SafeDumper", "CSafeDumper"])
def test_nested_tag_mappings_as_mlflow_writes_them(
    yamlio_impl: ModuleType, meta: dict[str, Any], dumper: str
) -> None:
    data = pyyaml_dump(meta, getattr(yaml, dumper, yaml.SafeDumper))
    assert b"tags:\n  " in data
    assert snapshot(yamlio_impl.load(data), False) == snapshot(meta, False)


def test_dataset_meta_with_folded_long_json(yamlio_impl: ModuleType) -> None:
    """PyYAML folds long lines at 80 columns: multi-line single-quoted scalars."""
    columns = [{"type": "double", "name": f"feature_{i}", "required": True} for i in range(200)]
    schema = '{"mlflow_colspec": ' + repr(columns).replace("'", '"') + "}"
    meta = {
        "digest": "3f2a9c1d",
        "name": "train 实验",
        "profile": '{"num_rows": 1000, "note": "it\'s \\"quoted\\""}',
        "schema": schema,
        "source": '{"uri": "s3://bucket/data.parquet"}',
        "source_type": "s3",
    }
    data = pyyaml_dump(meta)
    assert len(schema) > 6000
    assert data.count(b"\n") > 50
    assert yamlio_impl.load(data) == meta


# --- load: YAML 1.1 scalar resolution ----------------------------------------------------------

tz = datetime.timezone
RESOLVED = [
    # null
    ("", None), ("~", None), ("null", None), ("Null", None), ("NULL", None),
    ("nULL", "nULL"), ("~~", "~~"), ("none", "none"),
    # bool: three case forms only
    ("yes", True), ("Yes", True), ("YES", True), ("no", False), ("No", False), ("NO", False),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
    ("on", True), ("On", True), ("ON", True), ("off", False), ("Off", False), ("OFF", False),
    ("yES", "yES"), ("tRUE", "tRUE"), ("y", "y"), ("n", "n"), ("Y", "Y"), ("oN", "oN"),
    # int
    ("0", 0), ("-0", 0), ("+7", 7), ("42", 42), ("-17", -17), ("1_000", 1000), ("1__", 1),
    ("0_", 0), ("0b1010", 10), ("-0b1_0", -2), ("017", 15), ("0_17", 15), ("00", 0),
    ("0x1F", 31), ("0x_1f", 31), ("-0x1F", -31), ("1:20", 80), ("-1:20", -80),
    ("190:20:30", 685230), ("123456789012345678901234567890", 123456789012345678901234567890),
    ("9223372036854775808", 9223372036854775808), ("-999999999999999999", -999999999999999999),
    ("08", "08"), ("0x1G", "0x1G"), ("0o17", "0o17"), ("1:60", "1:60"), ("0x", "0x"),
    ("1e3", "1e3"), ("12e4", "12e4"), ("1_0e", "1_0e"), ("+", "+"), ("-a", "-a"),
    ("68659e3de6e74b5a9ee3f4febf9f14e0", "68659e3de6e74b5a9ee3f4febf9f14e0"),
    ("1700000000000", 1700000000000),
    # float: a '.' is required; exponents need a sign
    ("1.5", 1.5), ("-1.5", -1.5), ("+1.5", 1.5), ("1.", 1.0), (".5", 0.5), ("-0.0", -0.0),
    ("1_000.5", 1000.5), ("1.0e+3", 1000.0), ("1.0E-3", 0.001), ("1.0e3", "1.0e3"),
    ("-.5", "-.5"), ("._5", "._5"), (".", "."), ("1.2.3", "1.2.3"),
    (".inf", math.inf), ("-.inf", -math.inf), ("+.inf", math.inf), (".Inf", math.inf),
    (".INF", math.inf), (".iNf", ".iNf"), ("inf", "inf"), (".nan", math.nan), (".NaN", math.nan),
    (".NAN", math.nan), ("+.nan", "+.nan"), ("nan", "nan"), ("1:20.5", 80.5),
    # timestamps
    ("2001-12-14", datetime.date(2001, 12, 14)),
    ("2002-1-1", "2002-1-1"),
    ("2001-12-14t21:59:43.10-05:00",
     datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tz(datetime.timedelta(hours=-5)))),
    ("2001-12-14 21:59:43.10 -5",
     datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tz(datetime.timedelta(hours=-5)))),
    ("2001-12-15T02:59:43.1Z", datetime.datetime(2001, 12, 15, 2, 59, 43, 100000, UTC)),
    ("2001-12-15 2:59:43.10", datetime.datetime(2001, 12, 15, 2, 59, 43, 100000)),
    ("2002-1-1 1:00:00", datetime.datetime(2002, 1, 1, 1, 0)),
    ("2001-12-14 21:59:43.1234567", datetime.datetime(2001, 12, 14, 21, 59, 43, 123456)),
    ("2001-12-14 21:59:43.", datetime.datetime(2001, 12, 14, 21, 59, 43)),
    ("2001-12-14 21:59", "2001-12-14 21:59"),
    # everything else is a string
    ("active", "active"), ("file:///a/b", "file:///a/b"), ("a b  c", "a b  c"),
    ("baseline 实验 λ", "baseline 实验 λ"), ("<a", "<a"), ("=a", "=a"), ("a#b", "a#b"),
]


@pytest.mark.parametrize(("text", "expected"), RESOLVED, ids=[repr(t) for t, _ in RESOLVED])
def test_plain_scalars_resolve_like_safe_loader(
    yamlio_impl: ModuleType, text: str, expected: Any
) -> None:
    data = f"v: {text}\n".encode()
    loaded = yamlio_impl.load(data)
    assert snapshot(loaded) == snapshot({"v": expected})
    assert snapshot(loaded) == snapshot(safe_load(data))


@pytest.mark.parametrize(
    "text", ["0b_", "0x_", "-0x_", "2001-02-30", "2001-13-01", "0000-01-01",
             "2001-01-01 25:00:00", "2001-01-01 10:00:00 +24", "1" * 5000]
)
def test_pattern_matches_without_valid_value_are_errors(yamlio_impl: ModuleType, text: str) -> None:
    data = f"v: {text}\n".encode()
    with pytest.raises(ValueError):  # SafeLoader fails too, with a bare ValueError
        safe_load(data)
    with pytest.raises(MalformedYamlError) as info:
        yamlio_impl.load(data)
    assert str(info.value) == MSG_BAD_SCALAR
    assert text in info.value.detail


def test_quoted_and_block_scalars_are_strings(yamlio_impl: ModuleType) -> None:
    data = b"a: '1'\nb: \"true\"\nc: |\n  null\nd: >-\n  2001-12-14\ne: ''\nf: \"~\"\n"
    assert yamlio_impl.load(data) == {
        "a": "1", "b": "true", "c": "null\n", "d": "2001-12-14", "e": "", "f": "~",
    }


QUOTED = [
    (b"'it''s'", "it's"),
    (b"'a\n  b\n\n  c\n\n\n  d'", "a b\nc\n\nd"),
    (b"'  lead and trail  '", "  lead and trail  "),
    (b'"a\\tb\\n\\"q\\"\\\\"', 'a\tb\n"q"\\'),
    (b'"\\x41\\u263A\\U0001F600\\N\\_\\L\\P\\e\\0\\/\\ \\a\\b\\v\\f\\r"',
     "A\u263a\U0001f600\x85\xa0\u2028\u2029\x1b\x00/ \x07\x08\x0b\x0c\r"),
    (b'"folded\n   line\n\n   para"', "folded line\npara"),
    (b'"escaped \\\n   break"', "escaped break"),
    (b'"trailing \\\n\n   breaks"', "trailing \nbreaks"),
    (b'"tab\\\tinside"', "tab\tinside"),
    (b"plain\n  multi line\n\n  scalar", "plain multi line\nscalar"),
]


@pytest.mark.parametrize(("text", "expected"), QUOTED, ids=[repr(t) for t, _ in QUOTED])
def test_flow_scalars_fold_and_unescape(
    yamlio_impl: ModuleType, text: bytes, expected: str
) -> None:
    data = b"v: " + text + b"\n"
    assert yamlio_impl.load(data) == {"v": expected} == safe_load(data)


def test_libyaml_not_pyyaml_is_the_syntax_reference(yamlio_impl: ModuleType) -> None:
    """A tab after a continuation line's indentation: LibYAML reads on, PyYAML's pure scanner
    stops ("cannot start any token"); the twins follow LibYAML."""
    data = b"v: tab after\n \tthe indent\n"
    with pytest.raises(yaml.YAMLError):
        safe_load(data)
    assert yamlio_impl.load(data) == {"v": "tab after the indent"}


BLOCK = [
    (b"|\n  a\n  b\n", "a\nb\n"),
    (b"|-\n  a\n  b\n\n", "a\nb"),
    (b"|+\n  a\n\n\n", "a\n\n\n"),
    (b">\n  a\n  b\n\n  c\n", "a b\nc\n"),
    (b">\n  a\n    indented\n  b\n", "a\n  indented\nb\n"),
    (b"|2\n   x\n  y\n", " x\ny\n"),
    (b">-2\n   x\n  y\n", " x\ny"),
    (b"|+1 # comment\n  x\n", " x\n"),
    (b"|\n\n  after blank\n", "\nafter blank\n"),
    (b"|\n  last line", "last line"),
    (b">\n", ""),
]


@pytest.mark.parametrize(("text", "expected"), BLOCK, ids=[repr(t) for t, _ in BLOCK])
def test_block_scalars(yamlio_impl: ModuleType, text: bytes, expected: str) -> None:
    data = b"v: " + text
    assert yamlio_impl.load(data) == {"v": expected} == safe_load(data)


FLOW = [
    (b"[a, b, {c: d}]", ["a", "b", {"c": "d"}]),
    (b"{a: [1, 2.5], b: {c: null}, 'd': \"e\"}", {"a": [1, 2.5], "b": {"c": None}, "d": "e"}),
    (b"[\n  a,\n  b\n  ,\n]", ["a", "b"]),
    (b"{a, b: c}", {"a": None, "b": "c"}),
    (b"[a: b, c]", [{"a": "b"}, "c"]),
    (b"[a:b, http://x]", ["a:b", "http://x"]),
    (b"[[], {}, [[1]]]", [[], {}, [[1]]]),
    (b"{? complex: 1}", {"complex": 1}),
]


@pytest.mark.parametrize(("text", "expected"), FLOW, ids=[repr(t) for t, _ in FLOW])
def test_flow_collections(yamlio_impl: ModuleType, text: bytes, expected: Any) -> None:
    assert yamlio_impl.load(text) == expected == safe_load(text)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", None),
        (b"\n  \n", None),
        (b"# only a comment\n", None),
        (b"---\n", None),
        (b"--- \n...\n", None),
        (b"\xef\xbb\xbf", None),
        (b"\xef\xbb\xbfa: 1\n", {"a": 1}),
        (b"a: 1\r\nb: 2\r\n", {"a": 1, "b": 2}),
        (b"%YAML 1.1\n--- a\n...\n", "a"),
        (b"%TAG !e! tag:example.com,2000:\n---\n[1]\n", [1]),
        (b"a: 1\na: 2\n", {"a": 2}),
        (b"? a\n? b\n: 2\n", {"a": None, "b": 2}),
        (b"a:\n- 1\n- - 2\n  - 3\nb:\n  - {}\n", {"a": [1, [2, 3]], "b": [{}]}),
        (b"1: one\n~: null key\n2001-12-14: day\n", {1: "one", None: "null key",
                                                     datetime.date(2001, 12, 14): "day"}),
        (b"=x: 1\n<y: 2\n", {"=x": 1, "<y": 2}),
        (b"just a scalar", "just a scalar"),
        (b"k" * 1024 + b": longest simple key\n", {"k" * 1024: "longest simple key"}),
        ("é".encode() * 1024 + b": counts characters", {"é" * 1024: "counts characters"}),
        (b"- a\n- b\n", ["a", "b"]),
    ],
)
def test_documents(yamlio_impl: ModuleType, data: bytes, expected: Any) -> None:
    assert snapshot(yamlio_impl.load(data)) == snapshot(expected) == snapshot(safe_load(data))


# --- load: errors ---------------------------------------------------------------------------------

ERRORS = [
    # not UTF-8 (UTF-16 included: its BOM is not UTF-8)
    (b"a: \xff\n", MSG_NOT_UTF8),
    (b"a: \xc3\n", MSG_NOT_UTF8),
    (b"a: \xed\xa0\x80\n", MSG_NOT_UTF8),
    (b"a: \xc0\x80\n", MSG_NOT_UTF8),
    (b"a: \xf4\x90\x80\x80\n", MSG_NOT_UTF8),
    (b"a: \xf0\x9f\x98\n", MSG_NOT_UTF8),
    ("a: 1\n".encode("utf-16"), MSG_NOT_UTF8),
    # syntax
    (b'a: "unterminated\n', MSG_NOT_YAML),
    (b"a: 'unterminated\n", MSG_NOT_YAML),
    (b"a: b: c\n", MSG_NOT_YAML),
    (b"a:\n  b: 1\n c: 2\n", MSG_NOT_YAML),
    (b"a:\n\tb: 1\n", MSG_NOT_YAML),
    (b"a: plain\n\tcontinued\n", MSG_NOT_YAML),
    (b"{a: 1\n", MSG_NOT_YAML),
    (b"[1, 2\n", MSG_NOT_YAML),
    (b"a: [1, 2}\n", MSG_NOT_YAML),
    (b"- a\nb: c\n", MSG_NOT_YAML),
    (b"a: 1\n...\nb: 2\n", MSG_NOT_YAML),
    (b"...\n", MSG_NOT_YAML),
    (b"a: 1\x00\n", MSG_NOT_YAML),
    (b"a: \x07\n", MSG_NOT_YAML),
    ("a: 1\n".encode("utf-16-le"), MSG_NOT_YAML),
    (b'a: "\\q"\n', MSG_NOT_YAML),
    (b'a: "\\ud800"\n', MSG_NOT_YAML),
    (b"a: |0\n  x\n", MSG_NOT_YAML),
    (b"%YAML 2.0\n--- a\n", MSG_NOT_YAML),
    (b"%FOO bar\n--- a\n", MSG_NOT_YAML),
    (b"a: !e!x 1\n", MSG_NOT_YAML),
    (b"[a:,b]\n", MSG_NOT_YAML),
    (b"[?]\n", MSG_NOT_YAML),
    (b"k" * 1025 + b": v\n", MSG_NOT_YAML),
    # syntax errors win over the language errors before them
    (b"a: &x 1\nb: 'open\n", MSG_NOT_YAML),
    (b"a: 1\n--- b\n--- [\n", MSG_NOT_YAML),
    # outside the language: the first one in document order
    (b"a: 1\n--- b\n", MSG_MULTIPLE_DOCUMENTS),
    (b"--- a\n--- b\n", MSG_MULTIPLE_DOCUMENTS),
    (b"a: &x 1\nb: *x\n", MSG_ANCHORS),
    (b"a: *x\n", MSG_ANCHORS),
    (b"&x [1]\n", MSG_ANCHORS),
    (b"a: !!str 1\n", MSG_TAGS),
    (b"! a\n", MSG_TAGS),
    (b"a: !local {}\n", MSG_TAGS),
    (b"a: !t 1\nb: &x 2\n", MSG_TAGS),
    (b"a: &x 1\nb: !t 2\n", MSG_ANCHORS),
    (b"<<: {a: 1}\n", MSG_MERGE_KEYS),
    (b"a: <<\n", MSG_MERGE_KEYS),
    (b"a: =\n", MSG_VALUE_KEYS),
    (b"=: 1\n", MSG_VALUE_KEYS),
    (b"[a]: 1\n", MSG_NON_SCALAR_KEY),
    (b"? {a: 1}\n: 2\n", MSG_NON_SCALAR_KEY),
    (b"{[a]: 1}\n", MSG_NON_SCALAR_KEY),
    (b"a: 2001-02-30\n", MSG_BAD_SCALAR),
]


@pytest.mark.parametrize(("data", "message"), ERRORS, ids=[repr(d)[:40] for d, _ in ERRORS])
def test_errors_have_fixed_messages(yamlio_impl: ModuleType, data: bytes, message: str) -> None:
    with pytest.raises(MalformedYamlError) as info:
        yamlio_impl.load(data)
    assert str(info.value) == message
    assert isinstance(info.value.detail, str)
    assert info.value.detail


def test_syntax_error_detail_says_where(yamlio_impl: ModuleType) -> None:
    with pytest.raises(MalformedYamlError) as info:
        yamlio_impl.load(b"a: 1\nb: 'open\n")
    assert "quoted scalar" in info.value.detail
    assert "line" in info.value.detail


@pytest.mark.parametrize("data", ["a: 1", bytearray(b"a: 1"), memoryview(b"a: 1"), None, 1])
def test_load_needs_bytes(yamlio_impl: ModuleType, data: Any) -> None:
    with pytest.raises(TypeError) as info:
        yamlio_impl.load(data)
    assert str(info.value) == _yamlio_py.load_type_message(data)


# --- dump -------------------------------------------------------------------------------------


def test_dump_run_meta_is_mlflows_bytes(yamlio_impl: ModuleType) -> None:
    assert yamlio_impl.dump(RUN_META) == RUN_META_YAML


@pytest.mark.parametrize("path", meta_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_dump_reproduces_fixture_bytes(yamlio_impl: ModuleType, path: Path) -> None:
    data = path.read_bytes()
    assert yamlio_impl.dump(safe_load(data)) == data


TYPICAL = {
    "run": RUN_META,
    "experiment": EXPERIMENT_META,
    "input": INPUT_META,
    "numbers": {"a": 1.5, "b": 1e20, "c": math.nan, "d": math.inf, "e": -math.inf, "f": 1e-7,
                "g": -0.0, "h": 10**30, "i": -3, "j": True, "k": False, "l": None, "m": 0.1},
    # (PyYAML's pure emitter writes an empty key as "? ''", LibYAML as "''": no "" key here)
    "resolving strings": {w: w for w in ["0", "4", "true", "null", "1.5", "yes", "~", "No",
                                         "0x1F", "1:20", "2001-12-14", "<<", "=", ".inf", "08"]},
    "indicators": {"a": "- x", "b": "a: b", "c": " x", "d": "x ", "e": "#x", "f": "a #b",
                   "g": "@x", "h": "%x", "i": "---x", "j": "x:", "k": "?x", "l": "-x",
                   "m": "it's", "n": "{x}", "o": "a:b", "p": "a#b", "q": "...", "r": "[a]"},
    "unicode": {"name": "baseline 实验 λ", "nbsp": "a\xa0b", "é": "ü"},
    "nested": {"a": [[1, 2], [], {}, {"b": [1, {"c": "d"}]}], "e": {"f": {"g": []}}},
    "empty": {},
}


@pytest.mark.parametrize("data", TYPICAL.values(), ids=TYPICAL.keys())
@pytest.mark.parametrize("dumper", ["SafeDumper", "CSafeDumper"])
def test_dump_equals_pyyaml_for_typical_values(
    yamlio_impl: ModuleType, data: dict[str, Any], dumper: str
) -> None:
    expected = pyyaml_dump(data, getattr(yaml, dumper, yaml.SafeDumper))
    assert yamlio_impl.dump(data) == expected


DOUBLE_QUOTED = {
    "line\nbreak": b'"line\\nbreak"',
    "tab\there": b'"tab\\there"',
    "nul\x00 bell\x07 esc\x1b del\x7f": b'"nul\\0 bell\\a esc\\e del\\x7F"',
    "nel\x85 ls\u2028 ps\u2029": b'"nel\\N ls\\L ps\\P"',
    "bom\ufeff": b'"bom\\uFEFF"',
    "emoji \U0001f600": b'"emoji \\U0001F600"',
    'quote " and \\ in a break\n': b'"quote \\" and \\\\ in a break\\n"',
    " lead\r": b'" lead\\r"',
}


@pytest.mark.parametrize(("text", "written"), DOUBLE_QUOTED.items(), ids=repr)
def test_dump_escapes_what_libyaml_cannot_print(
    yamlio_impl: ModuleType, text: str, written: bytes
) -> None:
    out = yamlio_impl.dump({"v": text})
    assert out == b"v: " + written + b"\n"
    assert yamlio_impl.load(out) == {"v": text} == safe_load(out)


def test_dump_never_folds_long_strings(yamlio_impl: ModuleType) -> None:
    data = {"schema": "word " * 1200 + "end", "x": "y" * 6000}
    out = yamlio_impl.dump(data)
    assert out.count(b"\n") == 2
    assert yamlio_impl.load(out) == data == safe_load(out)


def test_dump_writes_keys_that_cannot_be_simple_as_complex(yamlio_impl: ModuleType) -> None:
    data = {"k" * 129: {"a": 1}, "two\nlines": [1, 2], "k" * 128: "v"}
    out = yamlio_impl.dump(data)
    assert out == (
        b"k" * 128 + b": v\n"
        + b"? " + b"k" * 129 + b"\n: a: 1\n"
        + b'? "two\\nlines"\n: - 1\n  - 2\n'
    )
    assert yamlio_impl.load(out) == data == safe_load(out)


def test_dump_layout_of_nested_collections(yamlio_impl: ModuleType) -> None:
    data = {"a": [[1, 2], [], {"b": [3], "c": {}}], "d": {"e": ["f"]}}
    assert yamlio_impl.dump(data) == (
        b"a:\n- - 1\n  - 2\n- []\n- b:\n  - 3\n  c: {}\nd:\n  e:\n  - f\n"
    )


def test_dump_accepts_tuples_mappings_and_number_subclasses(yamlio_impl: ModuleType) -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    class Ratio(float):
        def __repr__(self) -> str:
            return "Ratio!"

    data = types.MappingProxyType({"t": (1, "2"), "m": types.MappingProxyType({"x": Level.HIGH}),
                                   "r": Ratio(0.5)})
    assert yamlio_impl.dump(data) == b"m:\n  x: 3\nr: 0.5\nt:\n- 1\n- '2'\n"


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ([1], TypeError, _yamlio_py.dump_type_message([1], top=True)),
        ("a: 1", TypeError, _yamlio_py.dump_type_message("", top=True)),
        ({1: "a"}, TypeError, _yamlio_py.key_type_message(1)),
        ({"a": {None: 1}}, TypeError, _yamlio_py.key_type_message(None)),
        ({"a": {1, 2}}, TypeError, _yamlio_py.dump_type_message(set())),
        ({"a": b"bytes"}, TypeError, _yamlio_py.dump_type_message(b"")),
        ({"a": datetime.date(2001, 1, 1)}, TypeError,
         _yamlio_py.dump_type_message(datetime.date(2001, 1, 1))),
        ({"a": "\ud800"}, ValueError, _yamlio_py.surrogate_message()),
        ({"\udfff": 1}, ValueError, _yamlio_py.surrogate_message()),
        ({"a": 10**5000}, ValueError, None),
    ],
)
def test_dump_rejects_what_it_cannot_write(
    yamlio_impl: ModuleType, data: Any, error: type, message: str | None
) -> None:
    with pytest.raises(error) as info:
        yamlio_impl.dump(data)
    if message is not None:
        assert str(info.value) == message


def test_dump_limits_nesting(yamlio_impl: ModuleType) -> None:
    data: dict[str, Any] = {}
    inner = data
    for _ in range(_yamlio_py.MAX_DEPTH):
        inner["a"] = {}
        inner = inner["a"]
    assert yamlio_impl.load(yamlio_impl.dump(data)) == data
    inner["a"] = []
    with pytest.raises(ValueError) as info:
        yamlio_impl.dump(data)
    assert str(info.value) == _yamlio_py.depth_message()
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(ValueError):
        yamlio_impl.dump(cycle)


# --- the selector and the no-PyYAML promise ----------------------------------------------------


def test_selector_loads_and_dumps() -> None:
    assert _yamlio.load(_yamlio.dump(RUN_META)) == RUN_META
    assert _yamlio.IMPL in ("trackstore._yamlio_c", "trackstore._yamlio_py")


def test_trackstore_reads_yaml_without_pyyaml() -> None:
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "from trackstore import _yamlio, _yamlio_py\n"
        "assert _yamlio.load(b'a: [1]') == _yamlio_py.load(b'a: [1]') == {'a': [1]}\n"
        "assert 'yaml' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- hypothesis: py == c ------------------------------------------------------------------------

TWINS_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Outcome(NamedTuple):
    value: Any
    error: tuple[type, str] | None


def outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return Outcome(snapshot(call()), None)
    except (MalformedYamlError, TypeError, ValueError) as exc:
        return Outcome(None, (type(exc), str(exc)))


YAML_WORDS = [
    "null", "~", "yes", "No", "OFF", "true", "0", "-1", "+1", "0x1F", "017", "1_000", "1:20",
    "1.5", ".5", "1e3", "1.0e+3", ".inf", "-.NaN", "2001-12-14", "2001-12-14 21:59:43.10 -5",
    "<<", "=", "", " ", "a b", "a: b", "a #b", "a#b", "x:", ":x", "-x", "- x", "?x", "? x",
    "@x", "it's", '"q"', "file:///a/b", "---", "...", "--- x", "[a]", "{a: 1}", "&a", "*a",
    "!t", "|", ">", "%YAML", "\\", "68659e3de6e74b5a9ee3f4febf9f14e0", "0b_", "2001-13-45",
]
strings = st.one_of(
    st.sampled_from(YAML_WORDS),
    st.text(max_size=20),
    st.text(st.sampled_from(list(" \t\n\r-?:,[]{}#&*!|>'\"%@`\\.~=<0a1é\x85\u2028\ufeff")),
            max_size=12),
)
scalars = st.one_of(
    strings,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
    max_leaves=12,
)
metas = st.dictionaries(strings, values, max_size=8)


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(data=metas)
@example(data=RUN_META)
@example(data={"k" * 200: {"\n": [{}]}, "": ["", [[]]]})
def test_twins_dump_identically_and_read_back(
    yamlio_twins: tuple[ModuleType, ModuleType], data: dict[str, Any]
) -> None:
    py, c = yamlio_twins
    written = c.dump(data)
    assert py.dump(data) == written
    expected = snapshot(data, ordered=False)
    assert snapshot(py.load(written), False) == expected
    assert snapshot(c.load(written), False) == expected
    assert snapshot(safe_load(written), False) == expected


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(data=metas, dumper=st.sampled_from(["SafeDumper", "CSafeDumper"]))
def test_twins_read_pyyaml_output(
    yamlio_twins: tuple[ModuleType, ModuleType], data: dict[str, Any], dumper: str
) -> None:
    py, c = yamlio_twins
    written = pyyaml_dump(data, getattr(yaml, dumper, yaml.SafeDumper))
    loaded = outcome(lambda: c.load(written))
    assert outcome(lambda: py.load(written)) == loaded
    assert loaded == Outcome(snapshot(safe_load(written)), None)


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """A valid document: an MLflow fixture, or a meta dict written by trackstore or PyYAML."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.sampled_from(meta_files())).read_bytes()
    data = draw(metas)
    if kind == 1:
        return _yamlio_py.dump(data)
    return pyyaml_dump(data, width=draw(st.sampled_from([None, 20])))


@st.composite
def corrupted_documents(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(documents()))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.integers(0, 5))
        at = draw(st.integers(0, len(data)))
        if action == 0:
            del data[at:]
        elif action == 1 and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == 2:
            data[at:at] = draw(st.sampled_from(
                [b" ", b"  ", b"\t", b"\n", b"\r", b"-", b"- ", b":", b": ", b"'", b'"', b"#",
                 b"[", b"{", b"}", b"]", b",", b"?", b"&a ", b"*a", b"!", b"|", b">", b"\\",
                 b"---", b"...", b"\xef\xbb\xbf", b"\xc2\x85"]
            ))
        elif action == 3:
            data[at:at] = draw(st.binary(max_size=4))
        else:
            lines = bytes(data).split(b"\n")
            line = draw(st.integers(0, len(lines) - 1))
            if action == 4:
                del lines[line]
            else:
                lines.insert(line, lines[line])
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@st.composite
def yaml_like_texts(draw: st.DrawFn) -> bytes:
    """Fragments of YAML syntax glued with random indentation and line breaks."""
    fragments = st.sampled_from([
        "a", "b: c", "- x", "? k", ": v", "[a, b]", "{a: b}", "'q''s'", '"d\\"q\\x41"',
        "|\n  lit\n", ">-\n  fold\n  ed\n", "|2+\n   x\n", "#c", "---", "...", '"a\n  b"',
        "'a\n\n  b'", "k:\n  - 1\n  - 2", "k: &x 1", "k: *x", "k: !!int 3", "%YAML 1.1\n---",
        "%TAG !e! tag:x,1:\n---", "!e!t x", "1:20", "0x1F", ".inf", "yes", "~", "[a:,b]",
        "{?a: b}", "\t", "\ufeff", "\x85", "\u2028", "\r\n", "x: |\n   a\n  b\n", "[\n", "]",
        "<<: {a: 1}", "a: =", "2001-12-14 21:59:43.10 -5", "'", '"', "\\", ": ", "- ",
    ])
    parts = draw(st.lists(
        st.tuples(st.sampled_from(["", "", " ", "  ", "    "]), fragments,
                  st.sampled_from(["\n", "\n", " ", "", ", ", ": ", "\r\n"])),
        max_size=8,
    ))
    return "".join(indent + text + end for indent, text, end in parts).encode()


any_input = st.one_of(
    corrupted_documents(),
    yaml_like_texts(),
    st.binary(max_size=80),
    st.text(max_size=60).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(data=any_input)
@example(data=b"[?]")
@example(data=b"a:\n\xef\xbb\xbf  b: 1\n")
@example(data=b"\xef\xbb\xbf\xef\xbb\xbfa: 1")
@example(data=b"- |\n  x\n -\n")
@example(data=b"'\n...\n'")
def test_twins_agree_on_any_input(
    yamlio_twins: tuple[ModuleType, ModuleType], data: bytes
) -> None:
    py, c = yamlio_twins
    assert outcome(lambda: py.load(data)) == outcome(lambda: c.load(data))
