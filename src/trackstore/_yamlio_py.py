"""``meta.yaml`` documents: the pure-Python twin of :mod:`trackstore._yamlio_c` and the spec.

MLflow writes ``meta.yaml`` with ``yaml.safe_dump(data, default_flow_style=False,
allow_unicode=True, sort_keys=True)`` and reads it with PyYAML's ``CSafeLoader``. This module
reads and writes the same documents without PyYAML. Both twins give identical results and raise
identical errors; the compiled twin binds LibYAML's event parser and emitter directly.

**Input.** :func:`load` takes ``bytes`` (anything else is a ``TypeError``). The bytes must be
UTF-8; one leading UTF-8 byte-order mark is skipped. Other encodings (LibYAML would also
detect UTF-16 by its BOM) are rejected as ``"not valid UTF-8"``.

**Syntax** is exactly the syntax LibYAML 0.2.5 accepts: YAML 1.1 streams with block and flow
collections, plain, single-quoted, double-quoted (every escape), literal and folded scalars
(chomping and indentation indicators), comments, ``---``/``...`` markers and ``%YAML``/``%TAG``
directives. :mod:`trackstore._yamlio_scanner` and :mod:`trackstore._yamlio_parser`
re-express LibYAML's scanner and parser in Python, so a document is accepted here exactly
when LibYAML accepts it, with the same scalars, quirks included (a lone ``...`` or ``[?]`` is
an error, ``[a:b]`` holds ``"a:b"``). Other LibYAML releases differ in rare corners (the one
bundled in PyYAML's wheels accepts ``[?]``).

**Language.** Within that syntax, a document is loaded only if it stays inside what
``meta.yaml`` needs; the value then equals ``yaml.load(data, Loader=yaml.SafeLoader)``:

* at most one document; an empty stream (nothing, blanks, comments) loads as ``None``;
* no anchors or aliases, no tags (not even ``!`` or ``!!str``), and no plain ``<<`` or ``=``
  scalar anywhere (SafeLoader merges ``<<`` keys, reads ``=`` keys as ``"="`` and fails on
  both as values);
* mapping keys are scalars; a repeated key keeps its last value;
* block and quoted scalars are ``str``; plain scalars resolve with PyYAML's YAML 1.1 rules:
  ``null`` (``~``, ``null``, ``Null``, ``NULL``, empty), ``bool`` (``yes``/``no``/``true``/
  ``false``/``on``/``off`` in lower, Capitalised and UPPER case), ``int`` (decimal with
  ``_``, ``0b``, ``0x``, leading-``0`` octal, base 60 such as ``1:20``), ``float`` (a ``.`` is
  required: ``1.0e+3`` and ``.5`` are floats, ``1e3`` is a string; ``.inf``, ``-.inf``,
  ``.nan``, base 60), timestamps (``datetime.date`` or ``datetime.datetime``, aware when an
  offset is given), anything else ``str``. Text that matches a type's pattern without being
  a valid value (``2001-02-30``, ``0x_``, an int of more than 4300 digits) is an error, as it
  is in SafeLoader.

**Errors** are :class:`~trackstore.exceptions.MalformedYamlError` with one of the ``MSG_*``
messages below as ``str(error)``; ``error.detail`` is the parser's own diagnosis (LibYAML's
problem and position, or this module's) and may differ between the twins. Syntax errors win:
a document that is not valid YAML reports :data:`MSG_NOT_YAML` even when it also uses, say, an
anchor; among the other errors the first one in document order is reported.

**Output.** :func:`dump` takes a mapping with ``str`` keys and ``str``, ``int``, ``float``,
``bool``, ``None``, mapping and ``list``/``tuple`` values (nested at most
:data:`MAX_DEPTH` deep) and writes one block-style document: keys sorted, two-space indent,
sequences at their key's indent (``- item``), empty collections as ``[]``/``{}``, no line
folding, UTF-8 with non-ASCII text written as is. Scalars are written

* plain when LibYAML's emitter allows it and the text reads back as the same ``str``;
* else single-quoted when the text has no line break and only characters LibYAML calls
  printable (``\\n``, ``\\x20``-``\\x7e``, ``\\xa0``-``\\ud7ff``, ``\\ue000``-``\\ufffd`` but
  not the BOM; astral characters are not);
* else double-quoted, with LibYAML's escapes.

Numbers, booleans and ``None`` are written as PyYAML writes them (``1.0e+20``, ``.nan``,
``-.inf``, ``true``, ``null``). A key longer than 128 UTF-8 bytes or with a line break is
written LibYAML's way, as ``? key`` then ``: value``. For typical ``meta.yaml`` content the
bytes equal PyYAML's; strings with line breaks or long lines differ in layout (PyYAML quotes
line breaks with single quotes and folds at 80 columns) but load back equal, in PyYAML too.
Other value types and non-``str`` keys raise ``TypeError``; unpaired surrogates, nesting
deeper than :data:`MAX_DEPTH` (cycles included) and ints too long for ``str()`` raise
``ValueError``. Both twins check in the same order, so they raise the same error.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from typing import Any

from ._yamlio_parser import (
    EV_ALIAS,
    EV_DOCUMENT_START,
    EV_MAPPING_END,
    EV_MAPPING_START,
    EV_SCALAR,
    EV_SEQUENCE_END,
    EV_SEQUENCE_START,
    YamlSyntaxError,
    describe_mark,
    parse_events,
)
from .exceptions import MalformedYamlError

__all__ = [
    "MAX_DEPTH",
    "MSG_ANCHORS",
    "MSG_BAD_SCALAR",
    "MSG_MERGE_KEYS",
    "MSG_MULTIPLE_DOCUMENTS",
    "MSG_NON_SCALAR_KEY",
    "MSG_NOT_UTF8",
    "MSG_NOT_YAML",
    "MSG_TAGS",
    "MSG_VALUE_KEYS",
    "dump",
    "load",
]

MSG_NOT_UTF8 = "not valid UTF-8"
MSG_NOT_YAML = "not valid YAML"
MSG_MULTIPLE_DOCUMENTS = "more than one YAML document"
MSG_ANCHORS = "YAML anchors and aliases are not supported in meta.yaml"
MSG_TAGS = "YAML tags are not supported in meta.yaml"
MSG_MERGE_KEYS = "YAML merge keys ('<<') are not supported in meta.yaml"
MSG_VALUE_KEYS = "YAML value keys ('=') are not supported in meta.yaml"
MSG_NON_SCALAR_KEY = "mapping keys must be scalars in meta.yaml"
MSG_BAD_SCALAR = "a plain scalar matches a YAML 1.1 type but is not a valid value of it"

#: Deepest nesting :func:`dump` writes (the top mapping is level 0).
MAX_DEPTH = 100

# Characters LibYAML's reader rejects anywhere in a stream.
_NOT_ALLOWED = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def load(data: bytes) -> Any:
    """Parse one YAML document from UTF-8 *data* as SafeLoader would (see the module docstring)."""
    if not isinstance(data, bytes):
        raise TypeError(load_type_message(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedYamlError(MSG_NOT_UTF8, str(exc)) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = _NOT_ALLOWED.search(text)
    if bad is not None:
        raise MalformedYamlError(
            MSG_NOT_YAML, f"control characters are not allowed (#x{ord(bad.group()):X})"
        )
    try:
        events = parse_events(text)
    except YamlSyntaxError as exc:
        raise MalformedYamlError(MSG_NOT_YAML, str(exc)) from None
    return _compose(events)


def load_type_message(data: object) -> str:
    return f"load() argument must be bytes, not {type(data).__name__!r}"


class _Collection:
    """A mapping or sequence being built, and whether it waits for a key or a value."""

    __slots__ = ("is_mapping", "key", "key_done", "value")

    def __init__(self, value: dict[Any, Any] | list[Any]) -> None:
        self.value = value
        self.is_mapping = isinstance(value, dict)
        self.key: Any = None
        self.key_done = False


_BAD_KEY = object()  # stands for a non-scalar key: its value is parsed but not stored
_STARTS = (EV_MAPPING_START, EV_SEQUENCE_START)
_ENDS = (EV_MAPPING_END, EV_SEQUENCE_END)


def _node_error(event: tuple[Any, ...]) -> MalformedYamlError | None:
    """The language error of a node's properties: an anchor, else a tag."""
    _, mark, anchor, tag = event[:4]
    if anchor is not None:
        return MalformedYamlError(MSG_ANCHORS, f"anchor &{anchor} at {describe_mark(mark)}")
    if tag is not None:
        return MalformedYamlError(MSG_TAGS, f"tag {tag} at {describe_mark(mark)}")
    return None


