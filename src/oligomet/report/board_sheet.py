"""The tumor-board sheet: an A4-printable, self-contained HTML page from a
:class:`~oligomet.board.sheet.BoardSheet` (tidy data only; this module computes no statistics).

Curves are drawn as inline SVG step lines straight from the tidy curve tables, so the page needs no
image files and prints sharply.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape

from .document import code_label, lower_first
from .html import _env

PALETTE = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c")
_W, _H, _PAD = 330, 150, 28


def step_svg(curves, group_col: str, xmax: float = 60.0) -> Markup:
    """A small step plot (survival 0-1 against months 0-xmax) of the rows of ``curves``
    (columns ``group_col``, ``time``, ``survival``; ``lower``/``upper`` drawn as a shaded band), with a legend."""
    if curves is None or len(curves) == 0:
        return Markup("<p class='muted'>no curve</p>")
    x = lambda t: _PAD + (_W - _PAD - 8) * min(float(t), xmax) / xmax          # noqa: E731
    y = lambda s: 8 + (_H - _PAD - 8) * (1.0 - float(s))                          # noqa: E731
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {_W} {_H + 14 * 4}' class='curve'>",
             f"<rect x='{_PAD}' y='8' width='{_W - _PAD - 8}' height='{_H - _PAD - 8}' fill='none' stroke='#999'/>"]
    for s in (0.0, 0.5, 1.0):
        parts.append(f"<text x='{_PAD - 4}' y='{y(s) + 3:.1f}' text-anchor='end'>{s:g}</text>")
    for t in range(0, int(xmax) + 1, 12):
        parts.append(f"<text x='{x(t):.1f}' y='{_H - _PAD + 12}' text-anchor='middle'>{t}</text>")
    parts.append(f"<text x='{(_W + _PAD) / 2}' y='{_H - 4}' text-anchor='middle'>months</text>")
    for i, (group, g) in enumerate(curves.groupby(group_col, sort=False)):
        g = g.sort_values("time")
        pts, prev = [], None
        for t, s in zip(g["time"], g["survival"]):
            if prev is not None:
                pts.append(f"{x(t):.1f},{y(prev):.1f}")
            pts.append(f"{x(t):.1f},{y(s):.1f}")
            prev = s
        colour = PALETTE[i % len(PALETTE)]
        if {"lower", "upper"} <= set(g.columns) and g[["lower", "upper"]].notna().all().all():
            up = [f"{x(t):.1f},{y(u):.1f}" for t, u in zip(g["time"], g["upper"])]
            lo = [f"{x(t):.1f},{y(v):.1f}" for t, v in zip(g["time"][::-1], g["lower"][::-1])]
            parts.append(f"<polygon fill='{colour}' fill-opacity='0.15' stroke='none' points='{' '.join(up + lo)}'/>")
        parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1.6' points='{' '.join(pts)}'/>")
        ly = _H + 4 + 14 * i
        parts.append(f"<line x1='{_PAD}' x2='{_PAD + 16}' y1='{ly}' y2='{ly}' stroke='{colour}' stroke-width='2'/>"
                     f"<text x='{_PAD + 20}' y='{ly + 3}'>{escape(str(group))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def show(value) -> str:
    """A fact's value as the board reads it: unknown is written out, never blank or 'False'."""
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return "unknown"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, str):
        return code_text(value)
    return str(value)


def code_text(code) -> str:
    """A registry code in running text on the sheet: the report's code labels (Table 1's vocabulary,
    acronyms kept) without the capital a table's first column gets: 'wild_type' -> 'wild type',
    'msi_high' -> 'MSI high', 'sabr' -> 'SABR'; text that already has capitals is kept."""
    if code is None:
        return "unknown"
    text = str(code)
    if text != text.lower():
        return text
    return lower_first(code_label(text)) if text[:1].isalpha() else code_label(text)


def criterion_text(criterion: dict, labels: dict | None = None) -> str:
    """An evidence record's population criterion in words: 'primary tumour site: colorectal',
    'months from local liver treatment to recurrence <= 12', 'bilobar liver metastases: yes'."""
    fact = criterion.get("fact")
    if not fact:
        text = str(criterion.get("criterion", ""))
        for name in sorted(labels or {}, key=len, reverse=True):   # a compound condition: names by label
            text = re.sub(rf"\b{re.escape(name)}\b", labels[name], text)
        return text
    op, value = criterion.get("op"), criterion.get("value")
    if op == "is":
        return f"{term_text(fact, labels)}: {show(value)}"
    if op == "in":
        return f"{term_text(fact, labels)}: {' or '.join(show(v) for v in value)}"
    return f"{term_text(fact, labels)} {op} {show(value)}"


#: Analysis-frame columns the sheet's Cox model may adjust for, by name (the others: their code label).
_TERM_LABELS = {"age": "age", "ecog": "ECOG", "n_lesions": "number of lesions"}


def term_text(name: str, labels: dict | None = None) -> str:
    """A fact or model term by its label: the vocabulary's label when it has one."""
    if labels and name in labels:
        return labels[name]
    return _TERM_LABELS.get(name, code_text(name))


@lru_cache(maxsize=1)
def _template():
    """The compiled template, once per process (compiling it costs more than rendering)."""
    env = _env()
    env.filters["show"] = show
    env.filters["code"] = code_text
    env.filters["term"] = term_text
    env.filters["criterion"] = criterion_text
    return env.get_template("board_sheet.html.j2")


def render_sheet(sheet) -> str:
    """The sheet's HTML."""
    adv = sheet.advice.table()
    pred = sheet.prediction
    return _template().render(
        s=sheet, case=sheet.case, facts=sheet.facts, labels=sheet.labels,
        fired=adv[adv["status"] == "fired"].to_dict(orient="records"),
        undecided=adv[adv["status"] == "undecided"].to_dict(orient="records"),
        needs=sheet.advice.needs(), options=sheet.options, version=sheet.advice.version,
        scores=sheet.scores.to_dict(orient="records"), evidence=sheet.evidence.to_dict(orient="records"),
        pred=pred,
        km_svg=step_svg(pred.km_curves, "group") if pred is not None else None,
        cox_svg=step_svg(pred.cox_curves, "option") if pred is not None else None,
        km_rows=pred.km_at.to_dict(orient="records") if pred is not None else [],
        hr_rows=(pred.cox_hr.reset_index().to_dict(orient="records")
                 if pred is not None and pred.cox_hr is not None else []))


def write_sheet(sheet, out: str | Path) -> tuple[Path, Path]:
    """``out/board_sheet.html`` and ``out/case.json``; returns both paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / "board_sheet.html", out / "case.json"
    json_path.write_text(json.dumps(sheet.document(), indent=2, sort_keys=True, ensure_ascii=False,
                                    allow_nan=False) + "\n", encoding="utf-8")
    html_path.write_text(render_sheet(sheet), encoding="utf-8")
    return html_path, json_path
