"""report.docx: the whole report for Word — paper size, three-line tables, repeated header rows,
numbered captions, embedded figures, the methods and results text; and the figure files (300 dpi)."""
from __future__ import annotations

import pandas as pd
import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Cm
from PIL import Image

from oligomet.report.document import Check, FigureItem, StudyResults, TextItem
from oligomet.report.figures._style import new_figure
from oligomet.report.html import write_report
from oligomet.report.tables import ReportTable, write_docx
from oligomet.report.tables.word import column_widths, table_font_pt


def _line(label: str):
    fig = new_figure(3, 2, fixed=True)   # saved as laid out: 3 x 2 inches
    fig.add_subplot().plot([0, 1], [1, 0], label=label)
    return fig


def _results() -> StudyResults:
    res = StudyResults(title="Upfront vs delayed ablation", name="demo")
    res.methods = ["Survival was estimated with the Kaplan–Meier method."]
    res.results_text = ["The adjusted HR was 1.55 (95% CI 1.27–1.89)."]
    res.checks = [Check("group_size", "Group size", False,
                        {"threshold": 20, "small": {"Delayed": 12}})]
    res.provenance = {"versions": {"oligomet": "test"}}
    res.warnings = ["3 patients without a follow-up date were excluded."]
    sec = res.section("table1", "Table 1: patient characteristics")
    rows = 80   # long enough to run over a page, so the repeated header matters
    display = pd.DataFrame({"Variable": [f"Eastern Cooperative Oncology Group performance status {i}"
                                         for i in range(rows)],
                            "Upfront ablation": ["63.0 (9.7)"] * rows, "Delayed ablation": ["67.6 (9.5)"] * rows,
                            "p": ["<0.001"] * rows, "SMD": ["0.474"] * rows})
    sec.items.append(ReportTable("table1_before", "Table 1: patient characteristics by group",
                                 pd.DataFrame({"n": range(rows)}), display, note="SMD: standardised mean difference."))
    sec = res.section("os", "Overall survival")
    sec.items.append(TextItem("Log-rank test: p = 0.003."))
    sec.items.append(FigureItem("km_os", "Overall survival", _line, caption="Shaded: 95% CI.", data={"label": "A"}))
    sec.items.append(ReportTable("km_os", "Kaplan–Meier estimates", pd.DataFrame({"group": ["A"], "n": [3]})))
    sec.items.append(FigureItem("km_dfs", "Disease-free survival", _line, data={"label": "B"}))
    return res


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "report"
    write_report(_results(), out, figure_formats=("png", "svg", "tiff"))
    return out


def _text(par) -> str:
    """Paragraph text including field results (python-docx's ``.text`` skips ``w:fldSimple``)."""
    return "".join(t.text for t in par._p.iter(qn("w:t")))


def _borders(el, tag: str) -> dict[str, tuple[str, str | None]]:
    box = el.find(tag)
    return {qn_local(b.tag): (b.get(qn("w:val")), b.get(qn("w:sz"))) for b in box} if box is not None else {}


def qn_local(tag: str) -> str:
    return tag.split("}")[1]


def test_report_docx_is_a4_by_default_and_letter_on_request(report, tmp_path):
    sec = Document(report / "report.docx").sections[0]
    assert abs(sec.page_width - Cm(21.0)) < Cm(0.05) and abs(sec.page_height - Cm(29.7)) < Cm(0.05)
    write_report(_results(), tmp_path / "letter", paper="Letter")
    sec = Document(tmp_path / "letter" / "report.docx").sections[0]
    assert abs(sec.page_width.inches - 8.5) < 0.01 and abs(sec.page_height.inches - 11) < 0.01
    with pytest.raises(ValueError, match="paper"):
        write_report(_results(), tmp_path / "bad", paper="A5")


def test_tables_have_three_rules_and_no_grid(report):
    doc = Document(report / "report.docx")
    assert len(doc.tables) == 2
    for table in doc.tables:
        edges = _borders(table._tbl.tblPr, qn("w:tblBorders"))
        assert edges["top"][0] == "single" and edges["bottom"][0] == "single"      # rules 1 and 3
        for inner in ("left", "right", "insideH", "insideV"):
            assert edges[inner][0] == "nil", inner
        for cell in table.rows[0].cells:                                          # rule 2, under the header
            assert _borders(cell._tc.tcPr, qn("w:tcBorders"))["bottom"][0] == "single"
        for row in table.rows[1:]:                                                # no other cell lines
            for cell in row.cells:
                assert cell._tc.tcPr.find(qn("w:tcBorders")) is None


def test_header_row_repeats_and_rows_are_never_split(report):
    table = Document(report / "report.docx").tables[0]
    assert len(table.rows) == 81
    flags = [row._tr.trPr is not None and row._tr.trPr.find(qn("w:tblHeader")) is not None for row in table.rows]
    assert flags[0] and not any(flags[1:])
    assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for row in table.rows)   # no row split


