"""Figures: the at-risk numbers sit exactly under the x ticks; counts and labels are the ones given."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oligomet.report.figures import cif_figure, flow_figure, forest_figure, km_figure, save_figure
from oligomet.report.figures._curves import at_risk_counts


def km_table():
    # two groups by hand: group A times 1, 2, 2+, 5, 8+ ; group B times 3, 4+, 6, 7
    rows = [("A", 1, 5, 1, 0), ("A", 2, 4, 1, 1), ("A", 5, 2, 1, 0), ("A", 8, 1, 0, 1),
            ("B", 3, 4, 1, 0), ("B", 4, 3, 0, 1), ("B", 6, 2, 1, 0), ("B", 7, 1, 1, 0)]
    t = pd.DataFrame(rows, columns=["group", "time", "n_risk", "n_event", "n_censor"])
    s = []
    for _, d in t.groupby("group"):
        s.extend(np.cumprod(1 - d["n_event"] / d["n_risk"]))
    t["survival"] = s
    t["lower"], t["upper"] = t["survival"] * 0.8, np.minimum(1, t["survival"] * 1.1)
    return t


def risk_texts(fig):
    risk = fig.axes[1]
    return [t for t in risk.texts if t.get_text().isdigit()], risk


def test_at_risk_counts_by_hand():
    t = km_table()
    # number with time >= x: A at 0 -> 5, at 2 -> 4, at 4 -> 2, at 6 -> 1, at 8 -> 1, at 10 -> 0
    assert at_risk_counts([0, 2, 4, 6, 8, 10], t[t.group == "A"]) == [5, 4, 2, 1, 1, 0]
    assert at_risk_counts([0, 2, 4, 6, 8], t[t.group == "B"]) == [4, 4, 3, 2, 0]


@pytest.mark.parametrize("unit", ["months", None])
def test_km_at_risk_aligned_with_ticks(unit):
    fig = km_figure(km_table(), unit=unit)
    fig.canvas.draw()
    ax = fig.axes[0]
    ticks = list(ax.get_xticks())
    texts, risk = risk_texts(fig)
    assert len(texts) == 2 * len(ticks)
    tick_px = ax.transData.transform([(x, 0) for x in ticks])[:, 0]
    for t in texts:
        x_px = risk.transData.transform((t.get_position()[0], 0))[0]
        assert np.min(np.abs(tick_px - x_px)) < 1e-6  # same display x as a tick
        assert t.get_horizontalalignment() == "center"
    # the two panels share the x-axis: same limits and the same pixel span
    assert risk.get_xlim() == ax.get_xlim()
    assert np.allclose(risk.get_window_extent().intervalx, ax.get_window_extent().intervalx)
    # counts are the hand-computed numbers at risk
    by_row = {}
    for t in texts:
        by_row.setdefault(round(t.get_position()[1]), []).append(int(t.get_text()))
    assert by_row[0] == at_risk_counts(ticks, km_table()[km_table().group == "A"])


def test_cif_at_risk_aligned_and_labels():
    tab = pd.DataFrame({"group": ["A"] * 4 + ["B"] * 4, "cause": [1, 1, 2, 2] * 2,
                        "time": [1.0, 5.0, 2.0, 6.0] * 2, "estimate": [0.1, 0.2, 0.05, 0.1] * 2,
                        "lower": [0.05, 0.1, 0.01, 0.05] * 2, "upper": [0.2, 0.3, 0.1, 0.2] * 2})
    ar = pd.DataFrame({"group": ["A", "A", "B", "B"], "time": [1.0, 5.0, 1.0, 5.0], "n_risk": [10, 4, 8, 3]})
    fig = cif_figure(tab, at_risk=ar, cause_labels={1: "recurrence", 2: "death"})
    fig.canvas.draw()
    ax = fig.axes[0]
    texts, risk = risk_texts(fig)
    tick_px = ax.transData.transform([(x, 0) for x in ax.get_xticks()])[:, 0]
    for t in texts:
        assert np.min(np.abs(tick_px - risk.transData.transform((t.get_position()[0], 0))[0])) < 1e-6
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["A: recurrence", "A: death", "B: recurrence", "B: death"]


def test_forest_rows_and_text():
    f = pd.DataFrame({"label": ["a", "b"], "hr": [2.0, 0.5], "hr_lower": [1.5, 0.25], "hr_upper": [3.0, 1.0],
                      "p": [0.0001, 0.049]})
    fig = forest_figure(f)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "2.00 (1.50–3.00)" in texts and "0.50 (0.25–1.00)" in texts
    assert "<0.001" in texts and "0.049" in texts
    lo, hi = fig.axes[0].get_xlim()
    assert lo <= 0.25 and hi >= 3.0  # every CI inside the log axis


def test_flow_counts():
    flow = pd.DataFrame({"label": ["registry", "Not meeting: colorectal", "Excluded: no follow-up"],
                         "n_remaining": [1000, 400, 390], "n_excluded": [0, 600, 10]})
    fig = flow_figure(flow, {"A": 200, "B": 190})
    texts = " | ".join(t.get_text() for t in fig.axes[0].texts)
    for s in ("n = 1,000", "n = 600", "n = 10", "Study cohort\nn = 390", "A\nn = 200", "B\nn = 190"):
        assert s in texts


def test_save_is_deterministic(tmp_path):
    paths1 = save_figure(km_figure(km_table()), tmp_path / "a")
    paths2 = save_figure(km_figure(km_table()), tmp_path / "b")
    for p1, p2 in zip(paths1, paths2):
        assert p1.read_bytes() == p2.read_bytes()
    assert [p.suffix for p in paths1] == [".png", ".svg"]


def test_max_time_truncates_axis_and_carries_the_last_value():
    t = km_table()
    fig = km_figure(t, max_time=6, ticks=[0, 2, 4, 6])
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 6.0)
    line_a = ax.get_lines()[0]  # group A's step curve
    x, y = line_a.get_xdata(), line_a.get_ydata()
    a = t[t.group == "A"]
    assert x[-1] == 6 and y[-1] == a.loc[a.time <= 6, "survival"].iloc[-1]  # value at t = 5 carried to 6
    assert x.max() == 6
    # the at-risk counts still come from all follow-up: A has 1 patient at risk at t = 6 (time 8)
    texts, _ = risk_texts(fig)
    row_a = [int(s.get_text()) for s in texts if round(s.get_position()[1]) == 0]
    assert row_a == [5, 4, 2, 1]
