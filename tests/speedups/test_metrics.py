"""The ``metrics`` trio: the grammar of ``_metrics_py`` on both twins, and py == c.

Unit tests run on each twin through ``metrics_impl``; the hypothesis tests at the end feed the
same input to both twins (``metrics_twins``) and compare everything, NaN bits and error
messages included.
"""

from __future__ import annotations

import array
import decimal
import math
import re
import struct
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from trackstore import _metrics, _metrics_py
from trackstore._metrics_py import LatestPoint, ParsedMetrics

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
FIELDS_4 = "expected 2, 3 or 5 fields, got 4"


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def columns(parsed: ParsedMetrics) -> tuple[list[int], list[float], list[int]]:
    return list(parsed.timestamps), list(parsed.values), list(parsed.steps)


# --- parse: the record grammar -------------------------------------------------------------


def test_three_field_lines_become_columns(metrics_impl: ModuleType) -> None:
    parsed = metrics_impl.parse(b"1700000000000 0.5 0\n1700000000001 1.25 1\n")
    assert type(parsed) is ParsedMetrics
    assert parsed.timestamps.typecode == "q"
    assert parsed.values.typecode == "d"
    assert parsed.steps.typecode == "q"
    assert columns(parsed) == ([1700000000000, 1700000000001], [0.5, 1.25], [0, 1])
    assert (parsed.datasets, parsed.bad_lines, parsed.torn) == ([], [], False)


def test_two_field_line_has_step_zero(metrics_impl: ModuleType) -> None:
    parsed = metrics_impl.parse(b"5 2.5\n")
    assert columns(parsed) == ([5], [2.5], [0])


def test_five_field_line_keeps_its_step_and_dataset(metrics_impl: ModuleType) -> None:
    data = b"1 0.1 7\n2 0.2 8 train abc123\n3 0.3 9\n4 0.4 -3 eval d\xc3\xa9f\n"
    parsed = metrics_impl.parse(data)
    # MLflow's reader would say step 0 for the 5-field lines: we read what was written.
    assert columns(parsed) == ([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4], [7, 8, 9, -3])
    assert parsed.datasets == [(1, "train", "abc123"), (3, "eval", "déf")]


def test_many_short_lines(metrics_impl: ModuleType) -> None:
    # Shorter rows than the compiled twin's first guess at the row count: the columns grow.
    data = b"0 1\n" * 5000 + b"-1 -2 -3 n d\n" + b"7 .5\n" * 5000
    parsed = metrics_impl.parse(data)
    assert columns(parsed) == (
        [0] * 5000 + [-1] + [7] * 5000,
        [1.0] * 5000 + [-2.0] + [0.5] * 5000,
        [0] * 5000 + [-3] + [0] * 5000,
    )
    assert parsed.datasets == [(5000, "n", "d")]


def test_dataset_row_index_counts_only_valid_rows(metrics_impl: ModuleType) -> None:
    parsed = metrics_impl.parse(b"bad\n1 1 1\n\n2 2 2 n d\n")
    assert parsed.datasets == [(1, "n", "d")]
    assert parsed.bad_lines == [(1, "expected 2, 3 or 5 fields, got 1"), (3, "blank line")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"0.5", 0.5),
        (b"-0.5", -0.5),
        (b"+2", 2.0),
        (b"1.", 1.0),
        (b".5", 0.5),
        (b"-.5e-3", -0.0005),
        (b"1e5", 1e5),
        (b"1E+05", 1e5),
        (b"7e-1", 0.7),
        (b"1e+20", 1e20),
        (b"1e400", math.inf),
        (b"-1e400", -math.inf),
        (b"1e-400", 0.0),
        (b"4.9e-324", 5e-324),
        (b"2.2250738585072014e-308", 2.2250738585072014e-308),
        (b"1.7976931348623157e308", 1.7976931348623157e308),
        (b"0.1000000000000000055511151231257827", 0.1),
        (b"9007199254740993", 9007199254740992.0),  # halfway: ties to even
        (b"9007199254740995", 9007199254740996.0),
        (b"18446744073709551615", 18446744073709551616.0),
        (b"0.30000000000000004", 0.30000000000000004),
        (b"123456789012345678e-27", 1.23456789012345678e-10),
        (b"00000000000000000000000001.5", 1.5),
        (b"inf", math.inf),
        (b"-inf", -math.inf),
        (b"+inf", math.inf),
        (b"Infinity", math.inf),
        (b"-iNfInItY", -math.inf),
    ],
)
def test_values_convert_exactly_as_float_does(
    metrics_impl: ModuleType, text: bytes, expected: float
) -> None:
    parsed = metrics_impl.parse(b"1 " + text + b" 0\n")
    assert parsed.bad_lines == []
    assert bits(parsed.values[0]) == bits(expected) == bits(float(text))


def test_negative_zero_keeps_its_sign(metrics_impl: ModuleType) -> None:
    values = metrics_impl.parse(b"1 -0 0\n1 -0.0e5 0\n1 0 0\n").values
    assert [math.copysign(1.0, v) for v in values] == [-1.0, -1.0, 1.0]


