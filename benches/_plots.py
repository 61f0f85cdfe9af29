"""The PNG figures of ``benches/RESULTS.md``, drawn with matplotlib's object-oriented API.

``report.py`` decides what is drawn; this module only draws it: horizontal bar charts on a log
scale (ratios to MLflow per section, ``[c]`` vs ``[py]`` speedups) and log-log lines
(throughput against size). Deterministic: the same data gives the same bytes, whatever the
user's ``matplotlibrc`` (matplotlib's default style), at a fixed size and resolution, with no
software name or date in the file; so regenerating unchanged results changes no file (with
the same versions of matplotlib and Pillow).
matplotlib is imported when a figure is drawn, not before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
WIDTH = 8.0  # inches
LABEL_SIZE = 7.0  # points: the bars' labels
#: Bar colours: a target met, missed, or no target.
STATES = {"met": ("#2e7d32", "target met"), "missed": ("#c62828", "target not met"),
          "none": ("#78909c", "no target")}
#: Line colours by library or twin, line styles by database.
COLOURS = {"trackstore": "#1565c0", "c": "#1565c0", "MLflow": "#ef6c00", "py": "#2e7d32"}
OTHER_COLOURS = ("#6a1b9a", "#5d4037", "#00838f", "#ad1457")
STYLES = {"sqlite": "-", "postgresql": "--", "mysql": ":"}


@dataclass(frozen=True)
class Bar:
    """One bar: *value* (a ratio), and the ratio its target asks for, if it is a ratio."""

    label: str
    value: float
    target: float | None = None
    state: str = "none"  # a key of STATES


def _figure(height: float, left: float = 0.8, bottom: float = 0.5, top: float = 0.35,
            right: float = 0.2) -> Figure:
    """A figure of one axes with these margins (inches): set, not found by a layout engine,
    which would take most of the drawing time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=left / WIDTH, right=1 - right / WIDTH, bottom=bottom / height,
                           top=1 - top / height)
    return figure


def _text_width(figure: Figure, texts: Sequence[str], size: float) -> float:
    """The width (inches) of the widest of *texts* at font *size*."""
    from matplotlib.font_manager import FontProperties

    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    font = FontProperties(size=size)
    widths = [renderer.get_text_width_height_descent(t, font, ismath=False)[0] for t in texts]
    return max(widths, default=0.0) / DPI


def _save(figure: Figure, path: Path) -> None:
    """The figure as a PNG of 256 colours (a third of the bytes of matplotlib's RGBA PNG,
    which matters for files kept in the repository), with no text chunk: no software name,
    no date. Pillow is one of matplotlib's dependencies."""
    from PIL import Image

    canvas = figure.canvas
    pixels, size = canvas.print_to_buffer()  # type: ignore[attr-defined]
    image = Image.frombuffer("RGBA", size, pixels, "raw", "RGBA", 0, 1).convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(256).save(path, format="png", optimize=True)


def _times(value: float) -> str:
    return f"{value:.0f}×" if value >= 10 else f"{value:.2g}×"


def bar_chart(path: Path, title: str, bars: Sequence[Bar], xlabel: str,
              reference: float = 1.0) -> None:
    """Horizontal bars on a log scale, top to bottom in the given order, each with its value
    written beside it; a dashed line at *reference*, a black tick at each bar's target."""
    import matplotlib.style
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    with matplotlib.style.context("default"):
        height = 1.3 + 0.3 * len(bars)
        figure = _figure(height, top=0.55)
        left = _text_width(figure, [b.label for b in bars], LABEL_SIZE) + 0.15
        figure.subplots_adjust(left=min(left, WIDTH / 2) / WIDTH)
        axes = figure.add_subplot()
        ends = [b.value for b in bars] + [b.target for b in bars if b.target] + [reference]
        low, high = min(ends) / 2, max(ends) * 4  # room for the values' text on the right
        rows = list(range(len(bars)))
        axes.barh(rows, [b.value - low for b in bars], left=low, height=0.6,
                  color=[STATES[b.state][0] for b in bars])
        for row, bar in zip(rows, bars, strict=True):
            axes.text(bar.value * 1.08, row, _times(bar.value), va="center", fontsize=7)
            if bar.target:
                axes.plot([bar.target, bar.target], [row - 0.42, row + 0.42], color="black",
                          linewidth=2)
        axes.axvline(reference, color="#424242", linestyle="--", linewidth=1)
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
        axes.set_xlim(low, high)
        axes.set_ylim(len(bars) - 0.5, -0.5)  # the first bar on top
        axes.set_yticks(rows, [b.label for b in bars], fontsize=LABEL_SIZE)
        axes.tick_params(axis="x", labelsize=8)
        axes.grid(axis="x", which="major", alpha=0.3)
        axes.set_xlabel(xlabel, fontsize=8)
        axes.set_title(title, fontsize=10, pad=16)
        states = sorted({b.state for b in bars}, key=list(STATES).index)
        handles: list[Patch | Line2D] = [Patch(color=STATES[s][0], label=STATES[s][1])
                                         for s in states]
        if any(b.target for b in bars):
            handles.append(Line2D([], [], color="black", linewidth=2, label="target ratio"))
        if states != ["none"]:  # (no target in the chart: nothing to explain)
            axes.legend(handles=handles, fontsize=7, loc="lower center", ncols=len(handles),
                        bbox_to_anchor=(0.5, 1.0), frameon=False, borderaxespad=0.2)
        _save(figure, path)


def _human(number: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= scale:
            return f"{number / scale:g}{suffix}"
    return f"{number:g}"


def size_chart(path: Path, title: str, series: Mapping[str, Mapping[int, float]],
               xlabel: str, ylabel: str) -> None:
    """One line per series (``label -> {size: value}``), log-log, in the order given. A
    label's first word picks its colour (the library or twin), a database name in it the
    line's style."""
    import matplotlib.style
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    with matplotlib.style.context("default"):
        figure = _figure(4.2, left=0.75)
        axes = figure.add_subplot()
        others = iter(OTHER_COLOURS * 4)
        colours: dict[str, str] = {}
        sizes: set[int] = set()
        for label, points in series.items():
            words = label.split()
            colour = COLOURS.get(words[0]) or colours.get(words[0]) or next(others)
            colours[words[0]] = colour
            style = next((STYLES[w] for w in words if w in STYLES), "-")
            xs = sorted(points)
            sizes.update(xs)
            axes.plot(xs, [points[x] for x in xs], marker="o", color=colour, linestyle=style,
                      label=label)
        axes.set_xscale("log")
        axes.set_yscale("log")
        ticks = sorted(sizes)
        axes.set_xticks(ticks, [_human(t) for t in ticks])
        axes.xaxis.set_minor_locator(NullLocator())
        values = [v for points in series.values() for v in points.values()]
        decades = math.log10(max(values) / min(values)) if values else 0.0
        axes.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades < 3 else (1.0,)))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _human(value)))
        axes.yaxis.set_minor_locator(NullLocator())
        axes.tick_params(labelsize=8)
        axes.grid(which="major", alpha=0.3)
        axes.set_xlabel(xlabel, fontsize=8)
        axes.set_ylabel(ylabel, fontsize=8)
        axes.set_title(title, fontsize=10)
        axes.legend(fontsize=7)
        _save(figure, path)
