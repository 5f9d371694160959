"""Step curves with CI bands and the at-risk table under the x-axis (shared by KM and CIF plots).

The at-risk table is drawn in a second axes that *shares the x-axis* of the curve panel, and
each count is placed at the x tick position in data coordinates. So the numbers sit exactly
under the ticks whatever the figure size, the margins or the saved format.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ._style import BASE_FONT_SIZE, new_figure, nice_ticks


def layout(n_rows: int, *, width: float = 6.4, height: float = 3.6, at_risk: bool = True,
           left: float | None = None, labels: Sequence[str] = ()) -> tuple[Figure, Axes, Axes | None]:
    """A figure with the curve panel on top and, when ``at_risk``, a table panel sharing x below.

    Panels are placed in inches (not with gridspec ratios) so the gap for the tick labels and
    the axis label stays the same whatever the number of at-risk rows.
    """
    row_h, top, right, xlab_gap, risk_title, bottom = 0.2, 0.35, 0.3, 0.55, 0.2, 0.08
    if left is None:
        # room for the at-risk row labels (about 0.068 in per character at the table's font size);
        # the figure grows so the plot panel keeps its width
        longest = max((len(str(x)) for x in labels), default=0) if at_risk else 0
        left = max(1.0, 0.068 * longest + 0.45)
        width = width + max(0.0, left - 1.15)
    risk_h = n_rows * row_h if at_risk else 0.0
    total_h = top + height + (xlab_gap + risk_title + risk_h if at_risk else 0.55) + bottom
    fig = new_figure(width, total_h, fixed=True)
    pw = (width - left - right) / width
    y0 = (total_h - top - height) / total_h
    ax = fig.add_axes((left / width, y0, pw, height / total_h))
    if not at_risk:
        return fig, ax, None
    ry0 = bottom / total_h
    risk = fig.add_axes((left / width, ry0, pw, risk_h / total_h), sharex=ax)
    return fig, ax, risk


def step_curve(ax: Axes, time: np.ndarray, est: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None,
               *, start: float, color: str, label: str, linestyle: str = "-", band_alpha: float = 0.15) -> None:
    """Right-continuous step curve from (0, start), with an optional pointwise CI band."""
    t = np.concatenate([[0.0], np.asarray(time, float)])
    y = np.concatenate([[start], np.asarray(est, float)])
    ax.step(t, y, where="post", color=color, linestyle=linestyle, label=label)
    if lower is not None and upper is not None:
        lo = np.concatenate([[start], np.asarray(lower, float)])
        hi = np.concatenate([[start], np.asarray(upper, float)])
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            ax.fill_between(t, np.where(ok, lo, np.nan), np.where(ok, hi, np.nan), step="post", color=color,
                            alpha=band_alpha, linewidth=0)


def truncate(g: pd.DataFrame, max_time: float | None) -> pd.DataFrame:
    """Rows up to ``max_time``; when the curve goes on beyond it, its value is carried to
    ``max_time`` so the step reaches the end of the axis (the estimate there is the last one)."""
    if max_time is None:
        return g
    keep = g[g["time"] <= max_time]
    if len(keep) < len(g) and len(keep):
        tail = keep.iloc[[-1]].copy()
        tail["time"] = float(max_time)
        for c in ("n_event", "n_censor"):
            if c in tail:
                tail[c] = 0
        keep = pd.concat([keep, tail])
    return keep


def at_risk_counts(times: Sequence[float], n_risk_table: pd.DataFrame) -> list[int]:
    """Number at risk at each of ``times`` from a survfit-style table (``time``, ``n_risk``).

    The number at risk at t is the number still under observation just before t, i.e. the
    ``n_risk`` of the first tabulated time >= t, and 0 beyond the last tabulated time.
    This is a lookup, not an estimate, so it belongs to the renderer.
    """
    tt = n_risk_table["time"].to_numpy(float)
    nr = n_risk_table["n_risk"].to_numpy(float)
    order = np.argsort(tt, kind="stable")
    tt, nr = tt[order], nr[order]
    idx = np.searchsorted(tt, np.asarray(times, float) - 1e-9 * max(1.0, float(tt.max(initial=1.0))), side="left")
    return [int(round(nr[i])) if i < len(tt) else 0 for i in idx]


#: Title of the at-risk table; weighted counts are sums of weights, not patients (a pseudo-population).
AT_RISK_TITLE = "Number at risk"
PSEUDO_AT_RISK_TITLE = "Pseudo-population at risk"


def draw_at_risk(risk: Axes, ax: Axes, ticks: Sequence[float], rows: list[tuple[str, list[int], str]],
                 pseudo_population: bool = False) -> None:
    """Write the counts of each row (label, counts per tick, colour) at the tick x positions; with
    ``pseudo_population`` the counts are sums of weights and the table's title says so."""
    n = len(rows)
    risk.set_ylim(n - 0.5, -0.5)
    risk.set_yticks(range(n))
    risk.set_yticklabels(["All patients" if is_whole_cohort(r[0]) else r[0] for r in rows])
    for lab, (_, _, col) in zip(risk.get_yticklabels(), rows):
        lab.set_color(col)
    for i, (_, counts, col) in enumerate(rows):
        for x, c in zip(ticks, counts):
            risk.text(x, i, f"{c:d}", ha="center", va="center", fontsize=BASE_FONT_SIZE - 1, color=col)
    risk.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    risk.tick_params(axis="y", which="both", left=False, pad=16)
    for side in ("top", "right", "bottom", "left"):
        risk.spines[side].set_visible(False)
    risk.text(0, 1.0, PSEUDO_AT_RISK_TITLE if pseudo_population else AT_RISK_TITLE, transform=risk.transAxes,
              ha="right", va="bottom",
              fontsize=BASE_FONT_SIZE - 0.5)
    risk.patch.set_alpha(0)
    ax.tick_params(axis="x", labelbottom=True)


