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


def test_line_heights_are_matplotlibs():
    """The font height metrics the caching renderers hand to Text._get_layout are the ones it computes itself."""
    from matplotlib.backends.backend_agg import RendererAgg

    from oligomet.report.figures._agg import CachingRendererAgg

    fig = text_figure()
    texts = [fig.text(0.1, 0.1, "two\nlines", fontsize=s, weight=w, linespacing=ls)
             for s in (5, 8.5, 10) for w in ("normal", "bold") for ls in (1.2, 1.25, "normal")]
    for dpi in (72, 100, 300):
        fig.dpi = dpi
        plain, cached = RendererAgg(100, 100, dpi), CachingRendererAgg(100, 100, dpi, fig)
        for t in texts:
            (box, lines, xy), want = t._get_layout(cached), t._get_layout(plain)
            assert (box.bounds, lines, xy) == (want[0].bounds, want[1], want[2])
    fig.dpi = 100


def test_svg_is_matplotlibs(tmp_path):
    """save_figure's SVG (text measured from caches) is byte for byte matplotlib's, first and from the caches."""
    from oligomet.report.figures import _svg
    from oligomet.report.figures._style import save_figure

    fig = text_figure()
    fig.axes[0].text(0.5, 0.5, "a box\nof three\nlines", linespacing=1.25, bbox=dict(facecolor="white"))
    fig.axes[0].plot([0.1, 0.5, 0.9], [0.2, 0.4, 0.3], linestyle="none", marker="|", color="C1")   # markers
    fig.axes[0].plot([0.2, 0.6], [0.7, 0.8], marker="s", markerfacecolor="white", alpha=0.5)
    fig.axes[0].legend(["x"], title="Group")
    with mpl.rc_context(RC):
        # not laid out in inches (new_figure(fixed=False)): saved with a tight box
        fig.savefig(tmp_path / "mpl.svg", format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    want = (tmp_path / "mpl.svg").read_bytes()
    _svg._metrics.clear()
    for i in range(2):
        (ours,) = save_figure(fig, tmp_path / f"ours{i}", ("svg",))
        assert ours.read_bytes() == want
    assert _svg._metrics   # the cached path was taken
    assert fig.dpi == 100 and type(fig.canvas).__name__ == "FigureCanvasBase"   # left as it was


def test_strings_drawn_as_one_image_have_matplotlibs_pixels():
    """A string's glyphs go to the canvas as one image unless two of them cover the same pixel ('__'): both
    ways the pixels are matplotlib's, upright and rotated, antialiased or not."""
    fig = new_figure(5.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    strings = ["__", "AVAVA", "e\u0301t\u00e9", "f\u0327", "1,234", "Ty."]
    for i in range(36):
        ax.text((i % 6) / 6, (i // 6) / 6, strings[i % 6], fontsize=(5, 8.5, 14)[i % 3],
                rotation=(0, 90, 33.3)[i // 12], style="italic" if i % 4 == 0 else "normal", antialiased=i % 5 != 0)
    _agg._composites.clear()
    want = pixels(FigureCanvasAgg, fig)
    assert np.array_equal(pixels(CachingCanvasAgg, fig), want)
    assert np.array_equal(pixels(CachingCanvasAgg, fig), want)   # from the caches
    kinds = {len(drawing) > 1 for key, drawing in _agg._composites.items() if key[0] in strings}
    assert kinds == {False, True}   # one image, and glyph by glyph where glyphs overlap


def test_fonts_read_from_memory_have_matplotlibs_glyphs(tmp_path):
    """Fallback fonts (a family list; the Last Resort font for a glyph no font has) and the fonts read from
    memory give matplotlib's pixels and SVG."""
    import warnings

    from oligomet.report.figures import _fonts
    from oligomet.report.figures._style import save_figure

    fig = new_figure(3.0, 2.0, fixed=True)
    fig.text(0.1, 0.7, "Serif, then Sans: ∞ ṕ", family=["DejaVu Serif", "DejaVu Sans"], fontsize=9)
    fig.text(0.1, 0.4, "no font has \U0001F9EC", fontsize=9)
    fig.text(0.1, 0.1, "bold 1,234", weight="bold", fontsize=7)
    _fonts._fonts.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the missing glyph
        want = pixels(FigureCanvasAgg, fig)
        assert np.array_equal(pixels(CachingCanvasAgg, fig), want)
        with mpl.rc_context(RC):
            fig.savefig(tmp_path / "mpl.svg", format="svg", metadata={"Date": None, "Creator": None})
        (ours,) = save_figure(fig, tmp_path / "ours", ("svg",))
    assert ours.read_bytes() == (tmp_path / "mpl.svg").read_bytes()
    assert _fonts._fonts   # drawn with fonts read from memory
