"""Tokens and groups of a search string, as MLflow's sqlparse-based parser sees them.

MLflow parses ``filter_string`` and each ``order_by`` entry with sqlparse: the text is lexed into
SQL tokens, split into statements at ``;``, and tokens are grouped (``a.b`` into an identifier,
``x > 1`` into a comparison, ``(...)`` into a parenthesis, ...). Which strings MLflow accepts, and
the message it gives for the others, follows from that shape, so trackstore reproduces it for
the part of SQL that search strings use. This module implements only that shape, with its own
small rule set; :mod:`trackstore.search.grammar` turns it into clauses.

Token classes, in priority order (the first rule that matches at a position wins; letters are
case-insensitive and ``[A-ZÀ-Ü]`` is the "letter" class sqlparse uses)::

    comment      /* ... */  |  -- ... <eol>  |  "# " ... <eol>
    newline, ws  \\r\\n | \\r | \\n ;  other white space
    name         `...` (`` inside)  |  [..] (not after a word, "]" or ")")  |  #x @x
                 a word right before "." (not ".<digit>"), right after ".", or before "("
    placeholder  ?  |  %s  |  %(x)s  |  $x :x ?x (not after a word character)
    keyword      IN AS CASE FROM USING VALUES (whole words, anywhere)  |  NOT NULL
                 and the words AND OR NOT IS NULL and a few more SQL words
    order        ASC | DESC [NULLS FIRST|LAST]  |  NULLS FIRST|LAST
    comparison   [NOT] LIKE | ILIKE | RLIKE  |  [NOT] REGEXP [BINARY]  |  runs of < > = ~ !
    number       -0x1F (hex)  |  -1.5E-3, -1.5, 1., .5 (float)  |  -12 (integer);
                 never directly followed by a letter or "_"
    string       '...' ('' and \\' inside)  |  "..." ("" and \\" inside; a "symbol")
    punctuation  ; : ( ) [ ] , . ::      operator  - -> ->> + / @ # % ^ & |  wildcard  *

Groups, formed in this order over the tokens of one statement (only the top level matters:
a parenthesis is either an ``IN`` list, handed whole to ``ast.literal_eval``, or an error):

1. runs of comments followed by something else;
2. ``[...]``, then ``(...)``;
3. function: a name followed by a parenthesis;
4. identifier: a name, symbol or identifier, ``.``, then a name, symbol, string, ``*``, ``[..]``
   or function (just ``a.`` if none of these follows; chains extend the identifier);
5. ``x[..]`` extends ``x`` into an identifier; remaining names and symbols become identifiers;
6. an identifier or number followed by ASC/DESC;
7. operations ``x - y``; 8. comparisons ``x OP y``; 9. ``x AS y``;
10. an identifier right after a parenthesis, function, identifier, operation, comparison or
    number is merged into it (``p = 'x' foo`` is one identifier);
11. a comment group joins the group before it (``x > 1 /* c */`` is a comparison of four
    members);
12. comma lists.

sqlparse refuses a statement of more than 10,000 tokens (:data:`MAX_STATEMENT_TOKENS`; MLflow
then reports "Error on parsing filter"): :func:`split_statements` raises :class:`TooManyTokens`
as soon as the text has more, before the rest of it is even lexed, so that no string, however
long, costs more than a bounded amount of work. The count is over the whole text, where
sqlparse counts per statement: a text of several statements is refused either way (only one
is allowed), so only the message can differ. Groups compute their text only when it is asked
for (extending an identifier chain of n names copies no text), so grouping stays linear in the
text's length for a given number of tokens.

Deliberately not reproduced: sqlparse's ~800-word SQL keyword dictionary (a bare SQL keyword
such as ``select`` or ``user`` is a name here), its built-in type names (``timestamp``,
``date``), multi-word keywords such as ``ORDER BY``, CASE/BEGIN blocks, dollar-quoted strings,
typecasts, and its 100-level nesting limit. These only change the wording of an error,
because none of them can be part of a valid clause, with one exception: after ``.`` and white
space (``metrics. user``) sqlparse takes a keyword for a keyword, not for the key ``" user"``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence

# Leaf kinds.
WS = "ws"
NEWLINE = "newline"
COMMENT = "comment"  # single-line comment
COMMENT_BLOCK = "comment-block"  # /* ... */
NAME = "name"
PLACEHOLDER = "placeholder"
KEYWORD = "keyword"
ORDER = "order"
COMPARE = "compare"
STRING = "string"  # single-quoted
SYMBOL = "symbol"  # double-quoted
INTEGER = "integer"
FLOAT = "float"
HEX = "hex"
PUNCT = "punct"
WILDCARD = "wildcard"
OPERATOR = "operator"
OTHER = "other"
# Group kinds.
IDENTIFIER = "identifier"
PARENTHESIS = "parenthesis"
SQUARE = "square"
FUNCTION = "function"
OPERATION = "operation"
COMPARISON = "comparison"
IDENTIFIER_LIST = "identifier-list"
COMMENT_GROUP = "comment-group"  # comments (and line breaks) followed by something else

_GROUPS = frozenset({IDENTIFIER, PARENTHESIS, SQUARE, FUNCTION, OPERATION, COMPARISON,
                     IDENTIFIER_LIST, COMMENT_GROUP})

_WHITESPACE = frozenset({WS, NEWLINE})
_COMMENTS = frozenset({COMMENT, COMMENT_BLOCK})
_NUMBERS = frozenset({INTEGER, FLOAT, HEX})

# Words the lexer reports as keywords; any other word is a name (see the module docstring).
# PARAMETER(S) matter: sqlparse does not take them for the entity of ``parameters.1k``.
_KEYWORDS = frozenset({
    "AND", "OR", "NOT", "IS", "NULL", "BETWEEN", "TRUE", "FALSE", "SELECT", "WHERE", "EXISTS",
    "ALL", "ANY", "LIMIT", "PARAMETER", "PARAMETERS",
})

_LETTER = "A-ZÀ-Ü"
_RULES: tuple[tuple[str, str], ...] = (
    (COMMENT_BLOCK, r"/\*[\s\S]*?\*/"),
    (COMMENT, r"(?:--|\# ).*?(?:\r\n|\r|\n|$)"),
    (NEWLINE, r"\r\n|\r|\n"),
    (WS, r"[^\S\r\n]+"),
    (OTHER, r":="),
    (PUNCT, r"::"),
    (WILDCARD, r"\*"),
    (NAME, r"`(?:``|[^`])*`|\u00b4(?:\u00b4\u00b4|[^\u00b4])*\u00b4"),
    (PLACEHOLDER, r"\?|%(?:\(\w+\))?s|(?<!\w)[$:?]\w+"),
    (OTHER, r"\\\w+"),
    (KEYWORD, r"(?:CASE|IN|VALUES|USING|FROM|AS)\b"),
    (NAME, rf"(?:@|\#\#|\#)[{_LETTER}]\w+"),
    (NAME, rf"[{_LETTER}]\w*(?=\s*\.(?!\d))|(?<=\.)[{_LETTER}]\w*|[{_LETTER}]\w*(?=\()"),
    (HEX, r"-?0x[\dA-F]+"),
    (FLOAT, rf"-?\d+(?:\.\d+)?E-?\d+|(?![_{_LETTER}])-?(?:\d+\.\d*|\.\d+)(?![_{_LETTER}])"),
    (INTEGER, rf"(?![_{_LETTER}])-?\d+(?![_{_LETTER}])"),
    (STRING, r"'(?:''|\\'|[^'])*'"),
    (SYMBOL, r'"(?:""|\\"|[^"])*"'),
    (NAME, r"(?<![\w\])])\[[^\]\[]+\]"),
    (KEYWORD, r"NOT\s+NULL\b"),
    (ORDER, r"(?:ASC|DESC)(?:\s+NULLS\s+(?:FIRST|LAST))?\b|NULLS\s+(?:FIRST|LAST)\b"),
    (COMPARE, r"(?:NOT\s+)?(?:LIKE|ILIKE|RLIKE)\b|(?:NOT\s+)?REGEXP(?:\s+BINARY)?\b"),
    ("word", r"\w[$#\w]*"),
    (PUNCT, r"[;:()\[\],.]"),
    (OPERATOR, r"->>?|\#>>?|@>|<@|\?\|?|\?&|-|\#-"),
    (COMPARE, r"[<>=~!]+"),
    (OPERATOR, r"[+/@\#%^&|-]+"),
    (OTHER, r"[\s\S]"),
)
_RULE_KINDS = {f"r{i}": kind for i, (kind, _) in enumerate(_RULES)}


@functools.cache
def _lexer() -> re.Pattern[str]:
    # One alternation: at each position the first rule that matches wins, as in sqlparse.
    return re.compile("|".join(f"(?P<r{i}>{pattern})" for i, (_, pattern) in enumerate(_RULES)),
                      re.IGNORECASE | re.UNICODE)


#: The most tokens a search string may have (sqlparse's ``MAX_GROUPING_TOKENS``, per statement).
MAX_STATEMENT_TOKENS = 10_000


class TooManyTokens(ValueError):
    """A search string has more than :data:`MAX_STATEMENT_TOKENS` tokens."""


class Node:
    """A token (``parts`` empty) or a group of tokens; ``text`` is the exact source text.

    A group built without its text (``text=None``) joins its members' texts when first asked.
    """

    __slots__ = ("_text", "kind", "parts")

    def __init__(self, kind: str, text: str | None, parts: tuple[Node, ...] = ()) -> None:
        self.kind = kind
        self._text = text
        self.parts = parts

    @property
    def text(self) -> str:
        if self._text is None:
            # Iteratively: parentheses may nest thousands deep.
            pieces: list[str] = []
            stack: list[Node] = [self]
            while stack:
                node = stack.pop()
                if node._text is not None:
                    pieces.append(node._text)
                else:
                    stack.extend(reversed(node.parts))
            self._text = "".join(pieces)
        return self._text

    @property
    def is_whitespace(self) -> bool:
        return self.kind in _WHITESPACE

    def is_word(self, *words: str) -> bool:
        """Whether this is a keyword token spelling one of *words* (case-insensitive)."""
        return self.kind == KEYWORD and self.text.upper() in words

    def __repr__(self) -> str:
        return f"Node({self.kind}, {self.text!r})"


def _group(kind: str, members: Sequence[Node], extend: bool = False) -> Node:
    first = members[0]
    if extend and first.kind == kind:
        return Node(kind, None, first.parts + tuple(members[1:]))
    return Node(kind, None, tuple(members))


def tokenize(text: str) -> Iterator[Node]:
    match = _lexer().match
    pos, end = 0, len(text)
    while pos < end:
        m = match(text, pos)
        assert m is not None  # the last rule matches any character
        assert m.lastgroup is not None
        kind = _RULE_KINDS[m.lastgroup]
        value = m.group()
        if kind == "word":
            kind = KEYWORD if value.upper() in _KEYWORDS else NAME
        yield Node(kind, value)
        pos = m.end()


def split_statements(text: str) -> list[list[Node]]:
    """Tokens of each statement: a ``;`` outside parentheses ends one, together with the white
    space and ``--`` comment that follow it on the same line; blank statements are dropped.

    Raises :class:`TooManyTokens` when the text has more than :data:`MAX_STATEMENT_TOKENS`.
    """
    statements: list[list[Node]] = []
    current: list[Node] = []
    level = 0
    closing = False
    for count, node in enumerate(tokenize(text)):
        if count == MAX_STATEMENT_TOKENS:
            raise TooManyTokens(f"more than {MAX_STATEMENT_TOKENS} tokens")
        if closing and node.kind not in (WS, COMMENT):
            statements.append(current)
            current, level, closing = [], 0, False
        if node.kind == PUNCT:
            if node.text == "(":
                level += 1
            elif node.text == ")":
                level -= 1
            elif node.text == ";" and level <= 0:
                closing = True
        current.append(node)
    if current and not all(n.is_whitespace for n in current):
        statements.append(current)
    return statements


def _next_index(nodes: Sequence[Node], i: int) -> int | None:
    for j in range(i + 1, len(nodes)):
        if not nodes[j].is_whitespace:
            return j
    return None


def _prev_index(nodes: Sequence[Node], i: int) -> int | None:
    for j in range(i - 1, -1, -1):
        if not nodes[j].is_whitespace:
            return j
    return None


def _group_comments(nodes: list[Node]) -> list[Node]:
    out: list[Node] = []
    i, n = 0, len(nodes)
    while i < n:
        if nodes[i].kind not in _COMMENTS:
            out.append(nodes[i])
            i += 1
            continue
        j = i
        while j < n and (nodes[j].kind in _COMMENTS or nodes[j].kind == NEWLINE):
            j += 1
        if j == n:  # nothing follows: sqlparse leaves a trailing run ungrouped
            out.extend(nodes[i:])
            break
        out.append(_group(COMMENT_GROUP, nodes[i:j]))
        i = j
    return out


def _align_comments(nodes: list[Node]) -> list[Node]:
    """Attach each grouped comment to the group before it (which then has an extra member)."""
    out = list(nodes)
    i = 0
    while i < len(out):
        if out[i].kind == COMMENT_GROUP:
            p = _prev_index(out, i)
            if p is not None and out[p].kind in _GROUPS:
                members = out[p:i + 1]
                first = members[0]
                out[p:i + 1] = [Node(first.kind, None, first.parts + tuple(members[1:]))]
                i = p
        i += 1
    return out


def _group_matching(nodes: list[Node], opening: str, closing: str, kind: str) -> list[Node]:
    out: list[Node] = []
    opened: list[int] = []
    for node in nodes:
        if node.kind == PUNCT and node.text == opening:
            opened.append(len(out))
        elif node.kind == PUNCT and node.text == closing and opened:
            start = opened.pop()
            members = [*out[start:], node]
            del out[start:]
            out.append(_group(kind, members))
            continue
        out.append(node)
    return out


def _group_functions(nodes: list[Node]) -> list[Node]:
    out = list(nodes)
    i = 0
    while i < len(out):
        if out[i].kind in (NAME, PLACEHOLDER):
            j = _next_index(out, i)
            if j is not None and out[j].kind == PARENTHESIS:
                out[i:j + 1] = [_group(FUNCTION, out[i:j + 1])]
        i += 1
    return out


def _group_binary(
    nodes: list[Node],
    *,
    is_operator: Callable[[Node], bool],
    valid_prev: Callable[[Node], bool],
    valid_next: Callable[[Node | None], bool],
    kind: str,
    extend: bool,
    takes_next: Callable[[Node | None], bool] = lambda node: True,
) -> list[Node]:
    """Group ``prev OP next`` left to right, the way sqlparse's ``_group`` does.

    sqlparse keeps walking its original token list after forming a group: the last token taken
    is visited again, tried as an operator against the group (``x AS AS y``), and otherwise
    becomes the token that decides whether the next operator may continue the group.
    """
    out: list[Node] = []
    prev_at: int | None = None
    prev: Node | None = None
    taken = -1  # nodes[: taken + 1] are already in ``out``
    i, n = 0, len(nodes)
    while i < n:
        node = nodes[i]
        inside = i <= taken
        if node.is_whitespace:
            if not inside:
                out.append(node)
            i += 1
            continue
        if is_operator(node) and prev is not None and prev_at is not None and valid_prev(prev):
            j = _next_index(nodes, i)
            following = nodes[j] if j is not None else None
            if valid_next(following):
                take = j is not None and takes_next(following)
                last = j if take and j is not None else i
                members = [*out[prev_at:], *nodes[(i + 1 if inside else i):last + 1]]
                grouped = _group(kind, members, extend)
                del out[prev_at:]
                out.append(grouped)
                prev = grouped
                taken = max(taken, last)
                i = last if take else last + 1
                continue
        if not inside:
            out.append(node)
            prev_at = len(out) - 1
        prev = node
        i += 1
    return out


def _is_period(node: Node) -> bool:
    return (node.kind == PUNCT and node.text == ".") or (
        node.kind == OPERATOR and node.text in ("->", "->>"))


_PERIOD_PREV = frozenset({NAME, SYMBOL, IDENTIFIER, SQUARE})
_PERIOD_NEXT = frozenset({NAME, SYMBOL, WILDCARD, STRING, SQUARE, FUNCTION})
_ARRAY_PREV = frozenset({SQUARE, IDENTIFIER, FUNCTION, NAME, SYMBOL})
_OPERANDS = frozenset({INTEGER, FLOAT, STRING, SYMBOL, NAME, PLACEHOLDER,
                       PARENTHESIS, FUNCTION, IDENTIFIER, OPERATION})
_OPERATION_OPERANDS = _OPERANDS | {SQUARE}
_LIST_ITEMS = frozenset({FUNCTION, IDENTIFIER, COMPARISON, IDENTIFIER_LIST, OPERATION,
                         INTEGER, FLOAT, STRING, SYMBOL, NAME, PLACEHOLDER, KEYWORD, WILDCARD})
_ALIASABLE = frozenset({PARENTHESIS, FUNCTION, IDENTIFIER, OPERATION, COMPARISON}) | _NUMBERS


def _comparison_operand(node: Node | None) -> bool:
    return node is not None and (node.kind in _OPERANDS or node.is_word("NULL"))


def _group_identifiers(nodes: list[Node]) -> list[Node]:
    return [Node(IDENTIFIER, n.text, (n,)) if n.kind in (NAME, SYMBOL) else n for n in nodes]


def _group_order(nodes: list[Node]) -> list[Node]:
    out = list(nodes)
    i = 0
    while i < len(out):
        if out[i].kind == ORDER:
            p = _prev_index(out, i)
            if p is not None and (out[p].kind == IDENTIFIER or out[p].kind in _NUMBERS):
                out[p:i + 1] = [_group(IDENTIFIER, out[p:i + 1], extend=True)]
                i = p
        i += 1
    return out


def _group_aliased(nodes: list[Node]) -> list[Node]:
    out = list(nodes)
    i = 0
    while i < len(out):
        if out[i].kind in _ALIASABLE:
            j = _next_index(out, i)
            if j is not None and out[j].kind == IDENTIFIER:
                out[i:j + 1] = [_group(IDENTIFIER, out[i:j + 1], extend=True)]
        i += 1
    return out


def _is_keyword(node: Node) -> bool:
    return node.kind in (KEYWORD, ORDER)


def group_statement(tokens: list[Node]) -> list[Node]:
    """The top-level nodes of one statement (white space included), after grouping."""
    nodes = _group_comments(tokens)
    nodes = _group_matching(nodes, "[", "]", SQUARE)
    nodes = _group_matching(nodes, "(", ")", PARENTHESIS)
    nodes = _group_functions(nodes)
    nodes = _group_binary(
        nodes, is_operator=_is_period, valid_prev=lambda p: p.kind in _PERIOD_PREV,
        valid_next=lambda n: True, kind=IDENTIFIER, extend=True,
        takes_next=lambda n: n is not None and n.kind in _PERIOD_NEXT)
    nodes = _group_binary(
        nodes, is_operator=lambda n: n.kind == SQUARE, valid_prev=lambda p: p.kind in _ARRAY_PREV,
        valid_next=lambda n: True, kind=IDENTIFIER, extend=True, takes_next=lambda n: False)
    nodes = _group_identifiers(nodes)
    nodes = _group_order(nodes)
    nodes = _group_binary(
        nodes, is_operator=lambda n: n.kind in (OPERATOR, WILDCARD),
        valid_prev=lambda p: p.kind in _OPERATION_OPERANDS,
        valid_next=lambda n: n is not None and n.kind in _OPERATION_OPERANDS,
        kind=OPERATION, extend=False)
    nodes = _group_binary(
        nodes, is_operator=lambda n: n.kind == COMPARE, valid_prev=_comparison_operand,
        valid_next=_comparison_operand, kind=COMPARISON, extend=False)
    nodes = _group_binary(
        nodes, is_operator=lambda n: n.is_word("AS"),
        valid_prev=lambda p: p.is_word("NULL") or not _is_keyword(p),
        valid_next=lambda n: n is not None, kind=IDENTIFIER, extend=True)
    nodes = _group_aliased(nodes)
    nodes = _align_comments(nodes)
    return _group_binary(
        nodes, is_operator=lambda n: n.kind == PUNCT and n.text == ",",
        valid_prev=lambda p: p.kind in _LIST_ITEMS,
        valid_next=lambda n: n is not None and n.kind in _LIST_ITEMS,
        kind=IDENTIFIER_LIST, extend=True)


def operands(comparison: Node) -> list[Node]:
    """The non-white-space members of a comparison group."""
    return [p for p in comparison.parts if not p.is_whitespace]
