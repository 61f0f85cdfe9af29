"""Tokens to parse events, by LibYAML's algorithm (``parser.c``): the syntax half of ``_yamlio_py``.

:func:`parse_events` runs :mod:`._yamlio_scanner` over the whole text, then LibYAML's LL(1)
parser (a state machine with a stack of states, written here as :class:`_Parser` whose methods
are the states) over the tokens. Because every stream is parsed to its end, the whole token
list can be scanned first: LibYAML's lazy, interleaved scanning yields the same tokens (its
scanner never looks at the parser's state), and only *whether* a stream is valid matters, not
which error comes first. Directives are checked (one ``%YAML 1.1`` or ``1.2``, no duplicate
``%TAG``) and tag handles resolved, so an undefined handle is a syntax error as in LibYAML.

Events are tuples ``(kind, mark, ...)`` where ``mark`` is ``(line, column)``, 0-based:
``(EV_SCALAR, mark, anchor, tag, value, plain)``, ``(EV_SEQUENCE_START|EV_MAPPING_START,
mark, anchor, tag)``, ``(EV_ALIAS, mark, name)`` and ``(other kinds, mark)``. ``tag`` is the
resolved tag text or ``None``; ``plain`` says the scalar was plain and untagged.
"""

from __future__ import annotations

from typing import Any

from ._yamlio_scanner import (
    T_ALIAS,
    T_ANCHOR,
    T_BLOCK_END,
    T_BLOCK_ENTRY,
    T_BLOCK_MAPPING_START,
    T_BLOCK_SEQUENCE_START,
    T_DOCUMENT_END,
    T_DOCUMENT_START,
    T_FLOW_ENTRY,
    T_FLOW_MAPPING_END,
    T_FLOW_MAPPING_START,
    T_FLOW_SEQUENCE_END,
    T_FLOW_SEQUENCE_START,
    T_KEY,
    T_SCALAR,
    T_STREAM_END,
    T_TAG,
    T_TAG_DIRECTIVE,
    T_VALUE,
    T_VERSION_DIRECTIVE,
    YamlSyntaxError,
    describe_mark,
    scan_tokens,
)

__all__ = [
    "EV_ALIAS",
    "EV_DOCUMENT_END",
    "EV_DOCUMENT_START",
    "EV_MAPPING_END",
    "EV_MAPPING_START",
    "EV_SCALAR",
    "EV_SEQUENCE_END",
    "EV_SEQUENCE_START",
    "EV_STREAM_END",
    "EV_STREAM_START",
    "YamlSyntaxError",
    "describe_mark",
    "parse_events",
]

(
    EV_STREAM_START,
    EV_STREAM_END,
    EV_DOCUMENT_START,
    EV_DOCUMENT_END,
    EV_ALIAS,
    EV_SCALAR,
    EV_SEQUENCE_START,
    EV_SEQUENCE_END,
    EV_MAPPING_START,
    EV_MAPPING_END,
) = range(10)

_DEFAULT_TAG_HANDLES = {"!": "!", "!!": "tag:yaml.org,2002:"}


