"""``report.docx``: the whole report in one Word file a co-author can edit.

Title, the results in brief, the methods, the checks, then every section in report order with its text,
its three-line tables (Table 1, 2, ...) and its figures (Figure 1, 2, ..., the PNG drawn by
:func:`~oligomet.report.html.write_report`), and the warnings. Renders only; computes nothing.
"""
from __future__ import annotations

from pathlib import Path

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

from .document import FigureItem, TextItem
from .sections.checks import describe
from .tables import ReportTable
from .tables.word import add_caption, add_table, fix_properties, new_document, text_width_cm

#: Largest figure height on the page (cm), so that a tall figure and its caption share a page.
MAX_FIGURE_HEIGHT_CM = 18.0


def _add_figure(doc, png: Path, number: int, item: FigureItem) -> None:
    from PIL import Image

    with Image.open(png) as im:
        w_px, h_px = im.size
    width = min(text_width_cm(doc), 16.0)
    if width * h_px / w_px > MAX_FIGURE_HEIGHT_CM:
        width = MAX_FIGURE_HEIGHT_CM * w_px / h_px
    par = doc.add_paragraph()
    par.alignment = WD_ALIGN_PARAGRAPH.CENTER
    par.paragraph_format.keep_with_next = True   # the caption goes below the figure, on the same page
    par.add_run().add_picture(str(png), width=Cm(width))
    add_caption(doc, "Figure", number, item.title, item.caption)


def write_report_docx(results, figure_png: dict[str, Path], path: str | Path, *, paper: str = "A4") -> Path:
    """``figure_png``: figure name -> PNG already saved (figures are drawn once, by write_report)."""
    path = Path(path)
    doc = new_document(paper)
    doc.add_heading(results.title, level=0)
    if results.results_text:
        doc.add_heading("Results in brief", level=1)
        doc.add_paragraph(" ".join(results.results_text))
    if results.methods:
        doc.add_heading("Methods", level=1)
        doc.add_paragraph(" ".join(results.methods))
    if results.checks:
        failed = sum(not c.passed for c in results.checks)
        doc.add_heading("Checks" + (f": {failed} of {len(results.checks)} need attention" if failed
                                    else f": all {len(results.checks)} passed"), level=1)
        for c in sorted(results.checks, key=lambda c: c.passed):
            par = doc.add_paragraph(style="List Bullet")
            par.add_run(("⚠ " if not c.passed else "✓ ") + c.title + ". ").bold = True
            par.add_run(describe(c))
    n_table = n_figure = 0
    for sec in results.sections:
        doc.add_heading(sec.title, level=1)
        for it in sec.items:
            if isinstance(it, ReportTable):
                n_table += 1
                add_table(doc, it, n_table)
            elif isinstance(it, FigureItem) and it.name in figure_png:
                n_figure += 1
                _add_figure(doc, figure_png[it.name], n_figure, it)
            elif isinstance(it, TextItem):
                doc.add_paragraph(it.text)
    if results.warnings:
        doc.add_heading("Warnings", level=1)
        for w in results.warnings:
            doc.add_paragraph(w, style="List Bullet").runs[0].font.size = Pt(9)
    fix_properties(doc)
    doc.save(path)
    return path
