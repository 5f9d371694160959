"""Cumulative incidence curves per group × cause, in the KM plot's style, with an at-risk table.

Input is a tidy table with columns ``group`` (optional), ``cause``, ``time``, ``estimate``,
``lower``, ``upper`` (``CumulativeIncidence.table``). Colour encodes the group, line style the
cause. The at-risk counts (everyone still event-free and uncensored, whatever the cause) come
from ``at_risk`` (columns ``group``, ``time``, ``n_risk``, as for the KM plot) when given.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import _curves
from ._palettes import NEEDS_LINESTYLES, group_linestyle, palette_color
from ._style import linestyle, panel_title, style


def cif_figure(table: pd.DataFrame, *, at_risk: pd.DataFrame | None = None, title: str | None = None,
               xlabel: str = "Months", ylabel: str = "Cumulative incidence", ticks: Sequence[float] | None = None,
               max_time: float | None = None, unit: str | None = "months", ci: bool = True,
               cause_labels: Mapping | None = None, causes: Sequence | None = None,
               group_order: Sequence | None = None, ylim: float | None = None,
               pseudo_population: bool = False, percent: bool = False, break_every: float | None = None,
               palette: str = "default") -> Figure:
    """Draw CIFs; returns a matplotlib Figure (never shown). ``pseudo_population``: the at-risk counts are
    sums of weights (a weighted analysis), and the at-risk table is titled so.

    ``cause_labels`` maps cause codes to names (e.g. ``{1: "local recurrence", 2: "death"}``);
    ``causes`` restricts which causes are drawn. ``ylim`` fixes the top of the y-axis (by default
    the smallest of 0.2, 0.4, ..., 1.0 above the highest upper CI limit, of the causes drawn).
    ``percent``, ``break_every``, ``palette``: as for :func:`~oligomet.report.figures.km.km_figure`.
    """
    missing = [c for c in ("cause", "time", "estimate") if c not in table.columns]
    if missing:
        raise ValueError(f"cif_figure: table lacks column(s) {', '.join(missing)}")
    groups = _curves.group_frames(table, order=group_order)
    present = list(pd.unique(table["cause"]))
    cause_list = list(causes) if causes else present
    absent = [c for c in cause_list if c not in present]
    if absent:
        raise ValueError(f"cif_figure: no curve for cause(s) {', '.join(map(str, absent))}; the table has "
                         f"{', '.join(map(str, present))}")
    labels = dict(cause_labels or {})
    t_max = float(max_time) if max_time is not None else float(table["time"].max()) if len(table) else 1.0
    xt = _curves.x_ticks(t_max, ticks, unit, break_every)
    show_risk = at_risk is not None

    def style_of(gi: int, ci_: int) -> str:
        # line style tells the causes apart; with one cause in a grey palette it tells the groups apart
        if len(cause_list) == 1 and palette in NEEDS_LINESTYLES:
            return group_linestyle(palette, gi)
        return linestyle(ci_)
    with style():
        fig, ax, risk = _curves.layout(len(groups), at_risk=show_risk, labels=[g for g, _ in groups])
        rows, top = [], 0.0
        for gi, (gname, g) in enumerate(groups):
            col = palette_color(palette, gi)
            for ci_, cause in enumerate(cause_list):
                d = _curves.truncate(g[g["cause"] == cause].sort_values("time", kind="stable"), max_time)
                d = d[d["time"] > 0] if (d["time"] == 0).any() and (d.loc[d["time"] == 0, "estimate"] == 0).all() \
                    else d
                has_ci = ci and {"lower", "upper"} <= set(d.columns)
                cname = labels.get(cause, str(cause))
                label = (cname if _curves.is_whole_cohort(gname)
                         else f"{gname}: {cname}" if len(cause_list) > 1 else gname)
                _curves.step_curve(ax, d["time"].to_numpy(), d["estimate"].to_numpy(),
                                   d["lower"].to_numpy() if has_ci else None,
                                   d["upper"].to_numpy() if has_ci else None,
                                   start=0.0, color=col, linestyle=style_of(gi, ci_), label=label,
                                   band_alpha=0.12)
                hi = d["upper"] if has_ci else d["estimate"]
                if len(hi):
                    top = max(top, float(np.nanmax(hi.to_numpy(float))) if np.isfinite(hi).any() else 0.0)
            if risk is not None:
                src = at_risk[at_risk["group"].astype(str) == gname] if "group" in at_risk.columns else at_risk
                rows.append((gname, _curves.at_risk_counts(xt, src), col))
        ymax = ylim if ylim is not None else min(1.0, max(0.2, np.ceil(top * 5 + 1e-9) / 5))
        ax.set_xlim(xt[0], xt[-1])
        ax.set_xticks(xt)
        _curves.probability_axis(ax, ymax, percent=percent, ylabel=ylabel)
        ax.set_xlabel(xlabel)
        if title:
            panel_title(ax, title, loc="left")
        ax.legend(loc="upper left")
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        if risk is not None:
            _curves.draw_at_risk(risk, ax, xt, rows, pseudo_population)
    return fig
