"""Kaplan–Meier curves per group, with pointwise CI bands, censor ticks and an at-risk table.

Input is the tidy ``KaplanMeier.table`` (columns ``group`` (optional), ``time``, ``n_risk``,
``n_event``, ``n_censor``, ``survival``, ``lower``, ``upper``), so the figure shows exactly the
numbers the report tabulates; the renderer computes no statistics.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import _curves
from ._palettes import group_linestyle, palette_color
from ._style import panel_title, style

REQUIRED = ("time", "n_risk", "survival")
MAX_CENSOR_MARKS = 200


def km_figure(table: pd.DataFrame, *, at_risk: pd.DataFrame | None = None, title: str | None = None,
              xlabel: str = "Months", ylabel: str = "Survival probability", ticks: Sequence[float] | None = None,
              max_time: float | None = None, unit: str | None = "months", ci: bool = True,
              censor_marks: bool = True, group_order: Sequence | None = None, legend_title: str | None = None,
              show_at_risk: bool = True, pseudo_population: bool = False, annotation: str | None = None,
              annotate: str = "none", percent: bool = False, break_every: float | None = None,
              palette: str = "default") -> Figure:
    """Draw KM curves from a survfit-style table; returns a matplotlib Figure (never shown).

    ``at_risk`` (optional, columns ``group``, ``time``, ``n_risk``) overrides the counts that are
    otherwise looked up in ``table`` at each x tick. ``max_time`` truncates the x-axis. ``pseudo_population``:
    the counts are sums of weights (a weighted analysis), and the at-risk table is titled so.

    ``annotation``: text written in the panel (the log-rank p or the HR with its CI, formatted by the
    section builder of the analysis that computed it; ``annotate`` names that analysis and is not drawn).
    ``percent``: y ticks 0–100%. ``break_every``: an x tick every so many time units. ``palette``: a name of
    :data:`~oligomet.report.figures._palettes.PALETTES`.
    """
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"km_figure: table lacks column(s) {', '.join(missing)}")
    groups = _curves.group_frames(table, order=group_order)
    t_max = float(max_time) if max_time is not None else float(table["time"].max()) if len(table) else 1.0
    xt = _curves.x_ticks(t_max, ticks, unit, break_every)
    with style():
        fig, ax, risk = _curves.layout(len(groups), at_risk=show_at_risk, labels=[g for g, _ in groups])
        rows = []
        for i, (name, g) in enumerate(groups):
            g = _curves.truncate(g.sort_values("time", kind="stable"), max_time)
            col = palette_color(palette, i)
            has_ci = ci and {"lower", "upper"} <= set(g.columns)
            _curves.step_curve(ax, g["time"].to_numpy(), g["survival"].to_numpy(),
                               g["lower"].to_numpy() if has_ci else None, g["upper"].to_numpy() if has_ci else None,
                               start=1.0, color=col, label=name, linestyle=group_linestyle(palette, i))
            if censor_marks and "n_censor" in g.columns:
                cens = g[g["n_censor"] > 0]
                if len(cens) > MAX_CENSOR_MARKS:
                    # registry-sized curves: thousands of ticks are indistinguishable but slow to draw,
                    # so an evenly spaced subset is shown (the curve and table are unaffected)
                    cens = cens.iloc[np.linspace(0, len(cens) - 1, MAX_CENSOR_MARKS).round().astype(int)]
                ax.plot(cens["time"], cens["survival"], linestyle="none", marker="|", markersize=5,
                        markeredgewidth=0.9, color=col)
            if risk is not None:
                if at_risk is not None:
                    src = at_risk[at_risk["group"].astype(str) == name] if "group" in at_risk.columns else at_risk
                    counts = _curves.at_risk_counts(xt, src)
                else:
                    full = table if name == "All" and "group" not in table.columns else \
                        table[table["group"].astype(str) == name]
                    counts = _curves.at_risk_counts(xt, full)
                rows.append((name, counts, col))
        ax.set_xlim(xt[0], xt[-1])
        ax.set_xticks(xt)
        _curves.probability_axis(ax, 1.02, percent=percent, ylabel=ylabel)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_xlabel(xlabel)
        _curves.annotate(ax, annotation)
        if title:
            panel_title(ax, title, loc="left")
        if len(groups) > 1 or not _curves.is_whole_cohort(groups[0][0]):
            ax.legend(title=legend_title, loc="upper right")
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        if risk is not None:
            _curves.draw_at_risk(risk, ax, xt, rows, pseudo_population)
    return fig