@pytest.mark.parametrize("text", [b"nan", b"NaN", b"NAN", b"-nan", b"+nan"])
def test_nan_in_any_case_and_sign(metrics_impl: ModuleType, text: bytes) -> None:
    value = metrics_impl.parse(b"1 " + text + b" 0\n").values[0]
    assert math.isnan(value)
    assert bits(value) == bits(float(text))


@pytest.mark.parametrize(
    "text",
    [
        b"1_0",  # float() accepts underscores
        b"0x1p3",  # strtod accepts hexadecimal
        b"0x10",
        b"1e",
        b"1e+",
        b"1e5.5",
        b".",
        b"e5",
        b"--1",
        b"+-1",
        b"1.5.2",
        b"nan1",
        b"infin",
        b"infinityy",
        b"in",
        b"nana",
        b"\xd9\xa1",  # ARABIC-INDIC DIGIT ONE: float() of the str would accept it
        b"\xef\xbc\x91",  # FULLWIDTH DIGIT ONE
        b"1\x00",
        b"1,5",
        b"1\t",
    ],
)
def test_values_outside_the_grammar_are_rejected(metrics_impl: ModuleType, text: bytes) -> None:
    parsed = metrics_impl.parse(b"1 0 0\n2 " + text + b" 0\n3 0 0\n")
    assert parsed.bad_lines == [(2, "invalid value")]
    assert list(parsed.timestamps) == [1, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"0", 0),
        (b"-0", 0),
        (b"+5", 5),
        (b"-17", -17),
        (b"9223372036854775807", INT64_MAX),
        (b"-9223372036854775808", INT64_MIN),
        (b"0" * 50 + b"42", 42),
        (b"-" + b"0" * 5000 + b"1", -1),  # int() itself refuses strings over 4300 digits
    ],
)
def test_integer_fields_within_int64(metrics_impl: ModuleType, text: bytes, expected: int) -> None:
    parsed = metrics_impl.parse(text + b" 1 " + text + b"\n")
    assert parsed.bad_lines == []
    assert list(parsed.timestamps) == [expected]
    assert list(parsed.steps) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        b"9223372036854775808",
        b"-9223372036854775809",
        b"99999999999999999999999",
        b"1" * 5000,
        b"1_000",
        b"0x10",
        b"1.0",
        b"1e3",
        b"+",
        b"-",
        b"--1",
        b"\xd9\xa3",  # ARABIC-INDIC DIGIT THREE
        b"\xc2\xb2",  # SUPERSCRIPT TWO
        b"nan",
    ],
)
def test_integer_fields_outside_the_grammar(metrics_impl: ModuleType, text: bytes) -> None:
    parsed = metrics_impl.parse(text + b" 1 2\n" + b"1 1 " + text + b"\n")
    assert parsed.bad_lines == [(1, "invalid timestamp"), (2, "invalid step")]
    assert len(parsed.timestamps) == 0


@pytest.mark.parametrize("at", [0, 1, 7, 8, 9, 15, 17])
@pytest.mark.parametrize("byte", [b"/", b":", b"\x00", b"\x80", b"\xb9", b"\xfa", b"\xff", b"a"])
def test_a_non_digit_anywhere_in_a_long_number(
    metrics_impl: ModuleType, at: int, byte: bytes
) -> None:
    # Digits are scanned eight at a time in the compiled twin: cover every lane, and bytes
    # whose arithmetic carries into the next lane.
    digits = b"12345678901234567"
    field = digits[:at] + byte + digits[at + 1 :]
    data = field + b" 1 2\n1 " + field + b" 2\n1 1 " + field + b"\n1 0." + field + b" 2\n"
    parsed = metrics_impl.parse(data)
    assert parsed.bad_lines == [
        (1, "invalid timestamp"),
        (2, "invalid value"),
        (3, "invalid step"),
        (4, "invalid value"),
    ]


@pytest.mark.parametrize("length", range(1, 21))
def test_digit_runs_of_every_length(metrics_impl: ModuleType, length: int) -> None:
    digits = ("98765432109876543210" * 2)[:length]
    data = f"{digits[:18]} {digits}.{digits}e-{length} -{digits[:18]}\n".encode()
    parsed = metrics_impl.parse(data)
    assert parsed.bad_lines == []
    assert list(parsed.timestamps) == [int(digits[:18])]
    assert list(parsed.steps) == [-int(digits[:18])]
    assert bits(parsed.values[0]) == bits(float(f"{digits}.{digits}e-{length}"))


