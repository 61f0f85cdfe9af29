"""PNG plots of a benchmark's history across runs, drawn with matplotlib (an optional
dependency: ``pip install 'trackstore[report]'``).

Only matplotlib's object-oriented API is used, a ``Figure`` on its own Agg canvas: no pyplot,
so no global figure state, no GUI backend, nothing left open between plots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..exceptions import FEATURE_DISABLED, TrackstoreError
from .units import stat_unit

#: At most this many x-axis labels; the others are left out (the last one always shown).
MAX_LABELS = 12
TITLE_MAX = 90


def load_matplotlib() -> tuple[Any, Any]:
    """(Figure, FigureCanvasAgg), or a TrackstoreError saying how to install matplotlib."""
    # The ignores are for type-checking without the extra (tox -e lint): matplotlib is then
    # missing; where it is installed, its own types check this module.
    try:
        from matplotlib.backends.backend_agg import (  # type: ignore[import-not-found,unused-ignore]
            FigureCanvasAgg,
        )
        from matplotlib.figure import Figure  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise TrackstoreError(
            f"trackstore report draws its plots with matplotlib, which cannot be imported "
            f"({exc}): install it with pip install 'trackstore[report]' (or "
            "'matplotlib>=3.7')", FEATURE_DISABLED) from None
    return Figure, FigureCanvasAgg


def _shown_labels(count: int) -> list[int]:
    """The positions that get a label: every k-th, and the last."""
    step = max(1, math.ceil(count / MAX_LABELS))
    shown = list(range(0, count, step))
    if shown and shown[-1] != count - 1:
        if count - 1 - shown[-1] < step / 2:
            shown.pop()
        shown.append(count - 1)
    return shown


def plot_history(path: Path, title: str, stat: str, labels: Sequence[str],
                 values: Sequence[float | None]) -> None:
    """Write a PNG of *values* (one per run, None where the run lacks the benchmark) against
    the runs' *labels*, the latest value marked."""
    figure_type, canvas_type = load_matplotlib()
    figure = figure_type(figsize=(8.0, 3.6), dpi=100, layout="constrained")
    canvas_type(figure)
    axes = figure.add_subplot()
    unit, scale = stat_unit(stat, [v for v in values if v is not None])
    points = [(x, v / scale) for x, v in enumerate(values) if v is not None and math.isfinite(v)]
    if points:
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", markersize=4, linewidth=1.5, color="C0")
        axes.plot([xs[-1]], [ys[-1]], marker="o", markersize=7, color="C3",
                  label=f"latest: {ys[-1]:.3g} {unit}".rstrip())
        axes.legend(loc="lower right", fontsize=8, frameon=False)
        if min(ys) >= 0:
            # From zero, so that the height of a change reads as its size.
            axes.set_ylim(bottom=0, top=max(ys) * 1.1 or 1.0)
    shown = _shown_labels(len(labels))
    axes.set_xticks(shown, [labels[i] for i in shown], fontsize=7,
                    rotation=30 if len(shown) > 6 else 0,
                    ha="right" if len(shown) > 6 else "center")
    axes.set_xlim(-0.5, max(len(labels) - 0.5, 0.5))
    axes.set_ylabel(f"{stat} ({unit})" if unit else stat)
    axes.set_xlabel("runs, oldest first (commit, date UTC)")
    shown_title = title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1] + "…"
    axes.set_title(shown_title, fontsize=9, loc="left")
    axes.grid(True, alpha=0.3)
    figure.savefig(path, format="png")
