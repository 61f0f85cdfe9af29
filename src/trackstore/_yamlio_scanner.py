"""YAML text to tokens, by LibYAML's algorithm (``scanner.c``): the first half of the pure parser.

The compiled twin uses LibYAML itself, so the pure twin must accept exactly the streams
LibYAML 0.2.5 accepts and read the same scalars from them. :class:`_Scanner` therefore follows
LibYAML's scanner step by step, without sharing its code: simple keys (a ``KEY`` token
inserted when a ``:`` shows that the previous scalar was a key; at most 1024 characters, one
line), indentation (``BLOCK-*-START``/``BLOCK-END`` tokens), the five scalar styles with
their folding rules, directives, anchors and tags. :mod:`._yamlio_parser` turns the tokens
into events.

Tokens are tuples ``(kind, mark, a, b)`` with ``mark = (line, column)``, 0-based; ``a`` and
``b`` are the value and style of a scalar (``""`` plain, ``"'"``, ``'"'``, ``"|"``, ``">"``),
the name of an anchor or alias, the handle and suffix of a tag, or a directive's parts.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "T_ALIAS",
    "T_ANCHOR",
    "T_BLOCK_END",
    "T_BLOCK_ENTRY",
    "T_BLOCK_MAPPING_START",
    "T_BLOCK_SEQUENCE_START",
    "T_DOCUMENT_END",
    "T_DOCUMENT_START",
    "T_FLOW_ENTRY",
    "T_FLOW_MAPPING_END",
    "T_FLOW_MAPPING_START",
    "T_FLOW_SEQUENCE_END",
    "T_FLOW_SEQUENCE_START",
    "T_KEY",
    "T_SCALAR",
    "T_STREAM_END",
    "T_STREAM_START",
    "T_TAG",
    "T_TAG_DIRECTIVE",
    "T_VALUE",
    "T_VERSION_DIRECTIVE",
    "YamlSyntaxError",
    "describe_mark",
    "scan_tokens",
]

# Token kinds.
(
    T_STREAM_START,
    T_STREAM_END,
    T_VERSION_DIRECTIVE,
    T_TAG_DIRECTIVE,
    T_DOCUMENT_START,
    T_DOCUMENT_END,
    T_BLOCK_SEQUENCE_START,
    T_BLOCK_MAPPING_START,
    T_BLOCK_END,
    T_FLOW_SEQUENCE_START,
    T_FLOW_SEQUENCE_END,
    T_FLOW_MAPPING_START,
    T_FLOW_MAPPING_END,
    T_BLOCK_ENTRY,
    T_FLOW_ENTRY,
    T_KEY,
    T_VALUE,
    T_ALIAS,
    T_ANCHOR,
    T_TAG,
    T_SCALAR,
) = range(21)

_BREAK = "\r\n\x85\u2028\u2029"
_BREAKZ = _BREAK + "\0"
_BLANK = " \t"
_BLANKZ = _BLANK + _BREAKZ
_ALPHA = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")
_HEX = frozenset("0123456789ABCDEFabcdef")
_URI = _ALPHA | frozenset(";/?:@&=+$.%!~*'()")
_URI_VERBATIM = _URI | frozenset(",[]")
# Characters that cannot start a plain scalar (some can when followed by a non-blank).
_NOT_PLAIN_START = frozenset("-?:,[]{}#&*!|>'\"%@`") | frozenset(_BLANKZ)
# Characters after which fetch_next_token has something to decide; any other one starts a
# plain scalar whatever the context.
_DECISIVE = frozenset("%-.[]{},?:*&!|>'\"#@`") | frozenset(_BLANKZ)
_ANCHOR_END = frozenset(_BLANKZ) | frozenset("?:,]}%@`")
_FLOW_INDICATORS = frozenset(",[]{}")
_FLOW_AFTER_COLON = frozenset(",?[]{}")
# fmt: off
_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b",
    "f": "\x0c", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
    "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}
# fmt: on
_ESCAPE_LENGTHS = {"x": 2, "u": 4, "U": 8}
# UTF-8 sequence length by leading octet (its top 4 bits, or top 5 from 0xF0 up).
_UTF8_WIDTHS = {**dict.fromkeys(range(8), 1), 12: 2, 13: 2, 14: 3, 30: 4}
_PAD = "\0" * 16  # LibYAML sees NUL past the end of the input
_PLAIN_RUN_BLOCK = re.compile("[^ \t\r\n\x85\u2028\u2029\0:]+")
_PLAIN_RUN_FLOW = re.compile("[^ \t\r\n\x85\u2028\u2029\0:,\\[\\]{}]+")
_SINGLE_RUN = re.compile("[^ \t\r\n\x85\u2028\u2029\0']+")
_DOUBLE_RUN = re.compile('[^ \t\r\n\x85\u2028\u2029\0"\\\\]+')
_LINE_REST = re.compile("[^\r\n\x85\u2028\u2029\0]*")


def describe_mark(mark: tuple[int, int]) -> str:
    """``"line L, column C"`` (1-based) for a ``(line, column)`` mark."""
    return f"line {mark[0] + 1}, column {mark[1] + 1}"


class YamlSyntaxError(Exception):
    """LibYAML would reject the stream; ``str()`` is the problem and where it was found."""


class _SimpleKey:
    __slots__ = ("column", "index", "line", "possible", "required", "token_number")

    def __init__(self) -> None:
        self.possible = False
        self.required = False
        self.token_number = 0
        self.index = self.line = self.column = 0


class _Scanner:
    """``scanner.c``: turns the text into the full list of tokens ``(kind, mark, a, b)``."""

    def __init__(self, text: str) -> None:
        self.s = text + _PAD
        self.end = len(text)
        self.pos = 0  # LibYAML's mark.index: characters, a CR LF pair counts two
        self.line = 0
        self.column = 0
        self.tokens: list[tuple[Any, ...]] = []
        self.indent = -1
        self.indents: list[int] = []
        self.flow_level = 0
        self.simple_key_allowed = True
        self.simple_keys = [_SimpleKey()]

    # -- errors, marks and cursor movement ------------------------------------------------

    def mark(self) -> tuple[int, int]:
        return (self.line, self.column)

    def error(self, context: str | None, problem: str) -> YamlSyntaxError:
        where = f"{context}: " if context else ""
        return YamlSyntaxError(f"{where}{problem} at {describe_mark(self.mark())}")

    def skip(self, count: int = 1) -> None:
        self.pos += count
        self.column += count

    def skip_line(self) -> None:
        s, pos = self.s, self.pos
        if s[pos] == "\r" and s[pos + 1] == "\n":
            self.pos += 2
        elif s[pos] in _BREAK:
            self.pos += 1
        else:
            return
        self.column = 0
        self.line += 1

    def read_line(self) -> str:
        """Consume one line break and return it normalised (CR LF, CR, NEL become LF)."""
        s, pos = self.s, self.pos
        char = s[pos]
        if char == "\r" and s[pos + 1] == "\n":
            self.pos += 2
            char = "\n"
        elif char in _BREAK:
            self.pos += 1
            if char in "\r\x85":
                char = "\n"
        else:
            return ""
        self.column = 0
        self.line += 1
        return char

    def token(self, kind: int, a: Any = None, b: Any = None) -> None:
        self.tokens.append((kind, self.mark(), a, b))

    # -- the token loop ---------------------------------------------------------------------

    def scan(self) -> list[tuple[Any, ...]]:
        self.token(T_STREAM_START)
        while not self.tokens or self.tokens[-1][0] != T_STREAM_END:
            self.fetch_next_token()
        return self.tokens

    def fetch_next_token(self) -> None:
        self.scan_to_next_token()
        self.stale_simple_keys()
        self.unroll_indent(self.column)
        s, pos = self.s, self.pos
        char = s[pos]
        if char not in _DECISIVE:
            return self.fetch_plain_scalar()
        if char == "\0":
            return self.fetch_stream_end()
        if self.column == 0:
            if char == "%":
                return self.fetch_directive()
            if s[pos + 3] in _BLANKZ and s[pos : pos + 3] in ("---", "..."):
                return self.fetch_document_indicator(
                    T_DOCUMENT_START if char == "-" else T_DOCUMENT_END
                )
        following = s[pos + 1]
        if char in "[{":
            return self.fetch_flow_collection_start(
                T_FLOW_SEQUENCE_START if char == "[" else T_FLOW_MAPPING_START
            )
        if char in "]}":
            return self.fetch_flow_collection_end(
                T_FLOW_SEQUENCE_END if char == "]" else T_FLOW_MAPPING_END
            )
        if char == ",":
            return self.fetch_flow_entry()
        if char == "-" and following in _BLANKZ:
            return self.fetch_block_entry()
        if char == "?" and (self.flow_level or following in _BLANKZ):
            return self.fetch_key()
        if char == ":" and (self.flow_level or following in _BLANKZ):
            return self.fetch_value()
        if char == "*":
            return self.fetch_anchor(T_ALIAS)
        if char == "&":
            return self.fetch_anchor(T_ANCHOR)
        if char == "!":
            return self.fetch_tag()
        if char in "|>" and not self.flow_level:
            return self.fetch_block_scalar(char == "|")
        if char in "'\"":
            return self.fetch_flow_scalar(char == "'")
        if (
            char not in _NOT_PLAIN_START
            or (char == "-" and following not in _BLANK)
            or (not self.flow_level and char in "?:" and following not in _BLANKZ)
        ):
            return self.fetch_plain_scalar()
        raise self.error(
            "while scanning for the next token", "found character that cannot start any token"
        )

    # -- simple keys and indentation ---------------------------------------------------------

    def stale_simple_keys(self) -> None:
        for key in self.simple_keys:
            if key.possible and (key.line < self.line or key.index + 1024 < self.pos):
                if key.required:
                    raise self.error("while scanning a simple key", "could not find expected ':'")
                key.possible = False

    def save_simple_key(self) -> None:
        if self.simple_key_allowed:
            self.remove_simple_key()
            key = self.simple_keys[-1]
            key.possible = True
            key.required = not self.flow_level and self.indent == self.column
            key.token_number = len(self.tokens)
            key.index, key.line, key.column = self.pos, self.line, self.column

    def remove_simple_key(self) -> None:
        key = self.simple_keys[-1]
        if key.possible and key.required:
            raise self.error("while scanning a simple key", "could not find expected ':'")
        key.possible = False

    def roll_indent(
        self, column: int, number: int | None, kind: int, mark: tuple[int, int]
    ) -> None:
        if self.flow_level or self.indent >= column:
            return
        self.indents.append(self.indent)
        self.indent = column
        if number is None:
            self.tokens.append((kind, mark, None, None))
        else:
            self.tokens.insert(number, (kind, mark, None, None))

    def unroll_indent(self, column: int) -> None:
        if self.flow_level:
            return
        while self.indent > column:
            self.token(T_BLOCK_END)
            self.indent = self.indents.pop()

    # -- token fetchers ------------------------------------------------------------------------

    def fetch_stream_end(self) -> None:
        if self.column != 0:
            self.column = 0
            self.line += 1
        self.unroll_indent(-1)
        self.remove_simple_key()
        self.simple_key_allowed = False
        self.token(T_STREAM_END)

    def fetch_directive(self) -> None:
        self.unroll_indent(-1)
        self.remove_simple_key()
        self.simple_key_allowed = False
        self.scan_directive()

    def fetch_document_indicator(self, kind: int) -> None:
        self.unroll_indent(-1)
        self.remove_simple_key()
        self.simple_key_allowed = False
        self.token(kind)
        self.skip(3)

    def fetch_flow_collection_start(self, kind: int) -> None:
        self.save_simple_key()
        self.simple_keys.append(_SimpleKey())
        self.flow_level += 1
        self.simple_key_allowed = True
        self.token(kind)
        self.skip()

    def fetch_flow_collection_end(self, kind: int) -> None:
        self.remove_simple_key()
        if self.flow_level:
            self.flow_level -= 1
            self.simple_keys.pop()
        self.simple_key_allowed = False
        self.token(kind)
        self.skip()

    def fetch_flow_entry(self) -> None:
        self.remove_simple_key()
        self.simple_key_allowed = True
        self.token(T_FLOW_ENTRY)
        self.skip()

    def fetch_block_entry(self) -> None:
        if not self.flow_level:
            if not self.simple_key_allowed:
                raise self.error(None, "block sequence entries are not allowed in this context")
            self.roll_indent(self.column, None, T_BLOCK_SEQUENCE_START, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = True
        self.token(T_BLOCK_ENTRY)
        self.skip()

    def fetch_key(self) -> None:
        if not self.flow_level:
            if not self.simple_key_allowed:
                raise self.error(None, "mapping keys are not allowed in this context")
            self.roll_indent(self.column, None, T_BLOCK_MAPPING_START, self.mark())
        self.remove_simple_key()
        self.simple_key_allowed = not self.flow_level
        self.token(T_KEY)
        self.skip()

    def fetch_value(self) -> None:
        key = self.simple_keys[-1]
        if key.possible:
            mark = (key.line, key.column)
            self.tokens.insert(key.token_number, (T_KEY, mark, None, None))
            self.roll_indent(key.column, key.token_number, T_BLOCK_MAPPING_START, mark)
            key.possible = False
            self.simple_key_allowed = False
        else:
            if not self.flow_level:
                if not self.simple_key_allowed:
                    raise self.error(None, "mapping values are not allowed in this context")
                self.roll_indent(self.column, None, T_BLOCK_MAPPING_START, self.mark())
            self.simple_key_allowed = not self.flow_level
        self.token(T_VALUE)
        self.skip()

    def fetch_anchor(self, kind: int) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.scan_anchor(kind)

    def fetch_tag(self) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.scan_tag()

    def fetch_block_scalar(self, literal: bool) -> None:
        self.remove_simple_key()
        self.simple_key_allowed = True
        self.scan_block_scalar(literal)

    def fetch_flow_scalar(self, single: bool) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.scan_flow_scalar(single)

    def fetch_plain_scalar(self) -> None:
        self.save_simple_key()
        self.simple_key_allowed = False
        self.scan_plain_scalar()

    # -- scanners ---------------------------------------------------------------------------

    def scan_to_next_token(self) -> None:
        s = self.s
        while True:
            if self.column == 0 and s[self.pos] == "\ufeff":
                self.skip()
            tabs_ok = self.flow_level or not self.simple_key_allowed
            while s[self.pos] == " " or (tabs_ok and s[self.pos] == "\t"):
                self.skip()
            if s[self.pos] == "#":
                end = _LINE_REST.match(s, self.pos).end()  # type: ignore[union-attr]
                self.column += end - self.pos
                self.pos = end
            if s[self.pos] in _BREAK:
                self.skip_line()
                if not self.flow_level:
                    self.simple_key_allowed = True
            else:
                return

    def skip_blanks_and_comment(self) -> None:
        s = self.s
        while s[self.pos] in _BLANK:
            self.skip()
        if s[self.pos] == "#":
            while s[self.pos] not in _BREAKZ:
                self.skip()

    def scan_directive(self) -> None:
        mark = self.mark()
        context = "while scanning a directive"
        self.skip()
        start = self.pos
        while self.s[self.pos] in _ALPHA:
            self.skip()
        name = self.s[start : self.pos]
        if not name:
            raise self.error(context, "could not find expected directive name")
        if self.s[self.pos] not in _BLANKZ:
            raise self.error(context, "found unexpected non-alphabetical character")
        if name == "YAML":
            while self.s[self.pos] in _BLANK:
                self.skip()
            major = self.scan_version_number()
            if self.s[self.pos] != ".":
                raise self.error(
                    "while scanning a %YAML directive",
                    "did not find expected digit or '.' character",
                )
            self.skip()
            minor = self.scan_version_number()
            self.tokens.append((T_VERSION_DIRECTIVE, mark, major, minor))
        elif name == "TAG":
            while self.s[self.pos] in _BLANK:
                self.skip()
            handle = self.scan_tag_handle(directive=True)
            if self.s[self.pos] not in _BLANK:
                raise self.error(
                    "while scanning a %TAG directive", "did not find expected whitespace"
                )
            while self.s[self.pos] in _BLANK:
                self.skip()
            prefix = self.scan_tag_uri(verbatim=True, directive=True, head="")
            if self.s[self.pos] not in _BLANKZ:
                raise self.error(
                    "while scanning a %TAG directive",
                    "did not find expected whitespace or line break",
                )
            self.tokens.append((T_TAG_DIRECTIVE, mark, handle, prefix))
        else:
            raise self.error(context, "found unknown directive name")
        self.skip_blanks_and_comment()
        if self.s[self.pos] not in _BREAKZ:
            raise self.error(context, "did not find expected comment or line break")
        self.skip_line()

    def scan_version_number(self) -> int:
        start = self.pos
        while self.s[self.pos].isascii() and self.s[self.pos].isdigit():
            if self.pos - start >= 9:
                raise self.error(
                    "while scanning a %YAML directive", "found extremely long version number"
                )
            self.skip()
        if self.pos == start:
            raise self.error(
                "while scanning a %YAML directive", "did not find expected version number"
            )
        return int(self.s[start : self.pos])

    def scan_anchor(self, kind: int) -> None:
        mark = self.mark()
        self.skip()
        start = self.pos
        while self.s[self.pos] in _ALPHA:
            self.skip()
        if self.pos == start or self.s[self.pos] not in _ANCHOR_END:
            raise self.error(
                "while scanning an anchor" if kind == T_ANCHOR else "while scanning an alias",
                "did not find expected alphabetic or numeric character",
            )
        self.tokens.append((kind, mark, self.s[start : self.pos], None))

    def scan_tag(self) -> None:
        mark = self.mark()
        if self.s[self.pos + 1] == "<":
            handle = ""
            self.skip(2)
            suffix = self.scan_tag_uri(verbatim=True, directive=False, head="")
            if self.s[self.pos] != ">":
                raise self.error("while scanning a tag", "did not find the expected '>'")
            self.skip()
        else:
            handle = self.scan_tag_handle(directive=False)
            if len(handle) > 1 and handle[0] == "!" and handle[-1] == "!":
                suffix = self.scan_tag_uri(verbatim=False, directive=False, head="")
            else:
                suffix = self.scan_tag_uri(verbatim=False, directive=False, head=handle)
                handle = "!"
                if not suffix:
                    handle, suffix = "", "!"
        if self.s[self.pos] not in _BLANKZ and not (self.flow_level and self.s[self.pos] == ","):
            raise self.error(
                "while scanning a tag", "did not find expected whitespace or line break"
            )
        self.tokens.append((T_TAG, mark, handle, suffix))

    def scan_tag_handle(self, directive: bool) -> str:
        s = self.s
        if s[self.pos] != "!":
            raise self.error(
                "while scanning a tag directive" if directive else "while scanning a tag",
                "did not find expected '!'",
            )
        start = self.pos
        self.skip()
        while s[self.pos] in _ALPHA:
            self.skip()
        if s[self.pos] == "!":
            self.skip()
        elif directive and self.pos - start != 1:
            raise self.error("while parsing a tag directive", "did not find expected '!'")
        return s[start : self.pos]

    def scan_tag_uri(self, verbatim: bool, directive: bool, head: str) -> str:
        """A tag's URI part; *head* is a would-be handle that turned out to start the URI."""
        allowed = _URI_VERBATIM if verbatim else _URI
        context = "while parsing a %TAG directive" if directive else "while parsing a tag"
        length = len(head)
        parts = [head[1:]]
        s = self.s
        while s[self.pos] in allowed:
            if s[self.pos] == "%":
                parts.append(self.scan_uri_escapes(context))
            else:
                parts.append(s[self.pos])
                self.skip()
            length += 1
        if not length:
            raise self.error(context, "did not find expected tag URI")
        return "".join(parts)

    def scan_uri_escapes(self, context: str) -> str:
        """Decode ``%XX`` escapes making up one UTF-8 character (kept as raw octets)."""
        octets = bytearray()
        width = 0
        while True:
            s, pos = self.s, self.pos
            if not (s[pos] == "%" and s[pos + 1] in _HEX and s[pos + 2] in _HEX):
                raise self.error(context, "did not find URI escaped octet")
            octet = int(s[pos + 1 : pos + 3], 16)
            if not width:
                width = _UTF8_WIDTHS.get(octet >> 4 if octet < 0xF0 else octet >> 3, 0)
                if not width:
                    raise self.error(context, "found an incorrect leading UTF-8 octet")
            elif octet & 0xC0 != 0x80:
                raise self.error(context, "found an incorrect trailing UTF-8 octet")
            octets.append(octet)
            self.skip(3)
            width -= 1
            if not width:
                return octets.decode("latin-1")

    def scan_block_scalar(self, literal: bool) -> None:
        mark = self.mark()
        context = "while scanning a block scalar"
        s = self.s
        self.skip()
        chomping = 0
        increment = 0
        if s[self.pos] in "+-":
            chomping = 1 if s[self.pos] == "+" else -1
            self.skip()
            if s[self.pos] in "0123456789":
                if s[self.pos] == "0":
                    raise self.error(context, "found an indentation indicator equal to 0")
                increment = int(s[self.pos])
                self.skip()
        elif s[self.pos] in "0123456789":
            if s[self.pos] == "0":
                raise self.error(context, "found an indentation indicator equal to 0")
            increment = int(s[self.pos])
            self.skip()
            if s[self.pos] in "+-":
                chomping = 1 if s[self.pos] == "+" else -1
                self.skip()
        self.skip_blanks_and_comment()
        if s[self.pos] not in _BREAKZ:
            raise self.error(context, "did not find expected comment or line break")
        self.skip_line()
        indent = 0
        if increment:
            indent = self.indent + increment if self.indent >= 0 else increment
        chunks: list[str] = []
        leading_break = ""
        leading_blank = False
        indent, trailing_breaks = self.scan_block_scalar_breaks(indent)
        while self.column == indent and s[self.pos] != "\0":
            trailing_blank = s[self.pos] in _BLANK
            if (
                not literal
                and leading_break.startswith("\n")
                and not leading_blank
                and not trailing_blank
            ):
                if not trailing_breaks:
                    chunks.append(" ")
            else:
                chunks.append(leading_break)
            leading_break = ""
            chunks.append(trailing_breaks)
            leading_blank = s[self.pos] in _BLANK
            end = _LINE_REST.match(s, self.pos).end()  # type: ignore[union-attr]
            chunks.append(s[self.pos : end])
            self.column += end - self.pos
            self.pos = end
            leading_break = self.read_line()
            indent, trailing_breaks = self.scan_block_scalar_breaks(indent)
        if chomping != -1:
            chunks.append(leading_break)
        if chomping == 1:
            chunks.append(trailing_breaks)
        self.tokens.append((T_SCALAR, mark, "".join(chunks), "|" if literal else ">"))

    def scan_block_scalar_breaks(self, indent: int) -> tuple[int, str]:
        s = self.s
        max_indent = 0
        breaks: list[str] = []
        while True:
            while (not indent or self.column < indent) and s[self.pos] == " ":
                self.skip()
            max_indent = max(max_indent, self.column)
            if (not indent or self.column < indent) and s[self.pos] == "\t":
                raise self.error(
                    "while scanning a block scalar",
                    "found a tab character where an indentation space is expected",
                )
            if s[self.pos] not in _BREAK:
                break
            breaks.append(self.read_line())
        if not indent:
            indent = max(max_indent, self.indent + 1, 1)
        return indent, "".join(breaks)

    def at_document_indicator(self) -> bool:
        s, pos = self.s, self.pos
        return self.column == 0 and s[pos : pos + 3] in ("---", "...") and s[pos + 3] in _BLANKZ

    def scan_flow_scalar(self, single: bool) -> None:
        mark = self.mark()
        s = self.s
        quote = "'" if single else '"'
        run = _SINGLE_RUN if single else _DOUBLE_RUN
        self.skip()
        chunks: list[str] = []
        leading_break = trailing_breaks = whitespaces = ""
        while True:
            if self.at_document_indicator():
                raise self.error(
                    "while scanning a quoted scalar", "found unexpected document indicator"
                )
            if s[self.pos] == "\0":
                raise self.error("while scanning a quoted scalar", "found unexpected end of stream")
            leading_blanks = False
            while s[self.pos] not in _BLANKZ:
                char = s[self.pos]
                if single and char == "'" and s[self.pos + 1] == "'":
                    chunks.append("'")
                    self.skip(2)
                elif char == quote:
                    break
                elif not single and char == "\\" and s[self.pos + 1] in _BREAK:
                    self.skip()
                    self.skip_line()
                    leading_blanks = True
                    break
                elif not single and char == "\\":
                    chunks.append(self.scan_escape())
                else:
                    end = run.match(s, self.pos).end()  # type: ignore[union-attr]
                    chunks.append(s[self.pos : end])
                    self.column += end - self.pos
                    self.pos = end
            if s[self.pos] == quote:
                break
            while s[self.pos] in _BLANK or s[self.pos] in _BREAK:
                if s[self.pos] in _BLANK:
                    if not leading_blanks:
                        whitespaces += s[self.pos]
                    self.skip()
                elif not leading_blanks:
                    whitespaces = ""
                    leading_break = self.read_line()
                    leading_blanks = True
                else:
                    trailing_breaks += self.read_line()
            if leading_blanks:
                if leading_break.startswith("\n"):
                    chunks.append(trailing_breaks or " ")
                else:
                    chunks.append(leading_break + trailing_breaks)
                leading_break = trailing_breaks = ""
            else:
                chunks.append(whitespaces)
                whitespaces = ""
        self.skip()
        self.tokens.append((T_SCALAR, mark, "".join(chunks), quote))

    def scan_escape(self) -> str:
        s, pos = self.s, self.pos
        code = s[pos + 1]
        simple = _ESCAPES.get(code)
        if simple is not None:
            self.skip(2)
            return simple
        length = _ESCAPE_LENGTHS.get(code)
        if length is None:
            raise self.error("while parsing a quoted scalar", "found unknown escape character")
        self.skip(2)
        digits = s[pos + 2 : pos + 2 + length]
        if len(digits) < length or any(digit not in _HEX for digit in digits):
            raise self.error(
                "while parsing a quoted scalar", "did not find expected hexdecimal number"
            )
        value = int(digits, 16)
        if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
            raise self.error(
                "while parsing a quoted scalar", "found invalid Unicode character escape code"
            )
        self.skip(length)
        return chr(value)

    def scan_plain_scalar(self) -> None:
        mark = self.mark()
        s = self.s
        flow = self.flow_level
        run = _PLAIN_RUN_FLOW if flow else _PLAIN_RUN_BLOCK
        indent = self.indent + 1
        chunks: list[str] = []
        leading_break = trailing_breaks = whitespaces = ""
        leading_blanks = False
        while True:
            if self.at_document_indicator() or s[self.pos] == "#":
                break
            while True:
                char = s[self.pos]
                if char in _BLANKZ:
                    break
                if char == ":":
                    following = s[self.pos + 1]
                    if flow and following in _FLOW_AFTER_COLON:
                        raise self.error("while scanning a plain scalar", "found unexpected ':'")
                    if following in _BLANKZ:
                        break
                    end = self.pos + 1
                elif flow and char in _FLOW_INDICATORS:
                    break
                else:
                    # A run of characters that need no decision, taken in one step.
                    end = run.match(s, self.pos).end()  # type: ignore[union-attr]
                if leading_blanks:
                    if leading_break.startswith("\n"):
                        chunks.append(trailing_breaks or " ")
                    else:
                        chunks.append(leading_break + trailing_breaks)
                    leading_break = trailing_breaks = ""
                    leading_blanks = False
                elif whitespaces:
                    chunks.append(whitespaces)
                    whitespaces = ""
                chunks.append(s[self.pos : end])
                self.column += end - self.pos
                self.pos = end
            if not (s[self.pos] in _BLANK or s[self.pos] in _BREAK):
                break
            while s[self.pos] in _BLANK or s[self.pos] in _BREAK:
                if s[self.pos] in _BLANK:
                    if leading_blanks and self.column < indent and s[self.pos] == "\t":
                        raise self.error(
                            "while scanning a plain scalar",
                            "found a tab character that violates indentation",
                        )
                    if not leading_blanks:
                        whitespaces += s[self.pos]
                    self.skip()
                elif not leading_blanks:
                    whitespaces = ""
                    leading_break = self.read_line()
                    leading_blanks = True
                else:
                    trailing_breaks += self.read_line()
            if not flow and self.column < indent:
                break
        self.tokens.append((T_SCALAR, mark, "".join(chunks), ""))
        if leading_blanks:
            self.simple_key_allowed = True


def scan_tokens(text: str) -> list[tuple[Any, ...]]:
    """All tokens of *text* (BOM already removed), or :class:`YamlSyntaxError`."""
    return _Scanner(text).scan()