def test_bad_lines_are_skipped_with_reason_and_line_number(metrics_impl: ModuleType) -> None:
    data = (
        b"1 1 1\n"  # 1
        b"\n"  # 2
        b" \t\r\x0b\x0c\n"  # 3
        b"1\n"  # 4
        b"1 2 3 4\n"  # 5
        b"1 2 3 4 5 6\n"  # 6
        b"x 1 1\n"  # 7
        b"1 x 1\n"  # 8
        b"1 1 x\n"  # 9
        b"1 1 1 a \xff\n"  # 10
        b"1 1 1  d\n"  # 11: empty dataset name
        b"1  1\n"  # 12: empty value field
        b"1 1  \n"  # 13: trailing blanks are stripped first
        b"1 1\t1\n"  # 14: a tab is not a separator
        b"2 2 2\n"  # 15
    )
    parsed = metrics_impl.parse(data)
    assert parsed.bad_lines == [
        (2, "blank line"),
        (3, "blank line"),
        (4, "expected 2, 3 or 5 fields, got 1"),
        (5, FIELDS_4),
        (6, "expected 2, 3 or 5 fields, got 6"),
        (7, "invalid timestamp"),
        (8, "invalid value"),
        (9, "invalid step"),
        (10, "invalid dataset name or digest"),
        (11, "invalid dataset name or digest"),
        (12, "invalid value"),
        (14, "invalid value"),
    ]
    assert columns(parsed) == ([1, 1, 2], [1.0, 1.0, 2.0], [1, 0, 2])
    assert parsed.torn is False


def test_field_count_is_checked_before_fields(metrics_impl: ModuleType) -> None:
    assert metrics_impl.parse(b"x y z w\n").bad_lines == [(1, FIELDS_4)]
    assert metrics_impl.parse(b"x y\n").bad_lines == [(1, "invalid timestamp")]
    assert metrics_impl.parse(b"1 y z\n").bad_lines == [(1, "invalid value")]


def test_dataset_fields_must_be_utf8(metrics_impl: ModuleType) -> None:
    data = (
        b"1 1 1 caf\xc3\xa9 \xf0\x9f\x99\x82\n"  # valid: café 🙂
        b"2 2 2 \xed\xa0\x80 d\n"  # an encoded surrogate is not UTF-8
        b"3 3 3 n \xc3\n"  # truncated sequence
        b"4 4 4 \xc0\xaf d\n"  # overlong encoding
        b"5 5 5 n\tx d\x00\n"  # any bytes but SP and LF are fine
    )
    parsed = metrics_impl.parse(data)
    assert parsed.datasets == [(0, "café", "🙂"), (1, "n\tx", "d\x00")]
    assert parsed.bad_lines == [(n, "invalid dataset name or digest") for n in (2, 3, 4)]


def test_surrounding_whitespace_and_crlf_are_stripped(metrics_impl: ModuleType) -> None:
    data = b"1 0.5 1\r\n  2 0.25 2\t\n\x0c3 1 3 n d \r\n"
    parsed = metrics_impl.parse(data)
    assert parsed.bad_lines == []
    assert columns(parsed) == ([1, 2, 3], [0.5, 0.25, 1.0], [1, 2, 3])
    assert parsed.datasets == [(2, "n", "d")]


# --- parse: torn tails and degenerate input -----------------------------------------------


def test_empty_input_has_no_points(metrics_impl: ModuleType) -> None:
    parsed = metrics_impl.parse(b"")
    assert columns(parsed) == ([], [], [])
    assert (parsed.datasets, parsed.bad_lines, parsed.torn) == ([], [], False)
    assert metrics_impl.latest(b"") is None


def test_single_lf_is_a_blank_line(metrics_impl: ModuleType) -> None:
    parsed = metrics_impl.parse(b"\n")
    assert parsed.bad_lines == [(1, "blank line")]
    assert not parsed.torn


@pytest.mark.parametrize(
    "tail",
    [b"4 0.5 3", b"4 0.5", b"4", b"4 0.", b"garbage", b"\r", b" ", b"4 0.5 3 name dig"],
)
def test_unterminated_last_line_is_torn_and_skipped(metrics_impl: ModuleType, tail: bytes) -> None:
    # "4 0.5 3" would parse, but it may be "4 0.5 31" cut short: never trust it.
    parsed = metrics_impl.parse(b"1 0.1 1\n2 0.2 2\n" + tail)
    assert columns(parsed) == ([1, 2], [0.1, 0.2], [1, 2])
    assert parsed.torn is True
    assert parsed.bad_lines == []
    latest = metrics_impl.latest(b"1 0.1 1\n2 0.2 2\n" + tail)
    assert latest == LatestPoint(2, 0.2, 2, None, None, 1)


def test_only_a_torn_line(metrics_impl: ModuleType) -> None:
    parsed = metrics_impl.parse(b"1 0.5 0")
    assert len(parsed.timestamps) == 0
    assert parsed.torn is True
    assert metrics_impl.latest(b"1 0.5 0") is None


@pytest.mark.parametrize("bad", ["1 1 1\n", bytearray(b"1 1 1\n"), memoryview(b"1 1 1\n"), None, 3])
def test_non_bytes_input_is_a_type_error(metrics_impl: ModuleType, bad: object) -> None:
    message = f"data must be bytes, not {type(bad).__name__}"
    with pytest.raises(TypeError, match=re.escape(message)):
        metrics_impl.parse(bad)
    with pytest.raises(TypeError, match=re.escape(message)):
        metrics_impl.latest(bad)


