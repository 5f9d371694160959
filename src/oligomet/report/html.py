"""The self-contained HTML report (figures embedded as base64 PNG) and all its parts on disk.

Layout of a report folder::

    report.html            one file, opens anywhere, no external resources
    results.json           every number in the report + provenance (hashes, seed, versions)
    report.docx            the whole report for Word (A4 or Letter): text, three-line tables, figures
    figures/<name>.png|svg PNG at 300 dpi; also .tiff when asked (``figure_formats``)
    tables/<name>.csv      tidy numbers, one file per table
    tables/tables.xlsx     per table a formatted sheet (display strings) and its tidy data
    tables/tables.docx     the display tables alone, for the journal
"""
from __future__ import annotations

import base64
import html as _html
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Iterator

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ._atomic_folder import check_output_folder, new_sibling, replacing_folder
from .document import FigureItem, TextItem
from .sections.checks import describe
from .figures._processes import FigureDrawing
from .results_json import write_results_json
from .tables.word import PAPER
from .word_report import write_report_docx
from .tables import ReportTable, html_table, write_csv, write_docx, write_xlsx


def _env() -> Environment:
    return Environment(loader=PackageLoader("oligomet.report", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


FIGURE_FORMATS = ("png", "svg", "tiff", "pdf")


def _formats(figure_formats) -> tuple[str, ...]:
    unknown = sorted(set(figure_formats) - set(FIGURE_FORMATS))
    if unknown:
        raise ValueError(f"figure_formats: unknown {unknown}; choose among {list(FIGURE_FORMATS)}")
    return ("png",) + tuple(f for f in dict.fromkeys(figure_formats) if f != "png")


@contextmanager
def figure_drawing(out: str | Path, *, figure_formats: tuple[str, ...] = ("png", "svg")) -> Iterator[FigureDrawing]:
    """Start drawing the figures of the report that will be written to ``out`` before the study is complete.

    Hand figures in with ``drawing.draw(results.figures)`` as sections are built (``run_study`` does after
    each analysis), then pass ``drawing=`` to :func:`write_report` with the same ``figure_formats``. The
    figures are drawn in worker processes meanwhile (see :mod:`.figures._processes`); a figure completed
    after it was handed in is drawn again, so the files are those of the final report.
    """
    target = check_output_folder(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FigureDrawing(new_sibling(target, "figures"), _formats(figure_formats)) as drawing:
        yield drawing


def write_report(results, out: str | Path, *, paper: str = "A4",
                 figure_formats: tuple[str, ...] = ("png", "svg"), drawing: FigureDrawing | None = None) -> Path:
    """Write the report folder for a :class:`~oligomet.report.document.StudyResults`; returns the folder.

    ``paper``: ``"A4"`` or ``"Letter"`` for report.docx. ``figure_formats``: files of each figure, among
    png, svg, tiff, pdf; PNG is always written (the HTML and the DOCX embed it).

    Figures are drawn here, from their specifications, in worker processes
    (:mod:`.figures._processes`; ``OLIGOMET_FIGURE_PROCESSES=1`` draws them in this process), or earlier
    by ``drawing``, a :func:`figure_drawing` for this ``out``.

    All or nothing: the report is written beside ``out`` and then replaces it (a previous report there,
    stale tables included, is gone; after an error, e.g. a full disk, the previous report is intact).
    An existing ``out`` that is neither empty nor an oligomet report is refused; see :mod:`._atomic_folder`.
    """
    formats = _formats(figure_formats)
    if paper not in PAPER:
        raise ValueError(f"paper must be one of {sorted(PAPER)}, not {paper!r}")
    if drawing is not None and drawing.formats != formats:
        raise ValueError(f"drawing= draws {list(drawing.formats)}, not the figure_formats {list(formats)}")
    with replacing_folder(out) as tmp:
        if drawing is None:
            with FigureDrawing(tmp / ".drawing", formats) as own:
                _write_files(results, tmp, paper=paper, drawing=own)
        else:
            _write_files(results, tmp, paper=paper, drawing=drawing)
    return Path(out)


def _write_files(results, out: Path, *, paper: str, drawing: FigureDrawing) -> None:
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    drawing.draw(results.figures)
    # the tables files are written in a worker too, while this process writes the rest
    tables_written = drawing.call(write_tables, results.tables, out / "tables", results.title, paper)
    write_results_json(results, out / "results.json")
    figure_files = drawing.save(results.figures, out / "figures")
    # report.docx embeds the PNGs, now saved: a worker writes it while this process writes the HTML
    docx_written = drawing.call(partial(write_report_docx, paper=paper), results,
                                {name: files["png"] for name, files in figure_files.items()}, out / "report.docx")
    blocks = []
    for sec in results.sections:
        items = []
        for it in sec.items:
            if isinstance(it, FigureItem):
                files = figure_files[it.name]
                b64 = base64.b64encode(files["png"].read_bytes()).decode("ascii")
                items.append({"kind": "figure", "name": it.name, "title": it.title, "caption": it.caption,
                              "src": f"data:image/png;base64,{b64}", "png": f"figures/{files['png'].name}",
                              "svg": f"figures/{files['svg'].name}" if "svg" in files else None})
            elif isinstance(it, ReportTable):
                items.append({"kind": "table", "html": Markup(html_table(it)), "csv": f"tables/{it.name}.csv"})
            elif isinstance(it, TextItem):
                items.append({"kind": "text", "text": it.text})
        blocks.append({"key": sec.key, "title": sec.title, "items": items})
    page = _env().get_template("report.html.j2").render(
        title=results.title, name=results.name, sections=blocks, methods=" ".join(results.methods),
        results=" ".join(results.results_text), results_detail=" ".join(results.results_detail),
        provenance=results.provenance, warnings=results.warnings,
        checks=[{"passed": c.passed, "title": c.title, "text": describe(c)} for c in results.checks])
    (out / "report.html").write_text(page, encoding="utf-8")
    tables_written.result()
    docx_written.result()


def write_tables(tables: list[ReportTable], folder: Path, heading: str, paper: str) -> None:
    """``tables/``: one CSV per table, tables.xlsx (formatted sheets and tidy data), tables.docx."""
    for t in tables:
        write_csv(t, folder)
    if tables:
        write_xlsx(tables, folder / "tables.xlsx", formatted=True)
        write_docx(tables, folder / "tables.docx", heading=heading, paper=paper)


def write_index(entries: list[dict], out: str | Path, *, title: str = "oligomet demo") -> Path:
    """``index.html`` linking several reports; ``entries``: dicts with ``title``, ``href``, ``summary``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    page = _env().get_template("index.html.j2").render(title=title, entries=entries)
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def escape(text: str) -> str:
    return _html.escape(text)
