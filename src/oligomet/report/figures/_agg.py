"""Agg drawing of report figures with text set from caches: the same pixels, a third less CPU.

Why: at 300 dpi most of Agg's drawing time is text, and matplotlib redoes it all for every figure.
For each string it finds the font, lays the string out with FreeType twice (once to measure it,
once to draw it), then, glyph by glyph, builds the transform matrix with NumPy and rasterizes
the glyph. A report repeats its strings (tick labels, "<0.001", the same covariates in each forest
plot, digits of the at-risk tables), so here, in the process:

* a string's size (width, height, descent) and its glyph layout are remembered per font file,
  size, dpi and hinting, since they depend on nothing else;
* a glyph's bitmap is remembered per position *within its pixel* (FreeType's 1/64 px units):
  moving an outline by whole pixels moves its bitmap by whole pixels and changes nothing else,
  so a glyph met again at the same sub-pixel offset (rows of a forest plot are a whole number of
  pixels apart) is copied, not rasterized again;
* a string's glyphs go to the canvas as one image (Agg's cost is per image, not per pixel), remembered
  per string and sub-pixel positions of its glyphs; glyphs that cover a pixel both are drawn one by one,
  as matplotlib draws them (see ``CachingRendererAgg._compose``);
* a font's line height (``Text._get_layout`` reads it from the font's tables for every text).

What is not in a cache is measured, laid out and rendered with the font read from memory (``_fonts``).
Each step is the one :class:`~matplotlib.backends.backend_agg.RendererAgg` takes (the same FreeType
calls, flags and rounding), so the pixels are those matplotlib would draw (tested: identical PNG
bytes). Math text, font features, languages and a matplotlib whose private text API differs go
to matplotlib's own code.
"""
from __future__ import annotations

import math
import os
import threading

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.font_manager import fontManager

from ._fonts import font_id, memory_font

try:   # matplotlib >= 3.11: glyph by glyph rendering, as reproduced below
    from matplotlib.ft2font import RenderMode
except ImportError:   # pragma: no cover - older matplotlib: its own text drawing
    RenderMode = None

#: entries kept per cache before it is emptied (a report needs a few thousand; bounds a long process)
_MAX_ENTRIES = 50_000
_MAX_COMPOSITE_BYTES = 64 << 20   # images of whole strings: a report's take a few MB
_metrics: dict = {}
_layouts: dict = {}
_glyphs: dict = {}
_heights: dict = {}
_composites: dict = {}
_composite_bytes = [0]

# The layouts hold font objects, and FreeType reads a glyph's outline from the font's file (or, for the
# fonts of _fonts, memory; not their Last Resort fallback) when it loads the glyph. A file inherited through
# fork shares its offset with the parent and every sibling, so two figure workers loading glyphs at once
# seek each other's reads and get garbage ("FT_Load_Glyph ... invalid outline"; reproduced in 12 of 15
# rounds). Matplotlib empties its own font cache in a forked child for this reason; the layouts go likewise
# (and _fonts' fonts), so a child opens the font files itself. The sizes and bitmaps are plain data and stay.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_layouts.clear)
_FAST = RenderMode is not None and all(
    hasattr(RendererAgg, n) for n in ("_prepare_font", "_draw_text_glyphs_and_boxes"))


def font_key(prop, dpi) -> tuple:
    """What a string's size and glyphs depend on besides the string: the font files, size, dpi and the
    rcParams FreeType is set up with."""
    rc = mpl.rcParams
    return (tuple(fontManager._find_fonts_by_props(prop)), prop.get_size_in_points(), dpi, get_hinting_flag(),
            rc.get("text.hinting_factor"), rc.get("text.kerning_factor"), rc.get("font.enable_last_resort"))