def test_bytes_subclass_is_accepted(metrics_impl: ModuleType) -> None:
    class Raw(bytes):
        pass

    assert list(metrics_impl.parse(Raw(b"1 2 3\n")).steps) == [3]


# --- latest: MLflow's max(key=(step, timestamp, value)) -----------------------------------


def test_latest_prefers_step_then_timestamp_then_value(metrics_impl: ModuleType) -> None:
    data = b"100 5.0 1\n50 1.0 2\n60 0.5 2\n60 0.7 2\n60 0.6 2\n10 9.0 0\n"
    assert metrics_impl.latest(data) == LatestPoint(60, 0.7, 2, None, None)


def test_latest_keeps_the_first_of_equal_keys(metrics_impl: ModuleType) -> None:
    data = b"1 0.5 1 first d1\n1 0.5 1 second d2\n1 -0.0 0\n"
    assert metrics_impl.latest(data) == LatestPoint(1, 0.5, 1, "first", "d1")
    zero = metrics_impl.latest(b"1 0.0 1\n1 -0.0 1\n")
    assert math.copysign(1.0, zero.value) == 1.0
    negative_zero = metrics_impl.latest(b"1 -0.0 1\n1 0.0 1\n")
    assert math.copysign(1.0, negative_zero.value) == -1.0


def test_latest_nan_neither_replaces_nor_is_replaced(metrics_impl: ModuleType) -> None:
    assert metrics_impl.latest(b"1 0.5 1\n1 nan 1\n").value == 0.5
    assert math.isnan(metrics_impl.latest(b"1 nan 1\n1 0.5 1\n1 inf 1\n").value)
    # A later step or timestamp still wins over a NaN, and a NaN there wins too.
    assert metrics_impl.latest(b"1 nan 1\n2 0.5 1\n").value == 0.5
    assert math.isnan(metrics_impl.latest(b"1 9 1\n1 nan 2\n").value)


def test_latest_skips_bad_and_torn_lines(metrics_impl: ModuleType) -> None:
    data = b"1 1 1\nx 1 9\n1 1 8 bad \xff\n1 1 7 ok d\n1 1 99"
    # Two malformed lines and the torn tail were skipped: the count says the file is damaged.
    assert metrics_impl.latest(data) == LatestPoint(1, 1.0, 7, "ok", "d", 3)
    assert metrics_impl.latest(b"junk\n\n") is None


def test_latest_returns_the_shared_type(metrics_impl: ModuleType) -> None:
    point = metrics_impl.latest(b"3 0.25 -1\n")
    assert type(point) is LatestPoint
    assert point == (3, 0.25, -1, None, None, 0)


# --- format_line / format_lines ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (1.0, "1.0"),
        (1e16, "1e+16"),
        (1e-05, "1e-05"),
        (123456789.0, "123456789.0"),
        (0.30000000000000004, "0.30000000000000004"),
        (-0.0, "-0.0"),
        (math.nan, "nan"),
        (-math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (7, "7.0"),
        (2**53 + 1, "9007199254740992.0"),
    ],
)
def test_format_line_writes_repr_of_float(
    metrics_impl: ModuleType, value: float, text: str
) -> None:
    expected = f"1700000000000 {text} 3\n".encode()
    assert metrics_impl.format_line(1700000000000, value, 3) == expected
    assert metrics_impl.format_lines([1700000000000], [value], [3]) == expected


@pytest.mark.parametrize(
    "value",
    [
        2.0**-24,  # 5.9604644775390625e-08 exactly; repr takes the 16-digit decimal above it
        2.0**-20,
        2.0**40,
        2.0**49 + 0.25,  # halfway between two 16-digit decimals: ties to even
        2.0**49 + 0.75,
        9.999999999999999e15,  # rounds up to the next power of ten
        1e-11,
        9.99999999999e-12,
        0.0001,
        0.00011,
        1e15,
        123456789012345.67,
        2.2250738585072014e-308,
        1.7976931348623157e308,
    ],
)
def test_format_line_matches_repr_at_the_edges(metrics_impl: ModuleType, value: float) -> None:
    for x in (value, -value, math.nextafter(value, 0), math.nextafter(value, math.inf)):
        assert metrics_impl.format_line(0, x, 0) == f"0 {x!r} 0\n".encode()


def test_format_line_int64_bounds(metrics_impl: ModuleType) -> None:
    line = metrics_impl.format_line(INT64_MIN, 0.5, INT64_MAX)
    assert line == b"-9223372036854775808 0.5 9223372036854775807\n"
    with pytest.raises(OverflowError, match=r"^timestamp out of int64 range: 9223372036854775808$"):
        metrics_impl.format_line(INT64_MAX + 1, 0.5, 0)
    with pytest.raises(OverflowError, match=r"^step out of int64 range: -9223372036854775809$"):
        metrics_impl.format_line(0, 0.5, INT64_MIN - 1)


