"""STROBE flow diagram: a column of boxes with the patients remaining after each criterion, an
exclusion box beside each step with the number excluded and why, and the final split by group.

Input is the tidy cohort-flow frame written by the study runner (columns ``step``, ``label``,
``n_remaining``, ``n_excluded``; the first row is the source population with ``n_excluded`` 0)
and optionally the group counts (a mapping group → n).
"""
from __future__ import annotations

import textwrap
from typing import Mapping

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ._style import BASE_FONT_SIZE, new_figure, style


def _box(ax, x: float, y: float, w: float, h: float, text: str, *, face: str = "white", bold: bool = False) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01,rounding_size=0.08",
                                linewidth=0.9, edgecolor="0.25", facecolor=face))
    ax.text(x, y, text, ha="center", va="center", fontsize=BASE_FONT_SIZE - 0.5,
            weight="bold" if bold else "normal", wrap=False)


def _arrow(ax, x0: float, y0: float, x1: float, y1: float) -> None:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops=dict(arrowstyle="-|>", color="0.25", linewidth=0.9, shrinkA=0, shrinkB=0))


def flow_figure(flow: pd.DataFrame, groups: Mapping[str, int] | None = None, *, title: str | None = None,
                width: float = 7.0) -> Figure:
    """Draw the flow diagram; returns a matplotlib Figure (never shown)."""
    missing = [c for c in ("label", "n_remaining", "n_excluded") if c not in flow.columns]
    if missing:
        raise ValueError(f"flow_figure: flow lacks column(s) {', '.join(missing)}")
    rows = flow.reset_index(drop=True)
    n_groups = len(groups) if groups else 0
    box_h, gap = 0.62, 0.42
    n_main = 1 + sum(1 for i in range(1, len(rows)) if rows.loc[i, "n_excluded"] >= 0)
    height = 0.4 + n_main * (box_h + gap) + (box_h + gap if n_groups else 0)
    with style():
        fig = new_figure(width, height, fixed=True)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.axis("off")
        cx, bw = width * 0.28, width * 0.42
        ex, ew = width * 0.755, width * 0.44
        y = 0.3 + box_h / 2
        first = rows.iloc[0]
        _box(ax, cx, y, bw, box_h, "\n".join(textwrap.wrap(str(first["label"]), 40)) +
             f"\nn = {int(first['n_remaining']):,}", bold=False)
        for i in range(1, len(rows)):
            r = rows.iloc[i]
            y_next = y + box_h + gap
            mid = (y + y_next) / 2
            # the exclusion branches off the arrow between the two boxes
            ax.plot([cx, cx], [y + box_h / 2, y_next - box_h / 2], color="0.25", linewidth=0.9)
            _arrow(ax, cx, y_next - box_h / 2 - 0.001, cx, y_next - box_h / 2)
            ax.plot([cx, ex - ew / 2], [mid, mid], color="0.25", linewidth=0.9)
            label = "\n".join(textwrap.wrap(str(r["label"]), 40))
            _box(ax, ex, mid, ew, box_h * 0.85, f"{label}\nn = {int(r['n_excluded']):,}", face="#f4f4f4")
            y = y_next
            _box(ax, cx, y, bw, box_h, f"Remaining\nn = {int(r['n_remaining']):,}")
        # Relabel the last box as the study cohort.
        if len(rows) > 1:
            ax.texts[-1].set_text(f"Study cohort\nn = {int(rows.iloc[-1]['n_remaining']):,}")
            ax.texts[-1].set_weight("bold")
        if n_groups:
            y_g = y + box_h + gap
            gw = min(width / (n_groups + 0.3), 2.6)
            xs = [width / 2 + (k - (n_groups - 1) / 2) * (gw + 0.15) for k in range(n_groups)]
            ax.plot([cx, cx], [y + box_h / 2, (y + y_g) / 2], color="0.25", linewidth=0.9)
            ax.plot([min(xs + [cx]), max(xs + [cx])], [(y + y_g) / 2] * 2, color="0.25", linewidth=0.9)
            for x, (g, n) in zip(xs, groups.items()):
                _arrow(ax, x, (y + y_g) / 2, x, y_g - box_h / 2)
                _box(ax, x, y_g, gw, box_h, "\n".join(textwrap.wrap(str(g), 24)) + f"\nn = {int(n):,}")
        if title:
            ax.text(0.1, 0.12, title, ha="left", va="center", fontsize=BASE_FONT_SIZE + 1)
    return fig
