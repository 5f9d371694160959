"""The combined subgroup forest plot: every subgroup variable of one endpoint in one figure.

One heading row per subgroup variable (with its interaction p), one row per level (and contrast), and
per row the events / patients of each arm, the hazard ratio with its CI on a log scale and as text. The
title says which hazard ratio it is (adjusted, weighted or crude), so the figure reads on its own.

Input is a tidy frame, top to bottom: ``label``, ``heading`` (bool), ``hr``, ``hr_lower``, ``hr_upper``,
``p_interaction`` (heading rows) and one text column per name in ``count_columns``.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._style import BASE_FONT_SIZE, color, new_figure, style
from ._text import text_width_in
from .forest import format_p, format_ratio_ci, ratio_axis

_ROW_IN = 0.27


def _log2_limits(d: pd.DataFrame) -> tuple[float, float]:
    ci = d[["hr_lower", "hr_upper"]].to_numpy(float)
    ci = ci[np.isfinite(ci) & (ci > 0)]
    lo, hi = (min(ci.min(), 1.0), max(ci.max(), 1.0)) if ci.size else (0.5, 2.0)
    return 2 ** math.floor(math.log2(lo) - 0.01), 2 ** math.ceil(math.log2(hi) + 0.01)


def _columns(rows: pd.DataFrame, count_columns: Sequence[str], ratio_label: str, fs: float) -> dict:
    """Column positions in inches (left edges, or centres of the count columns), from the rendered text."""
    heads = [c.split("\n") for c in count_columns]
    label_in = max(text_width_in(str(lbl), fs, bold=bool(h)) + (0 if h else 0.15)
                   for lbl, h in zip(rows["label"], rows["heading"])) + 0.25
    count_in = [max([text_width_in(h, fs, bold=True) for h in head] +
                    [text_width_in(str(v), fs) for v in rows[c].dropna() if str(v)]) + 0.3
                for c, head in zip(count_columns, heads)]
    ratio_in = max(text_width_in(ratio_label, fs, bold=True), text_width_in("0.00 (0.00–00.00)", fs)) + 0.3
    p_in = text_width_in("p interaction", fs, bold=True) + 0.15
    left, plot_in = 0.1, 2.4
    edges = np.cumsum([left + label_in] + count_in)
    x0 = float(edges[-1])
    return {"left": left, "counts": list(edges[:-1] + np.array(count_in) / 2), "x0": x0, "plot": plot_in,
            "ratio": x0 + plot_in + 0.2, "p": x0 + plot_in + ratio_in + p_in - 0.05,
            "width": x0 + plot_in + ratio_in + p_in + 0.1, "n_head": max([1] + [len(h) for h in heads])}


def _draw_rows(ax, rows: pd.DataFrame, count_columns: Sequence[str], at, col: dict, fs: float) -> None:
    trans = ax.get_yaxis_transform()   # x in axes fraction, y in rows
    lo, hi = ax.get_xlim()

    def text(x, y, s, ha="left", **kw):
        ax.text(at(x), y, s, transform=trans, ha=ha, va="center", fontsize=fs, **kw)

    for i, (_, r) in enumerate(rows.iterrows()):
        if r["heading"]:
            text(col["left"], i, str(r["label"]), weight="bold")
            text(col["p"], i, format_p(float(r["p_interaction"])), ha="right")
            continue
        text(col["left"] + 0.15, i, str(r["label"]))
        for xc, c in zip(col["counts"], count_columns):
            text(xc, i, "" if pd.isna(r[c]) else str(r[c]), ha="center")
        est, l_, u_ = float(r["hr"]), float(r["hr_lower"]), float(r["hr_upper"])
        if np.isfinite(est) and est > 0:
            ax.plot([max(l_, lo), min(u_, hi)], [i, i], color=color(0), linewidth=1.2)
            ax.plot([est], [i], marker="s", color=color(0), markersize=5)
        text(col["ratio"], i, format_ratio_ci(est, l_, u_))


def subgroup_forest_figure(rows: pd.DataFrame, *, count_columns: Sequence[str], title: str,
                           ratio_label: str = "HR (95% CI)", xlabel: str = "Hazard ratio (log scale)",
                           favours: tuple[str, str] | None = None, note: str = "") -> Figure:
    """Draw the figure; ``favours`` = (label left of 1, label right of 1); ``note`` goes under the axis."""
    fs = BASE_FONT_SIZE - 0.5
    n = len(rows)
    col = _columns(rows, count_columns, ratio_label, fs)
    width, x0, plot_in = col["width"], col["x0"], col["plot"]
    top_in = 0.3 + 0.17 * col["n_head"] + (0.2 if title else 0)
    bottom_in = 0.55 + (0.2 if favours else 0) + (0.2 * (note.count("\n") + 1) if note else 0)
    height = top_in + n * _ROW_IN + bottom_in
    lo, hi = _log2_limits(rows[~rows["heading"].astype(bool)])
    with style():
        fig = new_figure(width, height, fixed=True)
        ax = fig.add_axes((x0 / width, bottom_in / height, plot_in / width, n * _ROW_IN / height))
        ratio_axis(ax, lo, hi, n, 1.0, xlabel)

        def at(inches: float) -> float:   # a figure x position in inches as axes fraction
            return (inches - x0) / plot_in

        trans = ax.get_yaxis_transform()
        header = {"ha": "left", "va": "bottom", "fontsize": fs, "weight": "bold", "transform": trans}
        for xc, head in zip(col["counts"], count_columns):
            ax.text(at(xc), -0.85, head, **{**header, "ha": "center"})
        ax.text(at(col["left"]), -0.85, "Subgroup", **header)
        ax.text(at(col["ratio"]), -0.85, ratio_label, **header)
        ax.text(at(col["p"]), -0.85, "p interaction", **{**header, "ha": "right"})
        _draw_rows(ax, rows, count_columns, at, col, fs)
        if favours:
            y = -0.5 / (n * _ROW_IN)   # under the axis label
            ax.text(0.5 - 0.03, y, f"← {favours[0]}", transform=ax.transAxes, ha="right", va="top", fontsize=fs - 0.5)
            ax.text(0.5 + 0.03, y, f"{favours[1]} →", transform=ax.transAxes, ha="left", va="top", fontsize=fs - 0.5)
        if note:
            fig.text(col["left"] / width, 0.08 / height, note, ha="left", va="bottom", fontsize=fs - 0.5,
                     color="0.25")
        if title:
            fig.text(col["left"] / width, 1 - 0.1 / height, title, ha="left", va="top", fontsize=BASE_FONT_SIZE + 1)
    return fig