def test_captions_are_numbered_word_captions(report):
    doc = Document(report / "report.docx")
    captions = [_text(p) for p in doc.paragraphs if p.style.name == "Caption"]
    assert captions == ["Table 1. Patient characteristics by group.", "Figure 1. Overall survival. Shaded: 95% CI.",
                        "Table 2. Kaplan–Meier estimates.", "Figure 2. Disease-free survival."]
    fields = [f.get(qn("w:instr")).split() for f in doc.element.body.iter(qn("w:fldSimple"))]
    assert [f[:2] for f in fields] == [["SEQ", "Table"], ["SEQ", "Figure"], ["SEQ", "Table"], ["SEQ", "Figure"]]


def test_figures_methods_results_checks_and_warnings_are_in_the_document(report):
    doc = Document(report / "report.docx")
    assert len(doc.inline_shapes) == 2
    text = "\n".join(p.text for p in doc.paragraphs)
    for part in ("Kaplan–Meier method", "adjusted HR was 1.55", "Delayed (n = 12)",
                 "Log-rank test: p = 0.003.", "without a follow-up date", "Methods", "Results in brief"):
        assert part in text, part
    # a figure is at most the text width (16 cm on A4 with 2.5 cm margins)
    assert all(s.width <= Cm(16.01) for s in doc.inline_shapes)


def test_column_widths_never_break_a_word_and_fit_the_page():
    rows = [["Variable", "performance", "p"],
            ["a very long label that has to wrap over several lines " * 3, "63.0 (9.7)", "<0.001"]]
    widths = column_widths(rows, 16.0)
    assert sum(widths) <= 16.0 + 1e-9
    # 11 bold characters of 9 pt need more than 1.7 cm (Calibri averages about half an em)
    assert widths[1] > 11 * 9 * 0.5 / 72 * 2.54 and widths[2] > 6 * 9 * 0.5 / 72 * 2.54
    assert widths[0] > widths[1]     # the wrapping column gets what is left


def test_tables_docx_has_the_same_journal_tables(tmp_path):
    t = ReportTable("km", "KM", pd.DataFrame({"group": ["A", "B"], "n": [1, 2]}))
    doc = Document(write_docx([t], tmp_path / "t.docx", paper="Letter"))
    assert abs(doc.sections[0].page_width.inches - 8.5) < 0.01
    assert _borders(doc.tables[0]._tbl.tblPr, qn("w:tblBorders"))["insideV"][0] == "nil"


def test_a_confidence_interval_is_never_broken_at_its_dash(tmp_path):
    """A narrow cell breaks before the CI ('57.4' / '(55.7–59.0)'), not inside it ('57.4 (55.7–' / '59.0)', as
    LibreOffice did): word joiners hold the range's dash to its numbers; the text is otherwise the display's."""
    shown = pd.DataFrame({"Group": ["A", "B"], "Median (95% CI)": ["57.4 (55.7–59.0)", "NR (61.2–NR)"],
                          "IQR": ["0.0–8.7", "−1.5–2.0"]})
    t = ReportTable("km", "KM", shown, shown)
    cells = [[c.text for c in r.cells] for r in Document(write_docx([t], tmp_path / "t.docx")).tables[0].rows]
    assert cells[1][1] == "57.4 (55.7\u2060–\u206059.0)" and cells[2][2] == "−1.5\u2060–\u20602.0"
    assert cells[2][1] == "NR (61.2–NR)"              # only between numbers
    assert cells[0] == list(shown.columns)            # headers as written
    assert [[x.replace("\u2060", "") for x in r] for r in cells[1:]] == shown.to_numpy().tolist()


def test_png_is_300_dpi_and_tiff_on_request(report, tmp_path):
    png = report / "figures" / "km_os.png"
    dpi = Image.open(png).info["dpi"]
    assert abs(dpi[0] - 300) < 0.5 and abs(dpi[1] - 300) < 0.5
    assert Image.open(png).size == (900, 600)    # 3 x 2 inches at 300 dpi
    with Image.open(report / "figures" / "km_os.tiff") as tif:
        assert tif.format == "TIFF" and abs(tif.info["dpi"][0] - 300) < 0.5
    assert (report / "figures" / "km_os.svg").exists()
    write_report(_results(), tmp_path / "plain")
    assert not list((tmp_path / "plain" / "figures").glob("*.tiff"))
    with pytest.raises(ValueError, match="figure_formats"):
        write_report(_results(), tmp_path / "bad", figure_formats=("png", "bmp"))


def test_a_wide_table_gets_a_smaller_font_rather_than_broken_words():
    narrow = [["Variable", "p"], ["Age", "0.5"]]
    wide = [["Variable", "", "Metastasectomy alone", "Systemic therapy + metastasectomy", "p", "test", "SMD"],
            ["Treatment-free interval", "yes", "439 (56.4)", "285 (57.9)", "<0.001", "Chi-square", "0.032"]]
    assert table_font_pt(narrow, 16.0) == 9.0
    pt = table_font_pt(wide, 16.0)
    assert pt < 9.0
    widths = column_widths(wide, 16.0, pt)
    assert abs(sum(widths) - 16.0) < 1e-6
    # "Metastasectomy" (14 bold characters) fits its column at the chosen size (Calibri: about half an em)
    assert widths[2] > 14 * pt * 0.5 / 72 * 2.54
