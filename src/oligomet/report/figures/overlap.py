"""Propensity-score overlap plot: the distribution of the score in treated and control units."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._style import color, new_figure, panel_title, style


def ps_overlap_plot(propensity, treatment, *, weights=None, bins: int = 30, labels=("Control", "Treated"),
                    title: str | None = None, width: float = 6.0, height: float = 3.6) -> Figure:
    """Mirrored histogram of the propensity score: treated above the axis, controls below.

    ``propensity`` and ``treatment`` are aligned array-likes (e.g. ``m.propensity`` and
    ``data.loc[m.propensity.index, "treated"]``); ``weights`` (optional) weights the bars, e.g.
    matching or IPT weights to show the adjusted distributions. Bars are proportions within
    group, so groups of different sizes compare. Returns a matplotlib Figure (never shown).
    """
    ps = np.asarray(propensity, dtype=float)
    t = np.asarray(treatment)
    if ps.shape != t.shape:
        raise ValueError(f"ps_overlap_plot: propensity has {ps.shape[0]} values, treatment {t.shape[0]}")
    w = np.ones(len(ps)) if weights is None else np.asarray(weights, dtype=float)
    if isinstance(propensity, pd.Series) and isinstance(weights, pd.Series):
        w = weights.reindex(propensity.index).to_numpy(dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    with style():
        fig = new_figure(width, height)
        ax = fig.add_subplot(1, 1, 1)
        for g, sign, lab in ((1, 1, labels[1]), (0, -1, labels[0])):
            sel = (t == g) & ~np.isnan(ps)
            h, _ = np.histogram(ps[sel], bins=edges, weights=w[sel])
            total = h.sum()
            h = h / total if total > 0 else h
            ax.bar(edges[:-1], sign * h, width=np.diff(edges), align="edge", color=color(0 if g == 1 else 1),
                   alpha=0.8, label=lab, edgecolor="white", linewidth=0.4)
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("Propensity score")
        ax.set_ylabel("Proportion (treated up, control down)")
        ticks = ax.get_yticks()
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{abs(v):.2f}" for v in ticks])
        ax.legend(loc="upper right")
        if title:
            panel_title(ax, title)
        fig.subplots_adjust(left=0.14, right=0.97, bottom=0.15, top=0.9 if title else 0.96)
    return fig
