"""Forest plot: hazard ratios with CIs on a log scale, and a text table of HR (95% CI) and p.

Input is a tidy frame with columns ``label`` (or ``term``), ``hr``, ``hr_lower``, ``hr_upper`` and
optionally ``p`` and ``section`` (a heading row is drawn when the section changes, e.g.
"Univariable" / "Multivariable" or one heading per subgroup variable). ``cox(...).summary``
with its index reset fits directly.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._style import BASE_FONT_SIZE, color, new_figure, style
from ._text import text_width_in


def format_p(p: float) -> str:
    """Journal style: p < 0.001, else three decimals (two when p >= 0.1)."""
    if p is None or not np.isfinite(p):
        return ""
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def format_ratio_ci(est: float, lo: float, hi: float) -> str:
    if not np.isfinite(est):
        return "NA"
    return f"{est:.2f} ({lo:.2f}–{hi:.2f})"


def ratio_axis(ax, lo: float, hi: float, n: int, reference: float, xlabel: str) -> None:
    """A forest plot's panel: log x axis from ``lo`` to ``hi`` with power-of-2 ticks, ``n`` rows top down, a
    dashed line at ``reference``, no y axis."""
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(n - 0.5, -0.5)
    ax.axvline(reference, color="0.4", linewidth=0.8, linestyle="--")
    ticks = [2.0 ** k for k in range(int(math.log2(lo)), int(math.log2(hi)) + 1)]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(xlabel)


def forest_figure(frame: pd.DataFrame, *, title: str | None = None, xlabel: str = "Hazard ratio (log scale)",
                  ratio_label: str = "HR (95% CI)", reference: float = 1.0, width: float = 7.6) -> Figure:
    """Draw the forest plot; returns a matplotlib Figure (never shown)."""
    d = frame.reset_index() if "label" not in frame.columns and "term" not in frame.columns else frame.copy()
    if "label" not in d.columns:
        d["label"] = d["term"].astype(str)
    missing = [c for c in ("hr", "hr_lower", "hr_upper") if c not in d.columns]
    if missing:
        raise ValueError(f"forest_figure: frame lacks column(s) {', '.join(missing)}")
    # Rows to draw, top to bottom, with headings where the section changes.
    lines: list[tuple[str, pd.Series | None]] = []
    last = object()
    for _, row in d.iterrows():
        sec = row.get("section") if "section" in d.columns else None
        if sec is not None and sec != last and isinstance(sec, str):
            lines.append((sec, None))
        last = sec
        lines.append((str(row["label"]), row))
    n = len(lines)
    row_h = 0.26
    height = 0.9 + n * row_h
    finite = d[["hr_lower", "hr_upper"]].to_numpy(float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo = min(finite.min(initial=reference), reference) if finite.size else reference / 2
    hi = max(finite.max(initial=reference), reference) if finite.size else reference * 2
    lo, hi = 2 ** math.floor(math.log2(lo) - 0.01), 2 ** math.ceil(math.log2(hi) + 0.01)
    fs = BASE_FONT_SIZE - 0.5
    # Columns in inches: labels | plot | "HR (95% CI)" and p. The label column is as wide as the
    # longest label really renders, so long terms never run into the CI bars.
    label_in = max(text_width_in(lbl, fs, bold=row is None) + (0.0 if row is None else 0.12)
                   for lbl, row in lines) + 0.25
    plot_in, table_in = 2.8, 2.2
    width = max(width, label_in + plot_in + table_in)
    with style():
        fig = new_figure(width, height, fixed=True)
        ax = fig.add_axes((label_in / width, 0.55 / height, plot_in / width, (height - 0.9) / height))
        ratio_axis(ax, lo, hi, n, reference, xlabel)
        trans = ax.get_yaxis_transform()  # x in axes fraction, y in data rows
        x_label = -(label_in - 0.1) / plot_in
        x_ratio, x_p = 1 + 0.2 / plot_in, 1 + (table_in - 0.3) / plot_in
        ax.text(x_ratio, -0.9, ratio_label, transform=trans, ha="left", va="center", fontsize=fs, weight="bold")
        ax.text(x_p, -0.9, "p", transform=trans, ha="right", va="center", fontsize=fs, weight="bold")
        for i, (label, row) in enumerate(lines):
            if row is None:
                ax.text(x_label, i, label, transform=trans, ha="left", va="center", fontsize=fs, weight="bold")
                continue
            indent = 0.12 / plot_in if "section" in d.columns else 0.0
            ax.text(x_label + indent, i, label, transform=trans, ha="left", va="center", fontsize=fs)
            est, l_, u_ = float(row["hr"]), float(row["hr_lower"]), float(row["hr_upper"])
            if np.isfinite(est) and est > 0:
                ax.plot([max(l_, lo), min(u_, hi)], [i, i], color=color(0), linewidth=1.2)
                ax.plot([est], [i], marker="s", color=color(0), markersize=5)
            ax.text(x_ratio, i, format_ratio_ci(est, l_, u_), transform=trans, ha="left", va="center", fontsize=fs)
            if "p" in d.columns:
                ax.text(x_p, i, format_p(float(row["p"])), transform=trans, ha="right", va="center", fontsize=fs)
        if title:
            fig.suptitle(title, x=0.02, ha="left", y=1 - 0.12 / height, fontsize=BASE_FONT_SIZE + 1)
    return fig
