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
from xml.sax.saxutils import escape
from pathlib import Path
from typing import Sequence

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Pt, RGBColor

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


def _rule(edge: str, size: int | None) -> str:
    if size is None:
        return f'<w:{edge} w:val="nil"/>'
    return f'<w:{edge} w:val="single" w:sz="{size}" w:space="0" w:color="000000"/>'


def _run_xml(text: str, bold: bool) -> str:
    """One run as python-docx's ``add_run`` writes it: a line break is ``w:br``, a tab ``w:tab``."""
    parts = []
    for i, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        if i:
            parts.append("<w:br/>")
        for j, chunk in enumerate(line.split("\t")):
            if j:
                parts.append("<w:tab/>")
            if chunk:
                parts.append(f'<w:t xml:space="preserve">{escape(chunk)}</w:t>')
    return f"<w:r>{'<w:rPr><w:b/></w:rPr>' if bold else ''}{''.join(parts)}</w:r>"


_RANGE_DASH = re.compile(r"(?<=\d)–(?=[\d−-])")


def _keep_ranges(text: str) -> str:
    """'57.4 (55.7–59.0)' with word joiners (U+2060) around the dash of each range, so that Word and
    LibreOffice break a narrow cell before the CI, never inside it ('57.4 (55.7–' / '59.0)', seen)."""
    return _RANGE_DASH.sub("\u2060–\u2060", text)


def _table_xml(header: list[str], body: list[list[str]], widths_cm: list[float], style_id: str,
               aligns: list[str]) -> str:
    """The whole three-line table as WordprocessingML.

    Why not python-docx's cell API: it costs about a millisecond per cell (every cell access walks
    the grid and every property setter searches its parent), so a report's tables took seconds;
    the same elements written as one string and parsed once take a few milliseconds.

    * three rules: heavy above the header and under the last row (table borders), light under the
      header (cell borders of the first row); no grid;
    * fixed layout, widths on the grid and on every cell, so that Word and LibreOffice draw the same
      columns (autofit would re-break words);
    * no row is split over two pages, and the header row repeats on every page.
    """
    grid = "".join(f'<w:gridCol w:w="{int(w / 2.54 * 1440)}"/>' for w in widths_cm)   # twentieths of a point
    cell_w = [f'<w:tcW w:w="{Cm(w).twips}" w:type="dxa"/>' for w in widths_cm]
    under_header = f"<w:tcBorders>{_rule('bottom', RULE_LIGHT)}</w:tcBorders>"

    def row(values: list[str], first: bool) -> str:
        tr_pr = "<w:trPr><w:cantSplit/>" + ('<w:tblHeader w:val="true"/>' if first else "") + "</w:trPr>"
        cells = "".join(
            f"<w:tc><w:tcPr>{cell_w[j]}{under_header if first else ''}</w:tcPr>"
            f'<w:p><w:pPr><w:pStyle w:val="{style_id}"/><w:jc w:val="{aligns[j]}"/></w:pPr>'
            f"{_run_xml(text if first else _keep_ranges(text), bold=first)}</w:p></w:tc>"
            for j, text in enumerate(values))
        return f"<w:tr>{tr_pr}{cells}</w:tr>"

    borders = "".join(_rule(edge, size) for edge, size in (("top", RULE_HEAVY), ("left", None), ("bottom", RULE_HEAVY),
                                                           ("right", None), ("insideH", None), ("insideV", None)))
    # children of tblPr in the schema's order (Word refuses a document whose elements are out of order)
    tbl_pr = (f'<w:tblPr><w:tblW w:type="auto" w:w="0"/><w:jc w:val="center"/><w:tblBorders>{borders}</w:tblBorders>'
              '<w:tblLayout w:type="fixed"/><w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" '
              'w:lastRow="0" w:noHBand="0" w:noVBand="1" w:val="04A0"/></w:tblPr>')
    rows = row(header, True) + "".join(row(r, False) for r in body)
    return f"<w:tbl {nsdecls('w')}>{tbl_pr}<w:tblGrid>{grid}</w:tblGrid>{rows}</w:tbl>"


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
    # labels read left-aligned; columns of numbers are centred under their header
    numeric = [sum(bool(_NUMBER.match(r[j])) for r in body) > sum(bool(r[j]) for r in body) / 2
               for j in range(len(header))]
    aligns = ["center" if j > 0 and numeric[j] else "left" for j in range(len(header))]
    doc.element.body._insert_tbl(parse_xml(_table_xml(header, body, widths, style, aligns)))
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
