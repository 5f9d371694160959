"""Cox residual figures: one panel per term with the residual points, the smooth and (zph) the band."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

import oligomet as om
from oligomet.report.figures import martingale_figure, residual_figure, zph_figure
from oligomet.survival.residual_smooth import martingale_smooth, scaled_schoenfeld_smooth


@pytest.fixture(scope="module")
def fit_and_data():
    rng = np.random.default_rng(3)
    n = 200
    d = pd.DataFrame({"age": rng.normal(60, 10, n), "grade": rng.integers(1, 4, n).astype(str),
                      "time": rng.integers(1, 60, n), "dead": rng.binomial(1, 0.6, n)})
    return om.cox(d, time="time", event="dead", covariates=["age", "grade"]), d


def _lines(ax):
    return [ln for ln in ax.get_lines() if ln.get_linestyle() != ":"]


def test_zph_figure_panels_points_smooth_band(fit_and_data):
    fit, _ = fit_and_data
    sm = scaled_schoenfeld_smooth(fit)
    fig = zph_figure(sm)
    assert len(fig.axes) == 2                                    # age, and the factor grade as one term
    for ax, term in zip(fig.axes, ["age", "grade"]):
        pts = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(pts) == 1 and len(pts[0].get_offsets()) == fit.n_events
        solid, lower, upper = _lines(ax)
        cur = sm.curve[sm.curve["term"] == term]
        np.testing.assert_allclose(solid.get_ydata(), cur["fit"])
        np.testing.assert_allclose(lower.get_ydata(), cur["lower"])
        np.testing.assert_allclose(upper.get_ydata(), cur["upper"])
        assert lower.get_linestyle() == "--"
        assert [t.get_text() for t in ax.get_xticklabels()] == sm.ticks["label"].tolist()
        assert ax.get_ylabel() == f"Beta(t) for {term}"


def test_martingale_figure_lowess_and_zero_line(fit_and_data):
    fit, d = fit_and_data
    sm = martingale_smooth(fit, d["age"])
    fig = martingale_figure(sm)
    (ax,) = fig.axes
    (smooth,) = _lines(ax)                                       # no band for lowess
    np.testing.assert_allclose(smooth.get_ydata(), sm.curve["fit"])
    assert any(ln.get_linestyle() == ":" and set(ln.get_ydata()) == {0.0} for ln in ax.get_lines())
    assert ax.get_xlabel() == "age" and ax.get_ylabel() == "Martingale residual"


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="points lacks column"):
        residual_figure(pd.DataFrame({"term": ["a"], "x": [1.0]}),
                        pd.DataFrame(columns=["term", "x", "fit", "lower", "upper"]))