def font_height_metrics(fonts: tuple, size: float, dpi: float) -> tuple:
    """(ascent, descent, line gap) of the first of ``fonts`` at ``size`` points and ``dpi``, from its OS/2 or
    hhea table: the numbers ``Text._get_layout`` computes for every text it lays out, from the same tables
    in the same order of operations, remembered here. (None, None, None) (matplotlib then measures "lp")
    when the font has neither table."""
    key = (fonts, size, dpi)
    hit = _heights.get(key)
    if hit is None:
        font = memory_font(fonts)
        hit = (None, None, None)
        for table_name, gap_key, ascent_key, descent_key in (
                ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"), ("hhea", "lineGap", "ascent", "descent")):
            table = font.get_sfnt_table(table_name)
            if table is None:
                continue
            scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * size * dpi / 72
            hit = (table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale)
            break
        _remember(_heights, key, hit)
    return hit


def _remember(cache: dict, key, value):
    if len(cache) >= _MAX_ENTRIES:
        cache.clear()
    cache[key] = value
    return value


class CachingRendererAgg(RendererAgg):
    """:class:`RendererAgg` whose text measuring and drawing use the caches of this module.

    ``figure``: the figure drawn (its dpi sets the line heights of its texts, see :func:`font_height_metrics`).
    """

    def __init__(self, width, height, dpi, figure=None):
        super().__init__(width, height, dpi)
        self._figure = figure
        self._font_keys: dict = {}

    def clear(self):
        super().clear()
        self._font_keys.clear()   # a new drawing: the rcParams may have changed since the last

    def _font_key(self, prop) -> tuple:
        # once per font properties and drawing: finding the font files takes a dozen rcParams lookups.
        # Keyed by the hash, which is what FontProperties compare equal by.
        h = hash(prop)
        key = self._font_keys.get(h)
        if key is None:
            key = self._font_keys[h] = font_key(prop, self.dpi)
        return key

    def _get_font_height_metrics(self, prop):
        """Consulted by ``Text._get_layout`` for the line height (see :func:`font_height_metrics`)."""
        if not _FAST:
            return None, None, None   # matplotlib's own way
        key = self._font_key(prop)
        return font_height_metrics(key[0], key[1], (self._figure or self).dpi)

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath is not False or not _FAST:
            return super().get_text_width_height_descent(s, prop, ismath)
        fkey = self._font_key(prop)
        hit = _metrics.get((s, fkey))
        if hit is None:   # as RendererAgg measures it, with the font read from memory (see _fonts)
            font = self._font(fkey)
            font.set_text(s, 0.0, flags=fkey[3])
            w, h = font.get_width_height()
            hit = _remember(_metrics, (s, fkey), (w / 64.0, h / 64.0, font.get_descent() / 64.0))
        return hit

    def _font(self, fkey):
        """``self._prepare_font(prop)`` for the font key of ``prop``, reading the font from memory."""
        font = memory_font(fkey[0])
        font.clear()
        font.set_size(fkey[1], self.dpi)
        return font

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not _FAST or (mtext is not None and (mtext.get_fontfeatures() is not None
                                                          or mtext.get_language() is not None)):
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        fkey = self._font_key(prop)
        key = (s, fkey, threading.get_ident())   # the items hold this thread's fonts
        items = _layouts.get(key)
        if items is None:
            items = _remember(_layouts, key, tuple(
                (it.ft_object, it.glyph_index, it.x, it.y) for it in self._font(fkey)._layout(s, flags=fkey[3])))
        self._draw_glyphs(gc, x, y, angle, fkey, items, s)

    def _draw_glyphs(self, gc, x, y, angle, font_key, items, s=None) -> None:
        """``RendererAgg._draw_text_glyphs_and_boxes`` for unslanted, unstretched glyphs and no boxes, with
        each glyph's bitmap taken from the cache when it was rendered at the same sub-pixel offset, and the
        glyphs of the string drawn as one image (see :func:`_composed`)."""
        cos = math.cos(math.radians(angle))
        sin = math.sin(math.radians(angle))
        height = self.height
        # FreeType's 1/64 px positions of the glyphs (y upwards), as RendererAgg rounds them
        at = [(round(0x40 * (x + dx * cos - dy * sin)), round(0x40 * (height - y + dx * sin + dy * cos)))
              for _, _, dx, dy in items]
        if not at:
            return
        aa = bool(gc.get_antialiased())
        # relative to the whole pixel of the first glyph, the drawing is the same wherever that pixel is
        bx, by = at[0][0] >> 6, at[0][1] >> 6
        rel = tuple((px - (bx << 6), py - (by << 6)) for px, py in at)
        key = (s, font_key, aa, angle, rel) if s is not None else None
        drawing = _composites.get(key) if key is not None else None
        if drawing is None:
            drawing = self._compose(cos, sin, font_key, items, aa, rel)
            if key is not None:
                size = sum(image.nbytes for image, _, _ in drawing)
                if _composite_bytes[0] + size > _MAX_COMPOSITE_BYTES:
                    _composites.clear()
                    _composite_bytes[0] = 0
                _composites[key] = drawing
                _composite_bytes[0] += size
        top = int(height) - by
        for image, col, row in drawing:   # col, row: the image's left column and top row, from the base pixel
            self._renderer.draw_text_image(image, bx + col, top + row + image.shape[0], 0, gc)

    def _compose(self, cos, sin, font_key, items, aa, rel) -> list:
        """The string's glyph bitmaps placed at ``rel`` (1/64 px from a whole pixel), as [(image, left column,
        top row)]: one image holding every glyph, or, where two glyphs cover a pixel both, one per glyph.

        Why one image: Agg blends a text image onto the canvas pixel by pixel, and a pixel the image does not
        cover (value 0) is left as it is, so glyphs that share no covered pixel give the same pixels drawn
        at once as one after the other; drawing is mostly the cost of a call, not of the pixels."""
        matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[1, 0], [0, 1]]).round().astype(int)
        size, load_flags, dpi = font_key[1], font_key[3], self.dpi
        # a glyph's bitmap depends on these and on its font, index and offset within its pixel
        setup = (size, dpi, load_flags, font_key[4], aa, tuple(matrix.ravel().tolist()))
        glyphs = []
        for (font, glyph_index, _, _), (rx, ry) in zip(items, rel):
            key = (font_id(font), glyph_index, rx & 63, ry & 63, setup)
            hit = _glyphs.get(key)
            if hit is None:   # as RendererAgg renders it
                font.set_size(size, dpi)
                font._set_transform(matrix, [rx & 63, ry & 63])
                bitmap = font._render_glyph(glyph_index, load_flags, RenderMode.NORMAL if aa else RenderMode.MONO)
                buffer = np.array(bitmap.buffer)
                if not aa:
                    buffer *= 0xff
                hit = _remember(_glyphs, key, (buffer, bitmap.left, bitmap.top))
            buffer, left, top = hit
            if buffer.size:
                glyphs.append((buffer, left + (rx >> 6), -(top + (ry >> 6))))
        if len(glyphs) < 2:
            return glyphs
        c0 = min(c for _, c, _ in glyphs)
        r0 = min(r for _, _, r in glyphs)
        image = np.zeros((max(r + b.shape[0] for b, _, r in glyphs) - r0,
                          max(c + b.shape[1] for b, c, _ in glyphs) - c0), np.uint8)
        for buffer, c, r in glyphs:
            region = image[r - r0:r - r0 + buffer.shape[0], c - c0:c - c0 + buffer.shape[1]]
            if np.logical_and(region, buffer).any():
                return glyphs   # overlapping coverage: blended twice by matplotlib, so drawn glyph by glyph
            region |= buffer   # where one of them is 0
        return [(image, c0, r0)]


class CachingCanvasAgg(FigureCanvasAgg):
    """An Agg canvas drawing with :class:`CachingRendererAgg`."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = CachingRendererAgg(w, h, self.figure.dpi, self.figure)
            self._lastKey = key
        return self.renderer


#: ``savefig(..., backend=BACKEND)`` draws PNG and TIFF with :class:`CachingCanvasAgg` (matplotlib's encoders)
FigureCanvas = CachingCanvasAgg
BACKEND = f"module://{__name__}"
