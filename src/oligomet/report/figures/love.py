"""Love plot: standardized mean differences before and after matching / weighting.

Input is the ``balance`` frame of :func:`oligomet.match` or :func:`oligomet.weight` (indexed by
covariate, with ``smd_before`` / ``smd_after``), or any frame with those two columns.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._style import color, new_figure, panel_title, style


def love_plot(balance: pd.DataFrame, *, threshold: float = 0.1, absolute: bool = True, include_distance: bool = False,
              labels: dict | None = None, title: str | None = None, width: float = 6.0) -> Figure:
    """Dot plot of |SMD| (or signed SMD) per covariate, before (open) and after (filled), with
    dashed lines at +-``threshold`` (0.1, the usual balance criterion). Covariates are sorted by
    their SMD before adjustment. Returns a matplotlib Figure (never shown)."""
    missing = [c for c in ("smd_before", "smd_after") if c not in balance.columns]
    if missing:
        raise ValueError(f"love_plot: balance frame lacks column(s) {', '.join(missing)}")
    b = balance if include_distance else balance.drop(index="distance", errors="ignore")
    before = b["smd_before"].astype(float)
    after = b["smd_after"].astype(float)
    if absolute:
        before, after = before.abs(), after.abs()
    order = before.sort_values(ascending=True, na_position="first").index
    before, after = before.loc[order], after.loc[order]
    names = [str((labels or {}).get(i, i)) for i in order]
    y = np.arange(len(order))
    with style():
        fig = new_figure(width, 0.9 + 0.28 * max(len(order), 1))
        ax = fig.add_subplot(1, 1, 1)
        ax.scatter(before.to_numpy(), y, facecolors="none", edgecolors=color(1), label="Before", zorder=3)
        ax.scatter(after.to_numpy(), y, color=color(0), label="After", zorder=4)
        for x in ([threshold] if absolute else [-threshold, threshold]):
            ax.axvline(x, color="0.4", linestyle="--", linewidth=0.8)
        ax.axvline(0, color="0.7", linewidth=0.6)
        ax.set_yticks(y)
        ax.set_yticklabels(names)
        ax.set_xlabel("Absolute standardized mean difference" if absolute else "Standardized mean difference")
        ax.legend(loc="lower right")
        if title:
            panel_title(ax, title)
        fig.subplots_adjust(left=0.3, right=0.97, bottom=0.12, top=0.92 if title else 0.97)
    return fig