def _compose(events: list[tuple[Any, ...]]) -> Any:
    """Build the document's value; raise the first language error in document order."""
    error: MalformedYamlError | None = None
    stack: list[_Collection] = []
    root: Any = None
    documents = 0
    for event in events:
        kind = event[0]
        if kind == EV_SCALAR:
            value = event[4]
            if error is None:
                error = _node_error(event)
                if error is None and event[5]:
                    try:
                        value = resolve_plain(value)
                    except MalformedYamlError as exc:
                        error = exc
        elif kind in _STARTS:
            if error is None:
                error = _node_error(event)
                if error is None and stack and stack[-1].is_mapping and not stack[-1].key_done:
                    where = describe_mark(event[1])
                    error = MalformedYamlError(MSG_NON_SCALAR_KEY, f"collection key at {where}")
            stack.append(_Collection({} if kind == EV_MAPPING_START else []))
            continue
        elif kind in _ENDS:
            value = stack.pop().value
            if stack and stack[-1].is_mapping and not stack[-1].key_done:
                value = _BAD_KEY
        elif kind == EV_ALIAS:
            if error is None:
                where = describe_mark(event[1])
                error = MalformedYamlError(MSG_ANCHORS, f"alias *{event[2]} at {where}")
            value = None
        elif kind == EV_DOCUMENT_START:
            documents += 1
            if documents > 1 and error is None:
                where = describe_mark(event[1])
                error = MalformedYamlError(MSG_MULTIPLE_DOCUMENTS, f"document at {where}")
            continue
        else:
            continue
        if not stack:
            if documents == 1:
                root = value
            continue
        top = stack[-1]
        if not top.is_mapping:
            top.value.append(value)  # type: ignore[union-attr]
        elif not top.key_done:
            top.key = value
            top.key_done = True
        else:
            if top.key is not _BAD_KEY:
                top.value[top.key] = value
            top.key_done = False
    if error is not None:
        raise error
    return root


