"""PNG files of report figures: the pixels of matplotlib's Agg canvas, encoded here instead of by Pillow.

Why: matplotlib hands the canvas to Pillow, whose PNG encoder tries four row filters on every row
and keeps the best. On 300-dpi figures (mostly white, flat colours) that search costs more than the
compression and gains nothing: unfiltered rows at zlib level 1 encode in about half the CPU time
and give files about a fifth smaller. The rows go to zlib a block at a time (see ``_deflate_rows``).
The drawing is matplotlib's own (same canvas, same dpi), so the pixels are the ones ``savefig`` would
write; only an all-opaque alpha channel is left out.
"""
from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ._agg import CachingCanvasAgg

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render_rgba(fig: Figure, dpi: float) -> np.ndarray:
    """The figure drawn by Agg at ``dpi``, as a (height, width, 4) uint8 array (the canvas's own
    buffer, not copied: each call draws on a new canvas).

    As ``savefig`` does for a figure without a layout engine or tight box: the dpi is set for the
    draw and restored after, and so is the figure's canvas (drawing attaches an Agg canvas).
    """
    canvas, old_dpi = fig.canvas, fig.dpi
    try:
        fig.dpi = dpi
        agg = CachingCanvasAgg(fig)
        agg.draw()
        return np.asarray(agg.buffer_rgba())
    finally:
        fig.dpi = old_dpi
        fig.set_canvas(canvas)


def write_png(path: str | Path, rgba: np.ndarray, dpi: float) -> None:
    """Write an RGBA image as an 8-bit PNG (RGB when fully opaque) with its dpi in a pHYs chunk."""
    h, w, _ = rgba.shape
    channels, colour_type = (3, 2) if _opaque(rgba) else (4, 6)
    ppm = int(dpi / 0.0254 + 0.5)   # pixels per metre, rounded as Pillow does
    with open(path, "wb") as f:
        f.write(_SIGNATURE)
        f.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)))
        f.write(_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)))
        f.write(_chunk(b"IDAT", _deflate_rows(rgba, channels)))
        f.write(_chunk(b"IEND", b""))


def _deflate_rows(rgba: np.ndarray, channels: int, block: int = 32) -> bytes:
    """The image's rows, each led by its filter byte (0, none), compressed as one zlib stream at level 1.

    ``block`` rows at a time go through a small buffer into one compressor: the same stream as compressing
    all rows at once (deflate waits for a full window of input before it matches, however the input comes),
    without writing a copy of the whole image first (as large as the image, and half the time of the
    encoding)."""
    h, w, _ = rgba.shape
    rows = np.zeros((min(block, h), w * channels + 1), np.uint8)
    deflate = zlib.compressobj(1)
    out = []
    for r0 in range(0, h, block):
        n = min(block, h - r0)
        pixels = rows[:n, 1:].reshape(n, w, channels)
        for k in range(channels):   # channel by channel: copying 3 of every 4 bytes at once is ~4x slower
            pixels[..., k] = rgba[r0:r0 + n, :, k]
        out.append(deflate.compress(rows[:n]))
    out.append(deflate.flush())
    return b"".join(out)


def _opaque(rgba: np.ndarray) -> bool:
    """Whether every alpha byte is 255: as 32-bit words (alpha the high byte on little-endian machines)
    a contiguous minimum, five times faster than comparing the alpha plane byte by byte."""
    if sys.byteorder == "little" and rgba.flags.c_contiguous:
        return bool(rgba.view(np.uint32).min() >= 0xFF000000)
    return bool((rgba[..., 3] == 255).all())


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
