"""Width of a label as drawn, from its glyph outlines, for laying out forest-plot columns in inches.

``TextPath(...).get_extents()`` gives the exact ink box but walks the outline one Bézier piece at a
time in Python (tens of milliseconds per label, seconds per report). Here the same box is computed
with numpy over all pieces at once: the ends of every piece, plus the turning point of each
quadratic piece whose control point lies outside its ends (TrueType outlines, as DejaVu's, are
made of lines and quadratics only; anything else falls back to matplotlib).
"""
from __future__ import annotations

import functools

import numpy as np
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.textpath import TextPath, TextToPath
from matplotlib.transforms import Affine2D

from ._fonts import memory_font


class _MemoryTextToPath(TextToPath):
    """matplotlib's TextToPath with the font read from memory (see _fonts): the same outlines, faster."""

    def _get_font(self, prop):
        font = memory_font(tuple(fontManager._find_fonts_by_props(prop)))
        font.set_size(self.FONT_SCALE, self.DPI)
        return font


_TO_PATH = _MemoryTextToPath()


@functools.lru_cache(maxsize=4096)
def text_width_in(text: str, size: float, bold: bool = False) -> float:
    """Rendered (ink) width of ``text`` in inches at ``size`` points. Cached: the same labels recur in
    every endpoint's forest plot."""
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    s, ismath = Text()._preprocess_math(text)
    if ismath:
        path = TextPath((0, 0), text, prop=prop)
    else:   # as TextPath((0, 0), text, prop=prop) builds and scales its outline
        outline = Path(*_TO_PATH.get_text_path(prop, s))
        path = Path(Affine2D().scale(size / _TO_PATH.FONT_SCALE).translate(0, 0).transform(outline.vertices),
                    outline.codes)
    lo, hi = x_extent(path)
    return (hi - lo) / 72.0


def x_extent(path: Path) -> tuple[float, float]:
    """(min, max) of x over the outline, the x-range of ``path.get_extents()``."""
    v, codes = path.vertices, path.codes
    if codes is None:
        return (float(v[:, 0].min()), float(v[:, 0].max())) if len(v) else (0.0, 0.0)
    if (codes == Path.CURVE4).any():
        b = path.get_extents()
        return b.x0, b.x1
    x = v[:, 0]
    curve = codes == Path.CURVE3
    # in a run of CURVE3 codes the vertices alternate control point, end point
    starts = curve & ~np.r_[False, curve[:-1]]
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(codes)), 0))
    control = curve & ((np.arange(len(codes)) - run_start) % 2 == 0)
    ends = np.isin(codes, (Path.MOVETO, Path.LINETO)) | (curve & ~control)
    xs = [x[ends]]
    c = np.flatnonzero(control)
    if len(c):
        x0, cx, x2 = x[c - 1], x[c], x[c + 1]
        denom = x0 - 2 * cx + x2
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (x0 - cx) / denom
        turn = (denom != 0) & (t > 0) & (t < 1)
        t = t[turn]
        xs.append((1 - t) ** 2 * x0[turn] + 2 * t * (1 - t) * cx[turn] + t ** 2 * x2[turn])
    allx = np.concatenate(xs)
    return (float(allx.min()), float(allx.max())) if len(allx) else (0.0, 0.0)