# --- YAML 1.1 implicit resolution, as PyYAML's Resolver and SafeConstructor do it ----------

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOL_WORDS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_BOOLS = {
    spelling: value
    for word, value in _BOOL_WORDS.items()
    for spelling in (word, word.capitalize(), word.upper())
}
_INT = re.compile(
    r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
)
_FLOAT = re.compile(
    r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9][0-9]?)-(?P<day>[0-9][0-9]?)"
    r"(?:(?:[Tt]|[ \t]+)(?P<hour>[0-9][0-9]?):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]*))?"
    r"(?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9][0-9]?)(?::(?P<tz_minute>[0-9]{2}))?))?)?"
)
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Plain scalars whose first character cannot start a null, bool, number, timestamp, merge or
# value key are strings; checking that first spares the regular expressions.
_RESOLVABLE_FIRST = frozenset("~nNyYtTfFoO-+0123456789.<=")


def resolve_plain(value: str) -> Any:
    """The Python value of a plain scalar under PyYAML's SafeLoader rules.

    Raises :class:`MalformedYamlError` for ``<<`` and ``=`` and for text that matches a type's
    pattern without being a valid value (``2001-02-30``, ``0x_``), where SafeLoader would fail.
    """
    if not value:
        return None
    if value[0] not in _RESOLVABLE_FIRST:
        return value
    if value in _NULLS:
        return None
    found = _BOOLS.get(value)
    if found is not None:
        return found
    if value == "<<":
        raise MalformedYamlError(MSG_MERGE_KEYS, "plain '<<'")
    if value == "=":
        raise MalformedYamlError(MSG_VALUE_KEYS, "plain '='")
    try:
        if _INT.fullmatch(value):
            return _construct_int(value)
        if _FLOAT.fullmatch(value):
            return _construct_float(value)
        if _is_timestamp(value):
            return _construct_timestamp(value)
    except ValueError as exc:
        raise MalformedYamlError(MSG_BAD_SCALAR, f"{value!r}: {exc}") from None
    return value


def plain_is_str(value: str) -> bool:
    """Whether *value*, written as a plain scalar, reads back as a ``str``."""
    if not value:
        return False
    if value[0] not in _RESOLVABLE_FIRST:
        return True
    return not (
        value in _NULLS
        or value in _BOOLS
        or value in ("<<", "=")
        or _INT.fullmatch(value)
        or _FLOAT.fullmatch(value)
        or _is_timestamp(value)
    )


def _is_timestamp(value: str) -> bool:
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return False
    return match.group("hour") is not None or _DATE_ONLY.fullmatch(value) is not None


