"""Markdown pieces for the comparison and the report (GitHub-flavoured Markdown tables)."""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")
_BACKTICKS = re.compile(r"`+")


def markdown_escape(text: str) -> str:
    """*text* shown as it is: Markdown's special characters backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", text)


def code_span(text: str) -> str:
    """*text* as an inline code span, fit for a table cell: a longer backtick fence than any
    run of backticks inside, and ``|`` escaped (a table splits cells on it even in code)."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    body = text.replace("|", "\\|")
    return f"{fence}{padding}{body}{padding}{fence}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                   align: str = "") -> str:
    """A table; *align* holds one letter per column, ``l`` or ``r`` (default ``l``). Cells
    are taken as Markdown, so escape or code-span what is data."""
    marks = {"l": ":---", "r": "---:"}
    rules = [marks[align[i]] if i < len(align) else marks["l"] for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rules) + " |"]
    lines += ["| " + " | ".join(cell.replace("\n", " ") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