def x_ticks(max_time: float, ticks: Sequence[float] | None, unit: str | None,
            every: float | None = None) -> list[float]:
    """Explicit ``ticks`` win; else one tick every ``every`` time units (e.g. 12 months) from 0 to the
    first multiple at or beyond ``max_time``; else round steps (:func:`nice_ticks`)."""
    if ticks is not None:
        return [float(t) for t in ticks]
    if every is not None:
        if not every > 0:
            raise ValueError(f"break interval must be positive, got {every!r}")
        k = max(1, int(np.ceil(max_time / every - 1e-9)))
        return [round(i * every, 10) for i in range(k + 1)]
    return nice_ticks(max_time, unit=unit)


def probability_axis(ax: Axes, top: float, *, percent: bool, ylabel: str) -> None:
    """Y from 0 to ``top`` (estimates stay probabilities); with ``percent`` the ticks read 0–100%
    and the label says "(%)" once (a "probability" becomes a percentage)."""
    ax.set_ylim(0, top)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        if "%" not in ylabel:   # "Survival probability" in percent reads "Survival (%)"
            ylabel = f"{ylabel.removesuffix(' probability')} (%)"
    ax.set_ylabel(ylabel)


def annotate(ax: Axes, text: str | None) -> None:
    """The test or effect estimate (computed by its analysis, passed in as text) in the lower left of
    the curve panel, on a white ground so a curve passing behind it does not hide it."""
    if not text:
        return
    ax.text(0.02, 0.03, text, transform=ax.transAxes, ha="left", va="bottom", fontsize=BASE_FONT_SIZE - 0.5,
            bbox=dict(boxstyle="square,pad=0.25", facecolor="white", edgecolor="none", alpha=0.85), zorder=5)


def is_whole_cohort(name: str) -> bool:
    """True for the single group of an unstratified analysis ("All" here, "all" in estimator tables)."""
    return str(name).lower() == "all"


def group_frames(table: pd.DataFrame, group_col: str = "group", order: Sequence | None = None
                 ) -> list[tuple[str, pd.DataFrame]]:
    """Split a tidy table by group, keeping the table's (or the given) group order."""
    if group_col not in table.columns:
        return [("All", table)]
    keys = list(order) if order is not None else list(pd.unique(table[group_col]))
    return [(str(k), table[table[group_col] == k]) for k in keys]
