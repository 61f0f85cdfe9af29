"""Figures the reliability tests measure (trials, inputs tried, points/s), for docs/reliability.md.

A test calls :func:`record` with what it measured; when ``TRACKSTORE_FIGURES`` names a file,
the figure is appended to it as one JSON line (``O_APPEND`` writes of one short line are
atomic, so xdist workers and child processes may share the file). Without the variable
nothing is written: the tests assert their contract either way, the figures are a by-product.

``python -m tests._figures FILE`` prints the recorded figures as the Markdown table
docs/reliability.md shows, summed per (area, name) over the runs in the file.

:func:`scale` is ``TRACKSTORE_RELIABILITY_SCALE`` (default 1.0): the factor by which the
reliability tests multiply their trial counts, example counts and durations. ``.ci/run``
lowers it for its second (pure-Python) pass of the suite; the figures in the docs are from
scale 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

ENV = "TRACKSTORE_FIGURES"
SCALE_ENV = "TRACKSTORE_RELIABILITY_SCALE"


def scale() -> float:
    """The factor for trial counts and durations (``TRACKSTORE_RELIABILITY_SCALE``)."""
    raw = os.environ.get(SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    value = float(raw)
    if not 0 < value <= 100:
        raise ValueError(f"{SCALE_ENV}={raw!r}: expected a number in (0, 100]")
    return value


def scaled(count: int, minimum: int = 1) -> int:
    """*count* times :func:`scale`, at least *minimum*."""
    return max(minimum, round(count * scale()))


def record(area: str, name: str, **values: Any) -> None:
    """Append one figure: *area* (e.g. ``crash``), *name* (e.g. ``sqlite``) and its values."""
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps({"area": area, "name": name, "impl": os.environ.get("TRACKSTORE_IMPL", ""),
                       "time": round(time.time(), 3), **values}, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def load(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows merged per (area, name, impl): numbers summed, except ``*_per_s`` / ``*_max``
    (the maximum) and ``*_min`` (the minimum); other values kept when they agree."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["area"], row["name"], row.get("impl", ""))
        into = merged.setdefault(key, {"area": key[0], "name": key[1], "impl": key[2]})
        for field, value in row.items():
            if field in ("area", "name", "impl", "time"):
                continue
            if field not in into:
                into[field] = value
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                if field.endswith(("_per_s", "_max")):
                    into[field] = max(into[field], value)
                elif field.endswith("_min"):
                    into[field] = min(into[field], value)
                else:
                    into[field] += value
            elif into[field] != value:
                into[field] = "(varies)"
    return [merged[key] for key in sorted(merged)]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown(rows: list[Mapping[str, Any]]) -> str:
    lines = ["| area | name | impl | figures |", "|---|---|---|---|"]
    for row in rows:
        rest = ", ".join(f"{k} {_cell(v)}" for k, v in row.items()
                         if k not in ("area", "name", "impl"))
        lines.append(f"| {row['area']} | {row['name']} | {row['impl'] or '-'} | {rest} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests._figures FILE", file=sys.stderr)
        return 2
    print(markdown(summarize(load(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
