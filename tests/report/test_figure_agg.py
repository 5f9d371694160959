"""Agg drawing from text caches (_agg.py): exactly matplotlib's pixels, first drawing and from the caches."""
from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from oligomet.report.figures import _agg
from oligomet.report.figures._agg import CachingCanvasAgg
from oligomet.report.figures._style import RC, new_figure


def text_figure():
    fig = new_figure(4.0, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    rng = np.random.default_rng(7)
    for i, (x, y) in enumerate(rng.uniform(0.05, 0.95, (40, 2))):   # the same strings at many sub-pixel offsets
        ax.text(x, y, ["<0.001", "1.03 (1.03–1.03)", "Age (per year)", "ṕ ± ∞"][i % 4],
                rotation=[0, 90, 33.3, -12][i % 4], weight="bold" if i % 3 == 0 else "normal",
                fontsize=6 + i % 5, antialiased=i % 7 != 0)
    ax.set_title(r"math: $\alpha_i^2$ and plain")
    ax.set_xlabel("Months")
    return fig


def pixels(canvas_class, fig):
    with mpl.rc_context(RC):
        fig.dpi = 300
        canvas = canvas_class(fig)
        canvas.draw()
        fig.dpi = 100
        return np.array(canvas.buffer_rgba())


def test_cached_text_has_matplotlibs_pixels():
    fig = text_figure()
    want = pixels(FigureCanvasAgg, fig)
    assert np.array_equal(pixels(CachingCanvasAgg, fig), want)   # caches filled
    assert np.array_equal(pixels(CachingCanvasAgg, fig), want)   # caches used
    assert _agg._layouts and _agg._glyphs and _agg._metrics   # the cached path was taken