def _construct_int(text: str) -> int:
    value = text.replace("_", "")
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value[0] == "0":
        return sign * int(value, 8)
    if ":" in value:
        total = 0
        for part in value.split(":"):
            total = total * 60 + int(part)
        return sign * total
    return sign * int(value)


def _construct_float(text: str) -> float:
    value = text.replace("_", "").lower()
    sign = -1.0 if value[0] == "-" else 1.0
    if value[0] in "+-":
        value = value[1:]
    if value == ".inf":
        return sign * math.inf
    if value == ".nan":
        return math.nan
    if ":" in value:
        parts = value.split(":")
        total = 0.0
        base = 1.0
        for part in reversed(parts):
            total += float(part) * base
            base *= 60
        return sign * total
    return sign * float(value)


def _construct_timestamp(text: str) -> datetime.date | datetime.datetime:
    match = _TIMESTAMP.fullmatch(text)
    assert match is not None
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    if match["hour"] is None:
        return datetime.date(year, month, day)
    fraction = match["fraction"]
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    tzinfo: datetime.tzinfo | None = None
    if match["tz_sign"]:
        delta = datetime.timedelta(
            hours=int(match["tz_hour"]), minutes=int(match["tz_minute"] or 0)
        )
        tzinfo = datetime.timezone(-delta if match["tz_sign"] == "-" else delta)
    elif match["tz"]:
        tzinfo = datetime.timezone.utc
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
    return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=tzinfo)


# --- dump ------------------------------------------------------------------------------------

PLAIN, SINGLE, DOUBLE = 0, 1, 2