class _Parser:
    """``parser.c``: an LL(1) state machine over the tokens, emitting events."""

    def __init__(self, tokens: list[tuple[Any, ...]]) -> None:
        self.tokens = tokens
        self.at = 0
        self.events: list[tuple[Any, ...]] = []
        self.states: list[Any] = []
        self.tag_handles: dict[str, str] = {}

    def error(self, context: str | None, problem: str, token: tuple[Any, ...]) -> YamlSyntaxError:
        where = f"{context}: " if context else ""
        return YamlSyntaxError(f"{where}{problem} at {describe_mark(token[1])}")

    def parse(self) -> list[tuple[Any, ...]]:
        state: Any = self.implicit_document_start
        self.events.append((EV_STREAM_START, self.tokens[0][1]))
        self.at = 1
        while state is not None:
            state = state()
        return self.events

    def pop_state(self) -> Any:
        return self.states.pop()

    # Each state method consumes tokens, appends one event and returns the next state.

    def implicit_document_start(self) -> Any:
        token = self.tokens[self.at]
        if token[0] not in (T_VERSION_DIRECTIVE, T_TAG_DIRECTIVE, T_DOCUMENT_START, T_STREAM_END):
            self.tag_handles = dict(_DEFAULT_TAG_HANDLES)
            self.states.append(self.document_end)
            self.events.append((EV_DOCUMENT_START, token[1]))
            return self.block_node
        return self.document_start()

    def document_start(self) -> Any:
        tokens = self.tokens
        while tokens[self.at][0] == T_DOCUMENT_END:
            self.at += 1
        token = tokens[self.at]
        if token[0] == T_STREAM_END:
            self.events.append((EV_STREAM_END, token[1]))
            return None
        self.process_directives()
        token = tokens[self.at]
        if token[0] != T_DOCUMENT_START:
            raise self.error(None, "did not find expected <document start>", token)
        self.states.append(self.document_end)
        self.events.append((EV_DOCUMENT_START, token[1]))
        self.at += 1
        return self.document_content

    def process_directives(self) -> None:
        version_seen = False
        handles: dict[str, str] = {}
        tokens = self.tokens
        while tokens[self.at][0] in (T_VERSION_DIRECTIVE, T_TAG_DIRECTIVE):
            token = tokens[self.at]
            if token[0] == T_VERSION_DIRECTIVE:
                if version_seen:
                    raise self.error(None, "found duplicate %YAML directive", token)
                if token[2] != 1 or token[3] not in (1, 2):
                    raise self.error(None, "found incompatible YAML document", token)
                version_seen = True
            else:
                if token[2] in handles:
                    raise self.error(None, "found duplicate %TAG directive", token)
                handles[token[2]] = token[3]
            self.at += 1
        for handle, prefix in _DEFAULT_TAG_HANDLES.items():
            handles.setdefault(handle, prefix)
        self.tag_handles = handles

    def document_content(self) -> Any:
        token = self.tokens[self.at]
        if token[0] in (
            T_VERSION_DIRECTIVE,
            T_TAG_DIRECTIVE,
            T_DOCUMENT_START,
            T_DOCUMENT_END,
            T_STREAM_END,
        ):
            self.events.append((EV_SCALAR, token[1], None, None, "", True))
            return self.pop_state()
        return self.parse_node(block=True, indentless_sequence=False)

    def document_end(self) -> Any:
        token = self.tokens[self.at]
        if token[0] == T_DOCUMENT_END:
            self.at += 1
        self.events.append((EV_DOCUMENT_END, token[1]))
        return self.document_start

    def block_node(self) -> Any:
        return self.parse_node(block=True, indentless_sequence=False)

    def block_node_or_indentless_sequence(self) -> Any:
        return self.parse_node(block=True, indentless_sequence=True)

    def flow_node(self) -> Any:
        return self.parse_node(block=False, indentless_sequence=False)

    def parse_node(self, block: bool, indentless_sequence: bool) -> Any:
        tokens = self.tokens
        token = tokens[self.at]
        if token[0] == T_ALIAS:
            self.events.append((EV_ALIAS, token[1], token[2]))
            self.at += 1
            return self.pop_state()
        start = token
        anchor: str | None = None
        handle: str | None = None
        suffix = ""
        tag_token = token
        if token[0] == T_ANCHOR:
            anchor = token[2]
            self.at += 1
            token = tokens[self.at]
            if token[0] == T_TAG:
                tag_token = token
                handle, suffix = token[2], token[3]
                self.at += 1
                token = tokens[self.at]
        elif token[0] == T_TAG:
            handle, suffix = token[2], token[3]
            self.at += 1
            token = tokens[self.at]
            if token[0] == T_ANCHOR:
                anchor = token[2]
                self.at += 1
                token = tokens[self.at]
        tag = None
        if handle is not None:
            if not handle:
                tag = suffix
            elif handle in self.tag_handles:
                tag = self.tag_handles[handle] + suffix
            else:
                raise self.error("while parsing a node", "found undefined tag handle", tag_token)
        kind = token[0]
        if indentless_sequence and kind == T_BLOCK_ENTRY:
            self.events.append((EV_SEQUENCE_START, start[1], anchor, tag))
            return self.indentless_sequence_entry
        if kind == T_SCALAR:
            self.events.append(
                (EV_SCALAR, start[1], anchor, tag, token[2], token[3] == "" and tag is None)
            )
            self.at += 1
            return self.pop_state()
        if kind == T_FLOW_SEQUENCE_START:
            self.events.append((EV_SEQUENCE_START, start[1], anchor, tag))
            return self.flow_sequence_first_entry
        if kind == T_FLOW_MAPPING_START:
            self.events.append((EV_MAPPING_START, start[1], anchor, tag))
            return self.flow_mapping_first_key
        if block and kind == T_BLOCK_SEQUENCE_START:
            self.events.append((EV_SEQUENCE_START, start[1], anchor, tag))
            return self.block_sequence_first_entry
        if block and kind == T_BLOCK_MAPPING_START:
            self.events.append((EV_MAPPING_START, start[1], anchor, tag))
            return self.block_mapping_first_key
        if anchor is not None or tag is not None:
            self.events.append((EV_SCALAR, start[1], anchor, tag, "", False))
            return self.pop_state()
        raise self.error(
            "while parsing a block node" if block else "while parsing a flow node",
            "did not find expected node content",
            token,
        )

    def empty_scalar(self, token: tuple[Any, ...]) -> None:
        self.events.append((EV_SCALAR, token[1], None, None, "", True))

    def block_sequence_first_entry(self) -> Any:
        self.at += 1
        return self.block_sequence_entry()

    def block_sequence_entry(self) -> Any:
        token = self.tokens[self.at]
        if token[0] == T_BLOCK_ENTRY:
            self.at += 1
            following = self.tokens[self.at]
            if following[0] not in (T_BLOCK_ENTRY, T_BLOCK_END):
                self.states.append(self.block_sequence_entry)
                return self.block_node()
            self.empty_scalar(token)
            return self.block_sequence_entry
        if token[0] == T_BLOCK_END:
            self.events.append((EV_SEQUENCE_END, token[1]))
            self.at += 1
            return self.pop_state()
        raise self.error(
            "while parsing a block collection", "did not find expected '-' indicator", token
        )

    def indentless_sequence_entry(self) -> Any:
        token = self.tokens[self.at]
        if token[0] == T_BLOCK_ENTRY:
            self.at += 1
            following = self.tokens[self.at]
            if following[0] not in (T_BLOCK_ENTRY, T_KEY, T_VALUE, T_BLOCK_END):
                self.states.append(self.indentless_sequence_entry)
                return self.block_node()
            self.empty_scalar(token)
            return self.indentless_sequence_entry
        self.events.append((EV_SEQUENCE_END, token[1]))
        return self.pop_state()

    def block_mapping_first_key(self) -> Any:
        self.at += 1
        return self.block_mapping_key()

    def block_mapping_key(self) -> Any:
        token = self.tokens[self.at]
        if token[0] == T_KEY:
            self.at += 1
            following = self.tokens[self.at]
            if following[0] not in (T_KEY, T_VALUE, T_BLOCK_END):
                self.states.append(self.block_mapping_value)
                return self.block_node_or_indentless_sequence()
            self.empty_scalar(token)
            return self.block_mapping_value
        if token[0] == T_BLOCK_END:
            self.events.append((EV_MAPPING_END, token[1]))
            self.at += 1
            return self.pop_state()
        raise self.error("while parsing a block mapping", "did not find expected key", token)

    def block_mapping_value(self) -> Any:
        token = self.tokens[self.at]
        if token[0] == T_VALUE:
            self.at += 1
            following = self.tokens[self.at]
            if following[0] not in (T_KEY, T_VALUE, T_BLOCK_END):
                self.states.append(self.block_mapping_key)
                return self.block_node_or_indentless_sequence()
        self.empty_scalar(token)
        return self.block_mapping_key

    def flow_sequence_first_entry(self) -> Any:
        self.at += 1
        return self.flow_sequence_entry(first=True)

    def flow_sequence_next_entry(self) -> Any:
        return self.flow_sequence_entry(first=False)

    def flow_sequence_entry(self, first: bool) -> Any:
        token = self.tokens[self.at]
        if token[0] != T_FLOW_SEQUENCE_END:
            if not first:
                if token[0] != T_FLOW_ENTRY:
                    raise self.error(
                        "while parsing a flow sequence", "did not find expected ',' or ']'", token
                    )
                self.at += 1
                token = self.tokens[self.at]
            if token[0] == T_KEY:
                self.events.append((EV_MAPPING_START, token[1], None, None))
                self.at += 1
                return self.flow_sequence_entry_mapping_key
            if token[0] != T_FLOW_SEQUENCE_END:
                self.states.append(self.flow_sequence_next_entry)
                return self.flow_node()
        self.events.append((EV_SEQUENCE_END, token[1]))
        self.at += 1
        return self.pop_state()

    def flow_sequence_entry_mapping_key(self) -> Any:
        token = self.tokens[self.at]
        if token[0] not in (T_VALUE, T_FLOW_ENTRY, T_FLOW_SEQUENCE_END):
            self.states.append(self.flow_sequence_entry_mapping_value)
            return self.flow_node()
        # LibYAML consumes the token here (so "[? : x]" is an error there too).
        self.at += 1
        self.empty_scalar(token)
        return self.flow_sequence_entry_mapping_value

    def flow_sequence_entry_mapping_value(self) -> Any:
        token = self.tokens[self.at]
        if token[0] == T_VALUE:
            self.at += 1
            token = self.tokens[self.at]
            if token[0] not in (T_FLOW_ENTRY, T_FLOW_SEQUENCE_END):
                self.states.append(self.flow_sequence_entry_mapping_end)
                return self.flow_node()
        self.empty_scalar(token)
        return self.flow_sequence_entry_mapping_end

    def flow_sequence_entry_mapping_end(self) -> Any:
        self.events.append((EV_MAPPING_END, self.tokens[self.at][1]))
        return self.flow_sequence_next_entry

    def flow_mapping_first_key(self) -> Any:
        self.at += 1
        return self.flow_mapping_key(first=True)

    def flow_mapping_next_key(self) -> Any:
        return self.flow_mapping_key(first=False)

    def flow_mapping_key(self, first: bool) -> Any:
        token = self.tokens[self.at]
        if token[0] != T_FLOW_MAPPING_END:
            if not first:
                if token[0] != T_FLOW_ENTRY:
                    raise self.error(
                        "while parsing a flow mapping", "did not find expected ',' or '}'", token
                    )
                self.at += 1
                token = self.tokens[self.at]
            if token[0] == T_KEY:
                self.at += 1
                token = self.tokens[self.at]
                if token[0] not in (T_VALUE, T_FLOW_ENTRY, T_FLOW_MAPPING_END):
                    self.states.append(self.flow_mapping_value)
                    return self.flow_node()
                self.empty_scalar(token)
                return self.flow_mapping_value
            if token[0] != T_FLOW_MAPPING_END:
                self.states.append(self.flow_mapping_empty_value)
                return self.flow_node()
        self.events.append((EV_MAPPING_END, token[1]))
        self.at += 1
        return self.pop_state()

    def flow_mapping_value(self) -> Any:
        token = self.tokens[self.at]
        if token[0] == T_VALUE:
            self.at += 1
            token = self.tokens[self.at]
            if token[0] not in (T_FLOW_ENTRY, T_FLOW_MAPPING_END):
                self.states.append(self.flow_mapping_next_key)
                return self.flow_node()
        self.empty_scalar(token)
        return self.flow_mapping_next_key

    def flow_mapping_empty_value(self) -> Any:
        self.empty_scalar(self.tokens[self.at])
        return self.flow_mapping_next_key


def parse_events(text: str) -> list[tuple[Any, ...]]:
    """All events of *text* (BOM already removed), or :class:`YamlSyntaxError`."""
    return _Parser(scan_tokens(text)).parse()
