"""Shared look of every report figure: palette, fonts, sizes, and saving as PNG (300 dpi) + SVG (+ TIFF).

Figures are built on :class:`matplotlib.figure.Figure` directly (not ``pyplot``) so that
rendering never touches a GUI backend or pyplot's global state: reports run headless
and in parallel test workers.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import matplotlib as mpl
from matplotlib.figure import Figure

from ._agg import BACKEND as AGG_BACKEND
from ._png import render_rgba, write_png
from ._svg import BACKEND as SVG_BACKEND

#: Okabe-Ito palette: distinguishable with the common colour-vision deficiencies and in greyscale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
#: Line styles for a second categorical dimension (e.g. cause in a CIF plot).
LINESTYLES = ("-", "--", ":", "-.")

BASE_FONT_SIZE = 9.0
RC = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: identical rendering on every machine
    "font.size": BASE_FONT_SIZE,
    "axes.titlesize": BASE_FONT_SIZE + 1,
    "axes.labelsize": BASE_FONT_SIZE,
    "xtick.labelsize": BASE_FONT_SIZE - 0.5,
    "ytick.labelsize": BASE_FONT_SIZE - 0.5,
    "legend.fontsize": BASE_FONT_SIZE - 0.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.6,
    "svg.fonttype": "none",  # keep text as text in SVG: editable by journals' production staff
    "svg.hashsalt": "oligomet",  # deterministic SVG ids: identical reruns give identical files
    "figure.dpi": 100,
    "savefig.dpi": 300,  # journals ask for 300 dpi line art at the printed size
    "savefig.bbox": None,  # panels are laid out in inches; a tight box would cost a second draw
}


@contextmanager
def style() -> Iterator[None]:
    """Apply the report style for the figures built inside the block."""
    with mpl.rc_context(RC):
        yield


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def linestyle(i: int) -> str:
    return LINESTYLES[i % len(LINESTYLES)]


def save_figure(fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``<stem>.<fmt>`` for each of ``formats`` (png, svg, tiff, pdf); return the paths.

    Raster files are at 300 dpi (recorded in the file). Metadata that changes between runs (software
    version, creation time) is stripped so that reruns give identical bytes.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    # Figures laid out in inches here (KM, CIF, forest, flow) need no tight box, which costs a
    # second draw; figures from elsewhere (e.g. the love plot) get one so nothing is cut off.
    bbox = None if getattr(fig, FIXED_LAYOUT, False) else "tight"
    with mpl.rc_context(RC):
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            meta = _STABLE_METADATA.get(fmt)
            # TIFF goes through Pillow: LZW keeps the 300-dpi file small and loses nothing
            extra = {"pil_kwargs": {"compression": "tiff_lzw"}} if fmt in ("tif", "tiff") else {}
            # see _png: same pixels, half the encoding time (a layout engine or a tight box needs savefig)
            if fmt == "png" and bbox is None and fig.get_layout_engine() is None:
                write_png(path, render_rgba(fig, RC["savefig.dpi"]), RC["savefig.dpi"])
                written.append(path)
                continue
            if fmt == "png":   # zlib level 1: a 300-dpi PNG compresses in a third of the time, ~20% larger
                extra = {"pil_kwargs": {"compress_level": 1}}
            # text measured (and, in rasters, drawn) from caches: matplotlib's bytes, less CPU (see _agg, _svg)
            backend = _BACKENDS.get(fmt)
            if backend is not None:
                extra["backend"] = backend
            fig.savefig(path, format=fmt, metadata=meta, bbox_inches=bbox, **extra)
            written.append(path)
    return written


FIXED_LAYOUT = "_oligomet_fixed_layout"
_BACKENDS = {"png": AGG_BACKEND, "tif": AGG_BACKEND, "tiff": AGG_BACKEND, "svg": SVG_BACKEND}
_STABLE_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
                    "pdf": {"CreationDate": None, "Producer": None, "Creator": None}}


def new_figure(width: float, height: float, fixed: bool = False) -> Figure:
    """A new figure in the report style. ``fixed=True``: the caller places every panel and label
    in inches, so it is saved as is (no tight bounding box, which would cost a second draw)."""
    with mpl.rc_context(RC):
        fig = Figure(figsize=(width, height))
    setattr(fig, FIXED_LAYOUT, fixed)
    return fig


def panel_title(ax, text: str, loc: str = "center") -> None:
    """``ax.set_title(text, loc=loc)``, placed at the top of the panel (y = 1) once and for all.

    Matplotlib would check at every drawing whether tick labels on top of the panel are in the way,
    measuring the y tick labels again to find out. The report's panels have their x axis at the bottom,
    so it always finds the title where it is; the position given is that one, and the files the same.
    """
    ax.set_title(text, loc=loc, y=1.0)


def nice_ticks(upper: float, n: int = 6, unit: str | None = None) -> list[float]:
    """Round tick positions from 0 to at least ``upper``, about ``n`` of them.

    With ``unit="months"`` the steps are 1, 2, 3, 6, 12, 24, ... months, because follow-up reads
    best in quarters, half-years and years; otherwise 1, 2, 2.5, 5 × 10^k.
    """
    import math

    if not (upper > 0) or not math.isfinite(upper):
        return [0.0, 1.0]
    raw = upper / max(n - 1, 1)
    if unit == "months" and 0.5 <= raw <= 240:
        steps = [1, 2, 3, 6, 12, 24, 36, 48, 60, 120, 240]
    else:
        mag = 10 ** math.floor(math.log10(raw))
        steps = [b * mag for b in (1, 2, 2.5, 5, 10)]
    step = next(s for s in steps if s >= raw - 1e-12)
    k = math.ceil(upper / step - 1e-9)
    return [round(i * step, 10) for i in range(k + 1)]
