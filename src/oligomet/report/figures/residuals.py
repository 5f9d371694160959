"""Cox residual plots: scaled Schoenfeld residuals over time (R's ``plot(cox.zph(fit))``) and martingale
residuals against a covariate (functional form).

Input is the tidy frames of :class:`oligomet.survival.residual_smooth.ResidualSmooth` (``points``: ``term``,
``x``, ``residual``; ``curve``: ``term``, ``x``, ``fit``, ``lower``, ``upper``; ``ticks``: ``x``, ``label``).
The smooths and bands are computed there; this module only draws them, one panel per term, as R does:
residuals as open points, the smooth as a solid line, the band as dashed lines.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._style import color, new_figure, panel_title, style

POINTS = ("term", "x", "residual")
CURVE = ("term", "x", "fit", "lower", "upper")
MAX_POINTS = 5000   # registry-sized cohorts: an even subset of the residual points is drawn (smooth unaffected)


def _require(frame: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"residual figure: {what} lacks column(s) {', '.join(missing)}")


def residual_figure(points: pd.DataFrame, curve: pd.DataFrame, ticks: pd.DataFrame | None = None, *,
                    xlabel: str = "Time", ylabel: str = "Beta(t)", log_x: bool = False,
                    terms: Sequence[str] | None = None, reference: float | None = None, ncols: int = 2,
                    title: str | None = None) -> Figure:
    """Draw one panel per term: residual points, smooth, and band (where ``lower``/``upper`` are given).

    ``ticks`` (optional) labels the x axis, e.g. original times on a Kaplan–Meier-transformed axis;
    ``reference`` draws a horizontal dotted line (0 for martingale residuals). Returns a Figure."""
    _require(points, POINTS, "points")
    _require(curve, CURVE, "curve")
    names = list(dict.fromkeys(curve["term"])) if terms is None else list(terms)
    if not names:
        raise ValueError("residual figure: no term to draw")
    ncols = max(1, min(ncols, len(names)))
    nrows = math.ceil(len(names) / ncols)
    with style():
        fig = new_figure(3.4 * ncols, 2.8 * nrows)
        for i, term in enumerate(names):
            ax = fig.add_subplot(nrows, ncols, i + 1)
            pts = points[points["term"] == term]
            if len(pts) > MAX_POINTS:
                pts = pts.iloc[np.linspace(0, len(pts) - 1, MAX_POINTS).round().astype(int)]
            cur = curve[curve["term"] == term]
            ax.scatter(pts["x"], pts["residual"], s=9, facecolors="none", edgecolors="#777777", linewidths=0.6,
                       label="residuals")
            ax.plot(cur["x"], cur["fit"], color=color(0), label="smooth")
            if cur["lower"].notna().any():
                ax.plot(cur["x"], cur["lower"], color=color(0), linestyle="--", linewidth=1.0, label="± 2 SE")
                ax.plot(cur["x"], cur["upper"], color=color(0), linestyle="--", linewidth=1.0)
            if reference is not None:
                ax.axhline(reference, color="#444444", linestyle=":", linewidth=0.8)
            if log_x:
                ax.set_xscale("log")
            if ticks is not None and len(ticks):
                ax.set_xticks(ticks["x"].to_numpy(), ticks["label"].astype(str).tolist())
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{ylabel} for {term}" if ylabel.startswith("Beta") else ylabel)
            if len(names) > 1 and not ylabel.startswith("Beta"):
                panel_title(ax, term, loc="left")
        if title:
            fig.suptitle(title, x=0.02, ha="left")
        fig.tight_layout()
    return fig


def zph_figure(smooth, *, terms: Sequence[str] | None = None, ncols: int = 2, title: str | None = None) -> Figure:
    """``plot(cox.zph(fit))``: from :func:`~oligomet.survival.residual_smooth.scaled_schoenfeld_smooth`."""
    return residual_figure(smooth.points, smooth.curve, smooth.ticks, xlabel=smooth.xlabel, ylabel=smooth.ylabel,
                           log_x=smooth.log_x, terms=terms, ncols=ncols, title=title)


def martingale_figure(smooth, *, title: str | None = None) -> Figure:
    """Martingale residuals against a covariate with the lowess, from
    :func:`~oligomet.survival.residual_smooth.martingale_smooth`; dotted line at 0."""
    return residual_figure(smooth.points, smooth.curve, smooth.ticks, xlabel=smooth.xlabel, ylabel=smooth.ylabel,
                           reference=0.0, ncols=1, title=title)
