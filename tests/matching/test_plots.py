"""Love plot and PS overlap plot: Figures returned, never shown; content reflects the input."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import oligomet as om
from oligomet.report.figures.love import love_plot
from oligomet.report.figures.overlap import ps_overlap_plot

from matching_data import COVARIATES, load_data


@pytest.fixture(scope="module")
def matched():
    d = load_data("colon")
    return d, om.match(d, treatment="treated", covariates=COVARIATES["colon"][1], caliper=0.2)


def test_love_plot(matched):
    _, m = matched
    fig = love_plot(m.balance)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == sorted(COVARIATES["colon"][1])  # distance dropped by default
    before = ax.collections[0].get_offsets()[:, 0]
    np.testing.assert_allclose(np.sort(before), np.sort(m.balance.drop(index="distance")["smd_before"].abs()))
    assert any(np.allclose(line.get_xdata(), 0.1) for line in ax.get_lines())
    with pytest.raises(ValueError, match="lacks column"):
        love_plot(m.balance.drop(columns="smd_after"))


def test_overlap_plot(matched):
    d, m = matched
    fig = ps_overlap_plot(m.propensity, d.loc[m.propensity.index, "treated"], weights=m.weights)
    assert isinstance(fig, Figure)
    bars = fig.axes[0].patches
    heights = np.array([b.get_height() for b in bars])
    assert heights[heights > 0].sum() == pytest.approx(1.0)  # treated proportions
    assert heights[heights < 0].sum() == pytest.approx(-1.0)  # control proportions
