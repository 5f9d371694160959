"""DOCX writer (python-docx): journal tables a co-author can edit in Word.

Every table is a *three-line table* (a rule above the header, one under it, one under the last row; no
grid), its header row repeats on each page, its columns are as wide as their content needs (a column is
never narrower than its longest word, so "performance" is never broken), and its caption uses Word's
Caption style with a real ``SEQ`` field ("Table 1."), which Word renumbers when tables are moved.

:func:`write_docx` writes the tables alone; :mod:`oligomet.report.word_report` writes the whole report with
the same building blocks.
"""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Sequence

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import _Cell

from .model import ReportTable, format_cell

#: Paper sizes (width, height) in cm; A4 is the default of journals outside North America.
PAPER = {"A4": (21.0, 29.7), "Letter": (21.59, 27.94)}
MARGIN_CM = 2.5
TABLE_FONT_PT = 9.0
RULE_HEAVY = 12   # eighths of a point: 1.5 pt top and bottom rules
RULE_LIGHT = 6    # 0.75 pt rule under the header
_CELL_PAD_CM = 0.45   # left + right cell margins of Word's (0.38 cm) and LibreOffice's tables
_SHORT = 24           # body cells up to this length are kept on one line when the page allows
_NUMBER = re.compile(r"^\s*[<>≤≥−–-]?\s*\d")
_TABLE_PREFIX = re.compile(r"^Table\s+\d+\s*[:.]\s*")


def new_document(paper: str = "A4") -> Document:
    """An empty document: paper size, margins, fonts (Normal 10 pt, Caption bold 9 pt black)."""
    if paper not in PAPER:
        raise ValueError(f"paper must be one of {sorted(PAPER)}, not {paper!r}")
    doc = Document()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = (Cm(x) for x in PAPER[paper])
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Cm(MARGIN_CM))
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10)
    caption = doc.styles["Caption"]
    caption.font.size = Pt(9)
    caption.font.bold = True
    caption.font.italic = False
    caption.font.color.rgb = RGBColor(0, 0, 0)   # the default template's caption is blue
    caption.paragraph_format.keep_with_next = True
    for name in ("Title", "Heading 1", "Heading 2"):   # a manuscript prints black, not theme blue
        doc.styles[name].font.color.rgb = RGBColor(0, 0, 0)
    return doc


def text_width_cm(doc: Document) -> float:
    sec = doc.sections[-1]
    return (sec.page_width - sec.left_margin - sec.right_margin) / 360000   # EMU per cm


def fix_properties(doc: Document) -> None:
    """Fixed core properties so that reruns give the same content."""
    fixed = _dt.datetime(2000, 1, 1)
    doc.core_properties.author = "oligomet"
    doc.core_properties.created = fixed
    doc.core_properties.modified = fixed
    doc.core_properties.last_modified_by = "oligomet"


def add_caption(doc: Document, kind: str, number: int, title: str, text: str = ""):
    """'Table 1. title text' in Caption style; the number is a Word SEQ field (updated by Word, F9)."""
    par = doc.add_paragraph(style="Caption")
    par.add_run(f"{kind} ")
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), f" SEQ {kind} \\* ARABIC ")
    run = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = str(number)
    run.append(t)
    fld.append(run)
    par._p.append(fld)
    par.add_run(f". {title.rstrip('.')}.")
    if text:
        par.add_run(" " + text).bold = False
    return par


def _display_frame(t: ReportTable) -> pd.DataFrame:
    frame = t.shown
    return frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()


def _char_cm(font_pt: float) -> float:
    # mean advance of a glyph, generous: Calibri needs less, but a reader without Calibri gets a
    # wider substitute (LibreOffice falls back to DejaVu Sans)
    return font_pt * 0.62 * 2.54 / 72


def _measure(rows: list[list[str]]) -> tuple[list[float], list[float], list[float]]:
    """Per column, in characters: the longest word, the longest short body cell, the longest body line.
    Header characters count 1.15 (bold glyphs are wider)."""
    ncol = max(len(r) for r in rows)
    word, short, line = [0.0] * ncol, [0.0] * ncol, [0.0] * ncol
    for i, r in enumerate(rows):
        bold = 1.15 if i == 0 else 1.0
        for j, text in enumerate(r):
            for ln in text.split("\n"):
                if i > 0:   # a header wraps first ("Multivariable HR / (95% CI)"): it claims only its words
                    line[j] = max(line[j], len(ln))
                word[j] = max(word[j], bold * max((len(w) for w in ln.split()), default=0))
                if i > 0 and len(ln) <= _SHORT:
                    short[j] = max(short[j], len(ln))
    return word, short, line