def test_format_line_with_dataset(metrics_impl: ModuleType) -> None:
    line = metrics_impl.format_line(1, 0.5, 2, "train", "3f2a")
    assert line == b"1 0.5 2 train 3f2a\n"
    assert metrics_impl.format_line(1, 0.5, 2, "données", "é") == "1 0.5 2 données é\n".encode()


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((1.0, 0.5, 0), TypeError, "timestamp must be an int, not float"),
        ((True, 0.5, 0), TypeError, "timestamp must be an int, not bool"),
        (("1", 0.5, 0), TypeError, "timestamp must be an int, not str"),
        ((1, "0.5", 0), TypeError, "value must be a float or an int, not str"),
        ((1, None, 0), TypeError, "value must be a float or an int, not NoneType"),
        ((1, False, 0), TypeError, "value must be a float or an int, not bool"),
        ((1, 10**400, 0), OverflowError, "int too large to convert to float"),
        ((1, 0.5, 2.0), TypeError, "step must be an int, not float"),
        ((1, 0.5, False), TypeError, "step must be an int, not bool"),
        ((1, 0.5, 0, "n", None), ValueError, "given together"),
        ((1, 0.5, 0, None, "d"), ValueError, "given together"),
        ((1, 0.5, 0, "a b", "d"), ValueError, "dataset_name must be non-empty"),
        ((1, 0.5, 0, "", "d"), ValueError, "dataset_name must be non-empty"),
        ((1, 0.5, 0, "n", "d\n"), ValueError, "dataset_digest must be non-empty"),
        ((1, 0.5, 0, "n", "a\u2028b"), ValueError, "dataset_digest must be non-empty"),
        ((1, 0.5, 0, "n\x1c", "d"), ValueError, "dataset_name must be non-empty"),
        ((1, 0.5, 0, b"n", "d"), TypeError, "dataset_name must be a str, not bytes"),
        ((1, 0.5, 0, "\ud800", "d"), UnicodeEncodeError, "surrogates not allowed"),
        # Checked in argument order: the first offender is the one reported.
        ((1.0, "x", 2.0), TypeError, "timestamp must be an int"),
    ],
)
def test_format_line_rejects(
    metrics_impl: ModuleType, args: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        metrics_impl.format_line(*args)


def test_format_line_accepts_index_and_subclasses(metrics_impl: ModuleType) -> None:
    class Index:
        def __index__(self) -> int:
            return 42

    class MyInt(int):
        def __str__(self) -> str:
            return "not a number"

    class MyFloat(float):
        def __repr__(self) -> str:
            return "not a number"

    line = metrics_impl.format_line(Index(), MyFloat(0.25), MyInt(7))
    assert line == b"42 0.25 7\n"
    assert metrics_impl.format_lines([MyInt(1)], [MyFloat(2.5)], [Index()]) == b"1 2.5 42\n"


def test_format_lines_joins_three_field_lines(metrics_impl: ModuleType) -> None:
    out = metrics_impl.format_lines([1, 2, 3], [0.5, math.nan, 4], [0, -1, 2])
    assert out == b"1 0.5 0\n2 nan -1\n3 4.0 2\n"
    assert metrics_impl.format_lines([], [], []) == b""
    assert metrics_impl.format_lines((1,), (0.5,), (0,)) == b"1 0.5 0\n"
    assert metrics_impl.format_lines(iter([1]), (v for v in [0.5]), range(1)) == b"1 0.5 0\n"
    cols = (array.array("q", [5, 6]), array.array("d", [0.1, 0.2]), array.array("q", [7, 8]))
    assert metrics_impl.format_lines(*cols) == b"5 0.1 7\n6 0.2 8\n"


def test_format_lines_length_mismatch(metrics_impl: ModuleType) -> None:
    message = "timestamps, values and steps must have the same length, got 2, 1 and 2"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        metrics_impl.format_lines([1, 2], [0.5], [0, 1])


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (([1, 2], [0.5, "x"], [0, 1]), TypeError, "values[1] must be a float or an int, not str"),
        (([1, 2.0], [0.5, 1.0], [0, 1]), TypeError, "timestamps[1] must be an int, not float"),
        (([1, 2], [0.5, 1.0], [0, 2**63]), OverflowError, "steps[1] out of int64 range"),
        (([1, True], [0.5, 1.0], [0, 1]), TypeError, "timestamps[1] must be an int, not bool"),
        # Element by element, and within one element timestamp, value, step.
        (([1, 2], ["a", 1.0], [0, None]), TypeError, "values[0] must"),
        (([1, 2], [1.0, 1.0], [None, 0.5]), TypeError, "steps[0] must"),
        ((5, [], []), TypeError, "'int' object is not iterable"),
    ],
)
def test_format_lines_rejects(
    metrics_impl: ModuleType, args: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        metrics_impl.format_lines(*args)


def test_format_then_parse_gives_the_columns_back(metrics_impl: ModuleType) -> None:
    timestamps = [0, 1, INT64_MIN, INT64_MAX, 1700000000123]
    values = [0.1, -0.0, math.inf, 5e-324, math.nan]
    steps = [INT64_MAX, -5, 0, INT64_MIN, 3]
    parsed = metrics_impl.parse(metrics_impl.format_lines(timestamps, values, steps))
    assert list(parsed.timestamps) == timestamps
    assert list(parsed.steps) == steps
    assert [bits(v) for v in parsed.values[:4]] == [bits(v) for v in values[:4]]
    assert math.isnan(parsed.values[4])
    line = metrics_impl.format_line(7, 0.125, 9, "ds", "dig")
    assert metrics_impl.parse(line).datasets == [(0, "ds", "dig")]
    assert metrics_impl.latest(line) == LatestPoint(7, 0.125, 9, "ds", "dig")


# --- the selector and MLflow itself --------------------------------------------------------


def test_selector_exports_one_twin() -> None:
    assert _metrics.IMPL in {"trackstore._metrics_py", "trackstore._metrics_c"}
    assert _metrics.ParsedMetrics is ParsedMetrics
    assert _metrics.parse(b"1 2 3\n").steps.tolist() == [3]


@pytest.mark.mlflow
def test_reads_what_mlflow_writes(
    metrics_impl: ModuleType, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow_store = pytest.importorskip("mlflow.store.tracking.file_store")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.entities import Metric

    store = mlflow_store.FileStore(str(tmp_path / "mlruns"))
    experiment_id = store.create_experiment("metrics")
    run = store.create_run(experiment_id, "user", 0, [], "run")
    run_id = run.info.run_id
    points = [
        (1700000000000, 0.1, 0),
        (1700000000001, float("nan"), 1),
        (1700000000002, 1e20, 1),
        (1700000000002, -math.inf, 1),
        (1700000000003, 3, -4),
        (1700000000003, 1 / 3, 2),
    ]
    for ts, value, step in points:
        store.log_metric(run_id, Metric("loss", value, ts, step))
    store.log_metric(run_id, Metric("acc", 0.9, 5, 2, dataset_name="train", dataset_digest="abc"))
    metrics_dir = tmp_path / "mlruns" / experiment_id / run_id / "metrics"

    loss = (metrics_dir / "loss").read_bytes()
    parsed = metrics_impl.parse(loss)
    assert (parsed.bad_lines, parsed.torn) == ([], False)
    assert list(parsed.timestamps) == [p[0] for p in points]
    assert list(parsed.steps) == [p[2] for p in points]
    assert [bits(v) for v in parsed.values] == [bits(float(p[1])) for p in points]
    expected = store.get_run(run_id).data.metrics["loss"]
    assert bits(metrics_impl.latest(loss).value) == bits(expected)
    # Lines we write are byte-identical to MLflow's.
    assert metrics_impl.format_lines(*zip(*points, strict=True)) == loss.replace(
        b" 3 -4\n", b" 3.0 -4\n"
    )

    acc = (metrics_dir / "acc").read_bytes()
    assert acc == metrics_impl.format_line(5, 0.9, 2, "train", "abc")
    assert metrics_impl.latest(acc) == LatestPoint(5, 0.9, 2, "train", "abc")


# --- the pure twin against the grammar as a regular expression -----------------------------

VALUE_RE = re.compile(
    rb"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:nan|inf|infinity))"
)
INT_RE = re.compile(rb"[+-]?[0-9]+")
VALUE_ALPHABET = b"0123456789.eE+-_ xXpPnaNAiIfFtTyY\t\xd9\xa1"


@given(st.binary(max_size=12) | st.lists(st.sampled_from(VALUE_ALPHABET), max_size=12).map(bytes))
@example(b"1_0")
@example(b"0x1p3")
@example(b" 1")
def test_pure_value_check_is_the_grammar(field: bytes) -> None:
    accepted = _metrics_py._float(field) is not None
    assert accepted == bool(VALUE_RE.fullmatch(field))


@given(st.lists(st.sampled_from(b"0123456789+-_ \xd9\xa3"), max_size=25).map(bytes))
def test_pure_integer_check_is_the_grammar(field: bytes) -> None:
    number = _metrics_py._int64(field)
    if INT_RE.fullmatch(field) and INT64_MIN <= int(field) <= INT64_MAX:
        assert number == int(field)
    else:
        assert number is None


# --- hypothesis: py == c --------------------------------------------------------------------

TWINS_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

int64s = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(-3, 3),
    st.sampled_from([INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1, 1700000000000]),
)


@st.composite
def decimal_texts(draw: st.DrawFn) -> bytes:
    """Value text in every shape the grammar allows, weighted to the exact-conversion edges."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return repr(draw(st.floats())).encode()
    if kind == 1:
        special = draw(st.sampled_from(["nan", "inf", "infinity"]))
        special = "".join(c.upper() if draw(st.booleans()) else c for c in special)
        return (draw(st.sampled_from(["", "+", "-"])) + special).encode()
    integer = draw(st.text("0123456789", max_size=22))
    fraction = draw(st.none() | st.text("0123456789", max_size=22))
    if not integer and not fraction:
        integer = "0"
    text = integer if fraction is None else f"{integer}.{fraction}"
    if draw(st.booleans()):
        exponent = draw(st.integers(0, 340) | st.integers(0, 30))
        text += draw(st.sampled_from("eE")) + draw(st.sampled_from(["", "+", "-"])) + str(exponent)
    return (draw(st.sampled_from(["", "+", "-"])) + text).encode()


names = st.text(
    st.characters(blacklist_characters=" \n", blacklist_categories=("Cs",)), min_size=1, max_size=8
).map(lambda s: s.encode())
padding = st.sampled_from([b"", b"", b"", b" ", b"\r", b"\t ", b"\x0c"])


@st.composite
def metric_lines(draw: st.DrawFn) -> bytes:
    fields = [str(draw(int64s)).encode(), draw(decimal_texts())]
    count = draw(st.sampled_from([2, 3, 3, 3, 5]))
    if count >= 3:
        fields.append(str(draw(int64s)).encode())
    if count == 5:
        fields += [draw(names), draw(names)]
    return draw(padding) + b" ".join(fields) + draw(padding) + b"\n"


metric_files = st.lists(metric_lines(), max_size=12).map(b"".join)


@st.composite
def corrupted_files(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(metric_files))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.integers(0, 4))
        at = draw(st.integers(0, len(data)))
        if action == 0:
            del data[at:]
        elif action == 1 and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == 2:
            data[at:at] = draw(st.sampled_from([b" ", b"  ", b"\n", b"\r", b".", b"e", b"-"]))
        elif action == 3:
            data[at:at] = draw(st.binary(max_size=6))
        elif at < len(data):
            del data[at]
    return bytes(data)


any_files = st.one_of(
    metric_files,
    corrupted_files(),
    st.binary(max_size=200),
    st.lists(st.sampled_from(b"0123456789 .eE+-\n\r\tnaifNIy\xff"), max_size=200).map(bytes),
)


class Outcome(NamedTuple):
    value: Any
    error: tuple[type, str] | None


def outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return Outcome(snapshot(call()), None)
    except Exception as exc:
        return Outcome(None, (type(exc), str(exc)))


def snapshot(result: Any) -> Any:
    """A comparable form of a result: arrays and floats by their bytes, so NaN == NaN."""
    if isinstance(result, ParsedMetrics):
        return (
            type(result),
            tuple((col.typecode, col.tobytes()) for col in result[:3]),
            result.datasets,
            result.bad_lines,
            result.torn,
        )
    if isinstance(result, LatestPoint):
        return type(result), result._replace(value=bits(result.value))
    return result


def mlflow_max(parsed: ParsedMetrics) -> LatestPoint | None:
    """What MLflow's FileStore would report, built from python objects as MLflow does."""

    class Metric(NamedTuple):
        timestamp: int
        value: float
        step: int
        dataset_name: str | None
        dataset_digest: str | None

    named = {row: (name, digest) for row, name, digest in parsed.datasets}
    metrics = [
        Metric(ts, value, step, *named.get(row, (None, None)))
        for row, (ts, value, step) in enumerate(zip(*parsed[:3], strict=True))
    ]
    if not metrics:
        return None
    skipped = len(parsed.bad_lines) + parsed.torn
    return LatestPoint(*max(metrics, key=lambda m: (m.step, m.timestamp, m.value)), skipped)


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(data=any_files)
@example(data=b"1 0.5 1\n1 nan 1\n1 0.7 1\n")
@example(data=b"1 nan 1\n1 0.5 1\n")
@example(data=b"-9223372036854775809 1 1\n1 1 9223372036854775808\n")
def test_twins_parse_and_latest_agree(
    metrics_twins: tuple[ModuleType, ModuleType], data: bytes
) -> None:
    py, c = metrics_twins
    parsed = outcome(lambda: py.parse(data))
    assert parsed == outcome(lambda: c.parse(data))
    assert outcome(lambda: py.latest(data)) == outcome(lambda: c.latest(data))


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(text=decimal_texts())
def test_twins_convert_values_identically(
    metrics_twins: tuple[ModuleType, ModuleType], text: bytes
) -> None:
    py, c = metrics_twins
    data = b"1 " + text + b" 2\n"
    expected = float(text)
    assert bits(py.parse(data).values[0]) == bits(expected)
    assert bits(c.parse(data).values[0]) == bits(expected)


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(
    mantissa=st.integers(1, 10**19 - 1) | st.integers(2**53 - 8, 2**64),
    exponent=st.integers(-45, 45),
)
def test_twins_round_exact_decimals_like_float(
    metrics_twins: tuple[ModuleType, ModuleType], mantissa: int, exponent: int
) -> None:
    _, c = metrics_twins
    text = f"{mantissa}e{exponent}".encode()
    assert bits(c.parse(b"1 " + text + b"\n").values[0]) == bits(float(text))


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(x=st.floats(min_value=1e-30, max_value=1e30), up=st.booleans())
def test_twins_round_halfway_decimals_to_even(
    metrics_twins: tuple[ModuleType, ModuleType], x: float, up: bool
) -> None:
    _, c = metrics_twins
    other = math.nextafter(x, math.inf if up else -math.inf)
    with decimal.localcontext() as ctx:
        ctx.prec = 1000
        halfway = (decimal.Decimal(x) + decimal.Decimal(other)) / 2
    text = f"{halfway:f}".encode()
    assert bits(c.parse(b"0 " + text + b"\n").values[0]) == bits(float(text))


@pytest.mark.c_ext
@settings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(x=st.floats(min_value=1e-12, max_value=2e16) | st.floats(allow_nan=False))
def test_twins_format_floats_as_repr(
    metrics_twins: tuple[ModuleType, ModuleType], x: float
) -> None:
    _, c = metrics_twins
    assert c.format_line(1, x, 2) == f"1 {x!r} 2\n".encode()
    assert c.format_line(1, -x, 2) == f"1 {-x!r} 2\n".encode()


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(
    data=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.sampled_from([0.0, -0.0, 1.0, math.nan, -math.nan, math.inf, -math.inf, 0.5]),
            st.integers(0, 2),
            st.booleans(),
        ),
        max_size=10,
    )
)
def test_latest_is_mlflows_max(
    metrics_twins: tuple[ModuleType, ModuleType], data: list[tuple[int, float, int, bool]]
) -> None:
    py, c = metrics_twins
    lines = [
        py.format_line(ts, value, step, *((f"n{i}", f"d{i}") if named else ()))
        for i, (ts, value, step, named) in enumerate(data)
    ]
    file = b"".join(lines)
    expected = snapshot(mlflow_max(py.parse(file)))
    assert snapshot(py.latest(file)) == expected
    assert snapshot(c.latest(file)) == expected


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(data=any_files)
def test_latest_is_mlflows_max_on_any_input(
    metrics_twins: tuple[ModuleType, ModuleType], data: bytes
) -> None:
    py, c = metrics_twins
    expected = snapshot(mlflow_max(py.parse(data)))
    assert snapshot(py.latest(data)) == expected
    assert snapshot(c.latest(data)) == expected