# Anything LibYAML's emitter does not call printable, and line breaks: double quotes.
_NEEDS_DOUBLE = re.compile("[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BREAKS = re.compile("[\r\n\x85\u2028\u2029]")
# fmt: off
_ESCAPES = {
    "\0": "0", "\x07": "a", "\x08": "b", "\t": "t", "\n": "n", "\x0b": "v", "\x0c": "f",
    "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\u2028": "L", "\u2029": "P",
}
# fmt: on
_TO_ESCAPE = re.compile('["\\\\]|[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]')


def dump(data: Mapping[str, Any]) -> bytes:
    """Write *data* as a block-style YAML document (layout and scalar styles: module docstring)."""
    if not isinstance(data, Mapping):
        raise TypeError(dump_type_message(data, top=True))
    emitter = _Emitter()
    emitter.mapping(data, 0, False)
    emitter.write_indent()  # LibYAML's implicit document end
    return "".join(emitter.out).encode("utf-8")


def scalar_style(text: str) -> int:
    """``PLAIN``, ``SINGLE`` or ``DOUBLE``: the quoting :func:`dump` uses for *text*.

    Plain needs LibYAML's own test for plain block scalars to pass (no leading or trailing
    space, no ``---``/``...`` start, no indicator first, no ``": "``, ``" #"`` or trailing
    ``:``) and the text to read back as a ``str``; the twins pass the chosen style to the
    emitter, which therefore never changes it.
    """
    if not text:
        return SINGLE
    if _NEEDS_DOUBLE.search(text):
        return DOUBLE
    if _plain_allowed(text) and plain_is_str(text):
        return PLAIN
    return SINGLE


def _plain_allowed(text: str) -> bool:
    first = text[0]
    if first == " " or text[-1] == " " or text.startswith(("---", "...")):
        return False
    if first in "#,[]{}&*!|>'\"%@`":
        return False
    if first in "?:-" and (len(text) == 1 or text[1] == " "):
        return False
    return not (text.find(": ", 1) != -1 or text.endswith(":") or " #" in text)


def float_text(value: float) -> str:
    """A float as PyYAML's SafeRepresenter writes it (``1.0e+20``, ``.nan``, ``-.inf``)."""
    if math.isnan(value):
        return ".nan"
    if value == math.inf:
        return ".inf"
    if value == -math.inf:
        return "-.inf"
    text = float.__repr__(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def dump_type_message(value: object, top: bool = False) -> str:
    if top:
        return f"dump() argument must be a mapping, not {type(value).__name__!r}"
    return f"cannot write a value of type {type(value).__name__!r} to meta.yaml"


def key_type_message(key: object) -> str:
    return f"meta.yaml mapping keys must be str, not {type(key).__name__!r}"


def depth_message() -> str:
    return f"cannot write data nested more than {MAX_DEPTH} levels deep to meta.yaml"


def surrogate_message() -> str:
    return "cannot write a str with unpaired surrogates to meta.yaml"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    short = _ESCAPES.get(char)
    if short is not None:
        return "\\" + short
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


class _Emitter:
    """The layout decisions of LibYAML's emitter, for block collections of single-line scalars.

    State and rules follow ``emitter.c`` (``write_indent``, ``write_indicator``,
    ``increase_indent``, indentless sequences in mappings, ``? key`` for keys that cannot be
    simple), so the output is byte-identical to the compiled twin's.
    """

    def __init__(self) -> None:
        self.out: list[str] = []
        self.column = 0
        self.whitespace = True
        self.indention = True
        self.indent = -1
        self.indents: list[int] = []

    def put(self, text: str) -> None:
        self.out.append(text)
        self.column += len(text)

    def write_indent(self) -> None:
        indent = max(self.indent, 0)
        if (
            not self.indention
            or self.column > indent
            or (self.column == indent and not self.whitespace)
        ):
            self.out.append("\n")
            self.column = 0
        if self.column < indent:
            self.put(" " * (indent - self.column))
        self.whitespace = self.indention = True

    def write_indicator(
        self, text: str, need_whitespace: bool, is_whitespace: bool, is_indention: bool
    ) -> None:
        if need_whitespace and not self.whitespace:
            self.put(" ")
        self.put(text)
        self.whitespace = is_whitespace
        self.indention = self.indention and is_indention

    def increase_indent(self, indentless: bool) -> None:
        self.indents.append(self.indent)
        if self.indent < 0:
            self.indent = 0
        elif not indentless:
            self.indent += 2

    def text(self, value: str) -> None:
        style = scalar_style(value)
        if style == DOUBLE and _SURROGATE.search(value):
            raise ValueError(surrogate_message())
        self.scalar(value, style)

    def scalar(self, value: str, style: int) -> None:
        if style == PLAIN:
            if not self.whitespace:
                self.put(" ")
            self.put(value)
        elif style == SINGLE:
            self.write_indicator("'", True, False, False)
            self.put(value.replace("'", "''"))
            self.write_indicator("'", False, False, False)
        else:
            self.write_indicator('"', True, False, False)
            self.put(_TO_ESCAPE.sub(_escape, value))
            self.write_indicator('"', False, False, False)
        self.whitespace = self.indention = False

    def node(self, value: Any, depth: int, mapping_context: bool) -> None:
        if isinstance(value, str):
            self.text(value)
        elif value is None:
            self.scalar("null", PLAIN)
        elif value is True:
            self.scalar("true", PLAIN)
        elif value is False:
            self.scalar("false", PLAIN)
        elif isinstance(value, int):
            self.scalar(int.__repr__(value), PLAIN)
        elif isinstance(value, float):
            self.scalar(float_text(value), PLAIN)
        elif isinstance(value, Mapping):
            self.mapping(value, depth, mapping_context)
        elif isinstance(value, (list, tuple)):
            self.sequence(value, depth, mapping_context)
        else:
            raise TypeError(dump_type_message(value))

    def mapping(self, value: Mapping[Any, Any], depth: int, mapping_context: bool) -> None:
        if depth > MAX_DEPTH:
            raise ValueError(depth_message())
        keys = []
        for key in value:
            if not isinstance(key, str):
                raise TypeError(key_type_message(key))
            keys.append(key)
        keys.sort()
        if not keys:
            self.write_indicator("{", True, True, False)
            self.write_indicator("}", False, False, False)
            return
        self.increase_indent(False)
        for key in keys:
            self.write_indent()
            # LibYAML writes a key as "? key" when it spans lines or exceeds 128 bytes.
            if _BREAKS.search(key) or (len(key) > 32 and len(key.encode("utf-8", "replace")) > 128):
                self.write_indicator("?", True, False, True)
                self.text(key)
                self.write_indent()
                self.write_indicator(":", True, False, True)
            else:
                self.text(key)
                self.write_indicator(":", False, False, False)
            self.node(value[key], depth + 1, True)
        self.indent = self.indents.pop()

    def sequence(
        self, value: list[Any] | tuple[Any, ...], depth: int, mapping_context: bool
    ) -> None:
        if depth > MAX_DEPTH:
            raise ValueError(depth_message())
        if not value:
            self.write_indicator("[", True, True, False)
            self.write_indicator("]", False, False, False)
            return
        self.increase_indent(mapping_context and not self.indention)
        for item in value:
            self.write_indent()
            self.write_indicator("-", True, False, True)
            self.node(item, depth + 1, False)
        self.indent = self.indents.pop()