def _unwrapped(word: list[float], short: list[float]) -> list[float]:
    """Characters a column needs so that its short cells stay on one line; the first column holds
    the labels, which may wrap at words."""
    return [w if j == 0 else max(w, k) for j, (w, k) in enumerate(zip(word, short))]


def _fits(chars: list[float], font_pt: float, available_cm: float) -> bool:
    return sum(k * _char_cm(font_pt) + _CELL_PAD_CM for k in chars) <= available_cm


def table_font_pt(rows: list[list[str]], available_cm: float) -> float:
    """The table's font size: 9 pt, or 8 pt if only then the numbers stay on one line, or the first of
    9 and 8 pt at which every word fits its column, else 7.5 pt."""
    word, short, _ = _measure(rows)
    for chars in (_unwrapped(word, short), word):
        for pt in (TABLE_FONT_PT, 8.0):
            if _fits(chars, pt, available_cm):
                return pt
    return 7.5


def column_widths(rows: list[list[str]], available_cm: float, font_pt: float = TABLE_FONT_PT) -> list[float]:
    """Column widths (cm) from content (``rows[0]`` is the header).

    Each column is at least as wide as its longest word (words are never broken, "performance" never
    becomes "performan / ce") and, where the line allows, as its longest short body cell (a number with
    its CI, "63.0 (9.7)", reads best on one line); what is left of the line goes to the columns whose
    text wraps, in proportion to what they would need unwrapped."""
    word, short, line = _measure(rows)

    def cm(n: list[float]) -> list[float]:
        return [k * _char_cm(font_pt) + _CELL_PAD_CM for k in n]

    least = cm(word)
    want = [max(w, lo) for w, lo in zip(cm(line), least)]
    if sum(want) <= available_cm:   # fits unwrapped: spread over the line in proportion to content
        return [w * available_cm / sum(want) for w in want]
    unwrapped = cm(_unwrapped(word, short))
    if sum(unwrapped) <= available_cm:
        least = unwrapped
    elif sum(least) >= available_cm:   # even word by word too wide: shrink (Word then wraps letters)
        return [w * available_cm / sum(least) for w in least]
    want = [max(w, lo) for w, lo in zip(want, least)]
    spare = available_cm - sum(least)
    extra = [w - lo for w, lo in zip(want, least)]
    return [lo + spare * e / sum(extra) for lo, e in zip(least, extra)]


def _border(parent, edges: dict[str, int | None]) -> None:
    """Set ``w:top``/``w:bottom``/... borders of a ``tblBorders``/``tcBorders`` element (None: no line)."""
    for edge, size in edges.items():
        el = OxmlElement(f"w:{edge}")
        if size is None:
            el.set(qn("w:val"), "nil")
        else:
            el.set(qn("w:val"), "single")
            el.set(qn("w:sz"), str(size))
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")
        parent.append(el)


def _grid(table) -> list[list[_Cell]]:
    """The cells row by row, straight from the XML (``table.rows[i].cells`` rebuilds the whole grid on
    every call, which made long tables slow); the tables written here have no merged cells."""
    return [[_Cell(tc, table) for tc in tr.tc_lst] for tr in table._tbl.tr_lst]


def _three_line_borders(table, header_cells) -> None:
    tbl_pr = table._tbl.tblPr
    for old in tbl_pr.findall(qn("w:tblBorders")):
        tbl_pr.remove(old)
    borders = OxmlElement("w:tblBorders")
    _border(borders, {"top": RULE_HEAVY, "left": None, "bottom": RULE_HEAVY, "right": None,
                      "insideH": None, "insideV": None})
    tbl_pr.append(borders)
    for cell in header_cells:   # the rule under the header
        tc_pr = cell._tc.get_or_add_tcPr()
        tc_borders = OxmlElement("w:tcBorders")
        _border(tc_borders, {"bottom": RULE_LIGHT})
        tc_pr.append(tc_borders)


