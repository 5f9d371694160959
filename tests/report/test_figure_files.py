"""Figure files: the PNG written by save_figure holds exactly the pixels of matplotlib's own PNG."""
from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from PIL import Image

from oligomet.report.figures import km_figure, save_figure
from oligomet.report.figures._png import write_png
from oligomet.report.figures._style import RC


def big_km_table(n=3000, seed=1):
    # a registry-sized curve: thousands of steps, censor ticks and a CI band
    rng = np.random.default_rng(seed)
    t = np.sort(rng.exponential(30, n).round(1))
    out = []
    for g in ("A", "B"):
        d = pd.DataFrame({"time": t, "n_event": rng.integers(0, 2, n), "n_censor": rng.integers(0, 2, n)})
        d = d.groupby("time", as_index=False).sum()
        d["n_risk"] = (d["n_event"] + d["n_censor"])[::-1].cumsum()[::-1]
        d["survival"] = np.cumprod(1 - d["n_event"] / d["n_risk"].clip(lower=1))
        d["lower"], d["upper"] = d["survival"] * 0.9, np.minimum(1, d["survival"] * 1.05)
        out.append(d.assign(group=g))
    return pd.concat(out, ignore_index=True)


def test_png_pixels_equal_matplotlibs(tmp_path):
    fig = km_figure(big_km_table(), max_time=120)
    with mpl.rc_context(RC):
        fig.savefig(tmp_path / "mpl.png", format="png")
    (ours,) = save_figure(fig, tmp_path / "ours", ("png",))
    with Image.open(tmp_path / "mpl.png") as a, Image.open(ours) as b:
        assert b.mode == "RGB" and abs(b.info["dpi"][0] - 300) < 0.5
        assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b))
    assert fig.dpi == 100 and type(fig.canvas).__name__ == "FigureCanvasBase"   # left as it was


def test_png_keeps_alpha_when_not_opaque(tmp_path):
    rgba = np.zeros((3, 5, 4), np.uint8)
    rgba[..., 0], rgba[1, 2, 3] = 200, 255
    write_png(tmp_path / "x.png", rgba, 300)
    with Image.open(tmp_path / "x.png") as im:
        assert im.mode == "RGBA" and np.array_equal(np.asarray(im), rgba)


def test_label_width_equals_matplotlibs_ink_box():
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    from oligomet.report.figures._text import text_width_in, x_extent

    for text in ("Age at diagnosis (per 10 years)", "ECOG ≥ 2", "Synchronous metastases: yes", "HR (95% CI)", "o"):
        for bold in (False, True):
            path = TextPath((0, 0), text, prop=FontProperties(size=8.5, weight="bold" if bold else "normal"))
            assert abs(text_width_in(text, 8.5, bold) - path.get_extents().width / 72.0) < 1e-12
            lo, hi = x_extent(path)   # the outline read from memory is matplotlib's, to the last bit
            assert text_width_in(text, 8.5, bold) == (hi - lo) / 72.0


def test_rows_compressed_block_by_block_as_at_once():
    """write_png feeds the rows to zlib a block at a time: the stream is the one of compressing them all at once."""
    import zlib

    from oligomet.report.figures._png import _deflate_rows

    rng = np.random.default_rng(5)
    for h, w, channels in ((1, 7, 3), (31, 50, 3), (33, 50, 4), (200, 333, 3)):
        rgba = np.full((h, w, 4), 255, np.uint8)
        # noise in a corner: long streams with literals and matches
        rgba[h // 3:, w // 4:] = rng.integers(0, 256, (h - h // 3, w - w // 4, 4), dtype=np.uint8)
        rows = np.zeros((h, w * channels + 1), np.uint8)
        rows[:, 1:] = rgba[..., :channels].reshape(h, w * channels)
        for block in (1, 32, 64):
            assert _deflate_rows(rgba, channels, block) == zlib.compress(rows.tobytes(), 1)
