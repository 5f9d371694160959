"""STROBE flow diagram: a column of boxes with the patients remaining after each criterion, an
exclusion box beside each step with the number excluded and why, the split by group and, for a
matched study, the matched cohort of each group.

Input is the tidy cohort-flow frame written by the study runner (columns ``step``, ``label``,
``n_remaining``, ``n_excluded`` and optionally ``n_unknown``: of the excluded, those whose criterion
value is missing; the first row is the source population with ``n_excluded`` 0), optionally the group
counts (a mapping group → n) and the matched counts (group → n matched, as the matching reports them).

Every box is sized to its text: labels are wrapped to the box width, the box grows to the lines,
and a line still wider than its box after drawing (a very long word) gets a smaller font, so no
text leaves its box (tests check the extents with the Agg renderer).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Mapping

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ._agg import CachingCanvasAgg
from ._style import BASE_FONT_SIZE, new_figure, style

FONT_SIZE = BASE_FONT_SIZE - 0.5
LINE_H = FONT_SIZE * 1.25 / 72          # inches per text line
PAD_X, PAD_Y = 0.1, 0.08                # inner padding of a box, inches
CHAR_W = FONT_SIZE / 72 * 0.58          # DejaVu Sans: average character width ≈ 0.58 em
MIN_FONT = 5.0
GAP = 0.42                              # vertical space between two boxes of the main column


@dataclass
class _Box:
    x: float
    y: float                            # centre, inches from the top
    w: float
    lines: list[str]
    face: str = "white"
    bold: bool = False
    min_h: float = 0.0                  # boxes of one row share a height

    @property
    def h(self) -> float:
        return max(self.min_h, len(self.lines) * LINE_H + 2 * PAD_Y)


def _wrap(text: str, width_in: float) -> list[str]:
    """Wrap each line of ``text`` to the characters that fit in ``width_in`` inches (long words are
    broken only if they alone exceed the width)."""
    chars = max(8, int((width_in - 2 * PAD_X) / CHAR_W))
    out = []
    for part in str(text).split("\n"):
        out += textwrap.wrap(part, chars, break_long_words=True, break_on_hyphens=False) or [""]
    return out


def _count(n) -> str:
    return f"n = {int(n):,}"


def _exclusion_lines(row, width_in: float) -> list[str]:
    """The criterion, then the count; split into "criterion not met" and "unknown" (missing value) when
    some of the exclusions are unknown."""
    lines = _wrap(str(row["label"]), width_in)
    n_out = int(row["n_excluded"])
    unknown = int(row["n_unknown"]) if "n_unknown" in row and pd.notna(row["n_unknown"]) else 0
    if unknown:
        lines += [_count(n_out), f"criterion not met: {n_out - unknown:,}", f"unknown (missing): {unknown:,}"]
    else:
        lines.append(_count(n_out))
    return lines


def _draw_box(ax, b: _Box):
    # add_artist, not add_patch: the limits are set, and add_patch would still walk the rounded outline's
    # curves for the data limits; the box is drawn the same
    ax.add_artist(FancyBboxPatch((b.x - b.w / 2, b.y - b.h / 2), b.w, b.h,
                                boxstyle="round,pad=0,rounding_size=0.06", linewidth=0.9, edgecolor="0.25",
                                facecolor=b.face))
    return ax.text(b.x, b.y, "\n".join(b.lines), ha="center", va="center", fontsize=FONT_SIZE,
                   weight="bold" if b.bold else "normal", linespacing=1.25)


def _line(ax, xs, ys, arrow: bool = False) -> None:
    if arrow:
        ax.annotate("", xy=(xs[1], ys[1]), xytext=(xs[0], ys[0]),
                    arrowprops=dict(arrowstyle="-|>", color="0.25", linewidth=0.9, shrinkA=0, shrinkB=0))
    else:
        ax.plot(xs, ys, color="0.25", linewidth=0.9)


def shown_steps(flow: pd.DataFrame, drop_zero_steps: bool = False) -> pd.DataFrame:
    """The flow rows drawn: the source, then every step (only those that excluded someone, when
    ``drop_zero_steps``)."""
    rows = flow.reset_index(drop=True)
    if drop_zero_steps and len(rows) > 1:
        keep = [0] + [i for i in range(1, len(rows)) if int(rows.loc[i, "n_excluded"]) != 0]
        rows = rows.loc[keep].reset_index(drop=True)
    return rows


def flow_figure(flow: pd.DataFrame, groups: Mapping[str, int] | None = None, *, title: str | None = None,
                width: float = 7.0, drop_zero_steps: bool = False, matched: Mapping[str, int] | None = None,
                matched_label: str = "Matched") -> Figure:
    """Draw the flow diagram; returns a matplotlib Figure (never shown).

    ``drop_zero_steps``: criteria that excluded nobody get no box (the flow table keeps them).
    ``matched``: patients per group after propensity-score matching, drawn as a last row of boxes under
    the groups (``matched_label`` heads them).
    """
    missing = [c for c in ("label", "n_remaining", "n_excluded") if c not in flow.columns]
    if missing:
        raise ValueError(f"flow_figure: flow lacks column(s) {', '.join(missing)}")
    if matched and not groups:
        raise ValueError("flow_figure: a matched cohort needs the groups it was matched from")
    rows = shown_steps(flow, drop_zero_steps)
    cx, bw = width * 0.28, width * 0.42
    ex, ew = width * 0.755, width * 0.44
    y = (0.45 if title else 0.15)
    boxes, lines = [], []
    first = rows.iloc[0]
    cur = _Box(cx, 0, bw, _wrap(str(first["label"]), bw) + [_count(first["n_remaining"])])
    cur.y = y + cur.h / 2
    boxes.append(cur)
    for i in range(1, len(rows)):
        r = rows.iloc[i]
        last = i == len(rows) - 1
        excl = _Box(ex, 0, ew, _exclusion_lines(r, ew), face="#f4f4f4")
        nxt = _Box(cx, 0, bw, ["Study cohort" if last else "Remaining", _count(r["n_remaining"])], bold=last)
        gap = max(GAP, excl.h + 0.2)
        top = cur.y + cur.h / 2
        excl.y = top + gap / 2
        nxt.y = top + gap + nxt.h / 2
        lines.append(([cx, cx], [top, nxt.y - nxt.h / 2], True))
        lines.append(([cx, ex - ew / 2], [excl.y, excl.y], False))   # the exclusion branches off the arrow
        boxes += [excl, nxt]
        cur = nxt
    bottom = cur.y + cur.h / 2
    if groups:
        n_groups = len(groups)
        gw = min((width - 0.3) / n_groups - 0.15, 2.6)
        xs = [width / 2 + (k - (n_groups - 1) / 2) * (gw + 0.15) for k in range(n_groups)]
        gboxes = [_Box(x, 0, gw, _wrap(str(g), gw) + [_count(n)]) for x, (g, n) in zip(xs, groups.items())]
        row_h = max(b.h for b in gboxes)
        split = bottom + GAP / 2
        for b in gboxes:
            b.min_h = row_h
            b.y = bottom + GAP + row_h / 2
            lines.append(([b.x, b.x], [split, b.y - b.h / 2], True))
        lines.append(([cx, cx], [bottom, split], False))
        lines.append(([min(xs + [cx]), max(xs + [cx])], [split, split], False))
        boxes += gboxes
        bottom = bottom + GAP + row_h
        if matched:
            mboxes = []
            for b, g in zip(gboxes, groups):
                if g in matched:
                    mb = _Box(b.x, 0, gw, _wrap(matched_label, gw) + [_count(matched[g])], bold=True)
                    mboxes.append((b, mb))
            row_h = max(mb.h for _, mb in mboxes) if mboxes else 0
            for b, mb in mboxes:
                mb.min_h = row_h
                mb.y = bottom + GAP + row_h / 2
                lines.append(([b.x, b.x], [b.y + b.h / 2, mb.y - mb.h / 2], True))
                boxes.append(mb)
            bottom = bottom + GAP + row_h
    height = bottom + 0.15
    with style():
        fig = new_figure(width, height, fixed=True)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.axis("off")
        for xs_, ys_, arrow in lines:
            _line(ax, xs_, ys_, arrow)
        drawn = [(b, _draw_box(ax, b)) for b in boxes]
        if title:
            ax.text(0.1, 0.2, title, ha="left", va="center", fontsize=BASE_FONT_SIZE + 1)
        _shrink_to_fit(fig, drawn)
    return fig


def _shrink_to_fit(fig: Figure, drawn: list) -> None:
    """Measure every box text with the Agg renderer; a text wider or taller than its box (the
    character-width estimate of :func:`_wrap` is an average) gets the font size that fits."""
    renderer = CachingCanvasAgg(fig).get_renderer()   # the text sizes matplotlib's Agg measures, from the caches
    dpi = fig.dpi
    for b, text in drawn:
        ext = text.get_window_extent(renderer)
        room_w, room_h = (b.w - 2 * PAD_X * 0.5) * dpi, (b.h - PAD_Y) * dpi
        scale = min(room_w / ext.width if ext.width else 1.0, room_h / ext.height if ext.height else 1.0)
        if scale < 1.0:
            text.set_fontsize(max(MIN_FONT, FONT_SIZE * scale * 0.97))