format_ints = st.one_of(
    int64s,
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.none(),
    st.text(max_size=2),
)
format_values = st.one_of(
    st.floats(),
    st.integers(-(10**20), 10**20),
    st.integers(),
    st.booleans(),
    st.none(),
    st.text(max_size=2),
)
dataset_args = st.none() | st.text(max_size=4) | st.binary(max_size=2)


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(args=st.tuples(format_ints, format_values, format_ints, dataset_args, dataset_args))
def test_twins_format_line_agree(
    metrics_twins: tuple[ModuleType, ModuleType], args: tuple[Any, Any, Any, Any, Any]
) -> None:
    py, c = metrics_twins
    ts, value, step, name, digest = args
    expected = outcome(lambda: py.format_line(ts, value, step, name, digest))
    assert outcome(lambda: c.format_line(ts, value, step, name, digest)) == expected
    if expected.error is None and name is None:
        assert expected.value == f"{ts} {float(value)!r} {step}\n".encode()


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(
    rows=st.lists(st.tuples(format_ints, format_values, format_ints), max_size=8),
    drop=st.sampled_from([None, 0, 1, 2]),
)
def test_twins_format_lines_agree(
    metrics_twins: tuple[ModuleType, ModuleType],
    rows: list[tuple[Any, Any, Any]],
    drop: int | None,
) -> None:
    py, c = metrics_twins
    cols = [list(col) for col in zip(*rows, strict=True)] if rows else [[], [], []]
    if drop is not None and rows:
        cols[drop].pop()
    assert outcome(lambda: c.format_lines(*cols)) == outcome(lambda: py.format_lines(*cols))


@pytest.mark.c_ext
@TWINS_SETTINGS
@given(rows=st.lists(st.tuples(int64s, st.floats(), int64s), max_size=20))
def test_twins_cross_round_trip(
    metrics_twins: tuple[ModuleType, ModuleType], rows: list[tuple[int, float, int]]
) -> None:
    py, c = metrics_twins
    cols: list[list[Any]] = [list(col) for col in zip(*rows, strict=True)] if rows else [[], [], []]
    written = c.format_lines(*cols)
    assert written == py.format_lines(*cols)
    for reader in (py, c):
        parsed = reader.parse(written)
        assert (parsed.bad_lines, parsed.torn) == ([], False)
        assert list(parsed.timestamps) == cols[0]
        assert list(parsed.steps) == cols[2]
        for got, want in zip(parsed.values, cols[1], strict=True):
            assert math.isnan(want) if math.isnan(got) else bits(got) == bits(want)
    assume(rows)
    ts, value, step = rows[0]
    line = py.format_line(ts, value, step, "name", "digest")
    assert c.format_line(ts, value, step, "name", "digest") == line
    assert snapshot(c.parse(line)) == snapshot(py.parse(line))
