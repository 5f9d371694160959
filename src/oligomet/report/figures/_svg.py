"""SVG drawing of report figures with text measured from caches: the same file, less CPU.

Why: with ``svg.fonttype = "none"`` the SVG keeps text as text, but matplotlib still measures every
string to place it (tick labels, legends, the at-risk tables): it loads the font, lays the string out
with FreeType and reads its size, figure after figure, though a report repeats its strings. Here a
string's size is remembered per font files and size, and a font's line height per font, size and dpi,
as :mod:`._agg` does for the PNG: the numbers are those matplotlib computes (the same FreeType calls),
so the file is byte for byte matplotlib's (tested).

Used as a backend for ``savefig`` (``backend=BACKEND``): ``savefig`` does everything else (the tight
box, the figure's colours and dpi) as for its own SVG backend.
"""
from __future__ import annotations

import codecs

import matplotlib as mpl
from matplotlib import cbook
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import FigureCanvasSVG, RendererSVG
from matplotlib.font_manager import fontManager
from matplotlib.textpath import TextToPath

from ._agg import _FAST as _AGG_FAST, _remember, font_height_metrics
from ._fonts import memory_font

#: ``savefig(..., backend=BACKEND)`` draws with :class:`FigureCanvas`
BACKEND = f"module://{__name__}"

_metrics: dict = {}
try:   # matplotlib >= 3.10
    from matplotlib.ft2font import LoadFlags
except ImportError:   # pragma: no cover - older matplotlib: its own measuring
    LoadFlags = None
_FAST = _AGG_FAST and LoadFlags is not None and hasattr(TextToPath, "FONT_SCALE")


class CachingRendererSVG(RendererSVG):
    """:class:`RendererSVG` measuring text from the caches (``figure``: the figure drawn, for its dpi)."""

    _in_markers, _marker_style = False, None

    def __init__(self, *args, figure=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._figure = figure
        self._fonts: dict = {}

    def _font(self, prop) -> tuple:
        h = hash(prop)   # FontProperties compare equal by their hash
        fonts = self._fonts.get(h)
        if fonts is None:
            rc = mpl.rcParams
            fonts = self._fonts[h] = (tuple(fontManager._find_fonts_by_props(prop)), rc.get("text.kerning_factor"),
                                      rc.get("font.enable_last_resort"))
        return fonts

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath is not False or not _FAST:
            return super().get_text_width_height_descent(s, prop, ismath)
        fonts, size = self._font(prop), prop.get_size_in_points()
        hit = _metrics.get((s, fonts, size))
        if hit is None:   # as TextToPath measures it, with the font read from memory (see _fonts)
            font = memory_font(fonts[0])
            font.set_size(TextToPath.FONT_SCALE, TextToPath.DPI)
            font.set_text(s, 0.0, flags=LoadFlags.NO_HINTING)
            w, h = font.get_width_height()
            scale = size / TextToPath.FONT_SCALE
            hit = _remember(_metrics, (s, fonts, size), (w / 64.0 * scale, h / 64.0 * scale,
                                                         font.get_descent() / 64.0 * scale))
        return hit

    def draw_markers(self, gc, marker_path, marker_trans, path, trans, rgbFace=None):
        # matplotlib writes the style of every marker (a censoring tick, 200 a curve) from the same gc and
        # face colour: worked out once here (see _get_style)
        self._marker_style = None
        self._in_markers = True
        try:
            super().draw_markers(gc, marker_path, marker_trans, path, trans, rgbFace)
        finally:
            self._in_markers = False

    def _get_style(self, gc, rgbFace):
        if not self._in_markers:
            return super()._get_style(gc, rgbFace)
        if self._marker_style is None:
            self._marker_style = super()._get_style(gc, rgbFace)
        return self._marker_style

    def _get_font_height_metrics(self, prop):
        """Consulted by ``Text._get_layout`` for the line height (see :func:`._agg.font_height_metrics`)."""
        if self._figure is None or not _FAST:
            return None, None, None   # matplotlib's own way
        return font_height_metrics(self._font(prop)[0], prop.get_size_in_points(), self._figure.dpi)


class FigureCanvas(FigureCanvasSVG):
    """An SVG canvas drawing with :class:`CachingRendererSVG`; otherwise matplotlib's."""

    def print_svg(self, filename, *, bbox_inches_restore=None, metadata=None, **_ignored):
        # as FigureCanvasSVG.print_svg: the figure drawn at 72 dpi (points), raster parts at the saving dpi
        fig = self.figure
        with cbook.open_file_cm(filename, "w", encoding="utf-8") as fh:
            if not cbook.file_requires_unicode(fh):
                fh = codecs.getwriter("utf-8")(fh)
            image_dpi, fig.dpi = fig.dpi, 72
            width, height = fig.get_size_inches()
            svg = CachingRendererSVG(width * 72, height * 72, fh, image_dpi=image_dpi, metadata=metadata, figure=fig)
            renderer = MixedModeRenderer(fig, width, height, image_dpi, svg, bbox_inches_restore=bbox_inches_restore)
            fig.draw(renderer)
            renderer.finalize()