def _rows_whole_and_header_repeated(table) -> None:
    """No row is split over two pages; the first row (the header) repeats on every page."""
    for i, tr in enumerate(table._tbl.tr_lst):
        tr_pr = tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:cantSplit"))
        if i == 0:
            el = OxmlElement("w:tblHeader")
            el.set(qn("w:val"), "true")
            tr_pr.append(el)


def _fixed_layout(table, cells: list[list[_Cell]], widths_cm: list[float]) -> None:
    """Widths are written on the grid and on every cell, with a fixed layout, so that Word and
    LibreOffice draw the same columns (autofit would re-break words)."""
    table.autofit = False
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    table._tbl.tblPr.append(layout)
    for col, w in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths_cm):
        col.set(qn("w:w"), str(int(w / 2.54 * 1440)))   # twentieths of a point
    for row in cells:
        for cell, w in zip(row, widths_cm):
            cell.width = Cm(w)


def _cell_style(doc: Document, font_pt: float):
    """A paragraph style per table font size ("Table text 9"): spacing and size set once, not per cell
    (python-docx's per-paragraph formatting was most of the time spent on a long table)."""
    name = f"Table text {font_pt:g}"
    if doc.styles.element.get_by_name(name) is None:
        style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = doc.styles["Normal"]
        style.font.size = Pt(font_pt)
        style.paragraph_format.space_after = Pt(0)
        style.paragraph_format.space_before = Pt(1)
        # a table that fits on a page is kept on one page, and with its caption and footnote
        style.paragraph_format.keep_with_next = True
    return doc.styles[name].style_id


def _fill(cell: _Cell, text: str, style_id: str, *, bold: bool = False, align=WD_ALIGN_PARAGRAPH.LEFT) -> None:
    par = cell.paragraphs[0]
    par._p.get_or_add_pPr().style = style_id   # by id: the ``par.style`` setter searches every style
    par.alignment = align
    run = par.add_run(text)
    if bold:
        run.bold = True


def add_table(doc: Document, t: ReportTable, number: int) -> None:
    """Caption above, the three-line table, the footnote below (journal convention)."""
    # the caption numbers the table; a title that numbers itself ("Table 1: ...") would say it twice
    title = _TABLE_PREFIX.sub("", t.title)
    add_caption(doc, "Table", number, title[:1].upper() + title[1:])
    frame = _display_frame(t)
    header = [str(c) for c in frame.columns]
    body = [[format_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    # a wide table gets a smaller font rather than broken words
    font_pt = table_font_pt([header] + body, text_width_cm(doc))
    widths = column_widths([header] + body, text_width_cm(doc), font_pt)
    style = _cell_style(doc, font_pt)
    tab = doc.add_table(rows=1 + len(body), cols=len(header))
    tab.alignment = WD_TABLE_ALIGNMENT.CENTER
    cells = _grid(tab)
    _three_line_borders(tab, cells[0])
    _rows_whole_and_header_repeated(tab)
    # labels read left-aligned; columns of numbers are centred under their header
    numeric = [sum(bool(_NUMBER.match(r[j])) for r in body) > sum(bool(r[j]) for r in body) / 2
               for j in range(len(header))]

    def align(j: int):
        return WD_ALIGN_PARAGRAPH.CENTER if j > 0 and numeric[j] else WD_ALIGN_PARAGRAPH.LEFT
    for j, (cell, text) in enumerate(zip(cells[0], header)):
        _fill(cell, text, style, bold=True, align=align(j))
    for row, values in zip(cells[1:], body):
        for j, (cell, text) in enumerate(zip(row, values)):
            _fill(cell, text, style, align=align(j))
    _fixed_layout(tab, cells, widths)
    if t.note:
        note = doc.add_paragraph()
        note.paragraph_format.space_before = Pt(2)
        run = note.add_run(t.note)
        run.italic = True
        run.font.size = Pt(8)


def write_docx(tables: Sequence[ReportTable], path: str | Path, *, heading: str | None = None,
               paper: str = "A4") -> Path:
    """The display tables alone, numbered Table 1, 2, ... in order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = new_document(paper)
    if heading:
        doc.add_heading(heading, level=1)
    for i, t in enumerate(tables, start=1):
        add_table(doc, t, i)
    fix_properties(doc)
    doc.save(path)
    return path
