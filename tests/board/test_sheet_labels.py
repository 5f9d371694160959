"""The board sheet shows words, not registry codes: 'wild_type' is 'wild type', 'msi_high' 'MSI high',
'sabr' 'SABR', fact names by their vocabulary labels (the report's Table 1 code labels, acronyms kept)."""
import datetime as dt
import re

from oligomet.board.case import Case
from oligomet.board.sheet import build_sheet
from oligomet.report.board_sheet import code_text, render_sheet, show
from oligomet.report.document import code_label


def _visible_text(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_code_text_uses_the_table_one_labels_in_running_text():
    assert code_label("wild_type") == "Wild type" and code_text("wild_type") == "wild type"
    assert code_text("msi_high") == "MSI high" and code_text("mss") == "MSS"
    assert code_text("sabr") == "SABR" and code_label("sabr") == "SABR"
    assert code_text("kras_mut") == "KRAS mut" and code_text("lymph_node") == "lymph node"
    assert code_text("KRAS G12C") == "KRAS G12C"                 # written with capitals: kept
    assert show("local_recurrence") == "local recurrence" and show(None) == "unknown" and show(False) == "no"


def test_sheet_shows_no_raw_codes():
    case = Case(
        patient_id="Q7", as_of=dt.date(2024, 3, 1), primary_site="colorectal", primary_sidedness="not_applicable",
        node_positive=True, ras="wild_type", braf="wild_type", msi="msi_high", ecog=1,
        organs={"liver": {"n_lesions": 2, "largest_mm": 25, "curable": True, "technically_resectable": True},
                "lung": {"n_lesions": 1, "largest_mm": 14, "curable": False},
                "lymph_node": {"n_lesions": 1, "largest_mm": 12}},
        prior_treatments=[{"modality": "sabr", "date": dt.date(2023, 1, 10), "organ": "lung"}],
        recurrences=[{"date": dt.date(2023, 9, 1), "organ": "lung", "type": "local_recurrence",
                      "after_modality": "sabr", "months_after": 7.7}])
    sheet = build_sheet(case)
    text = _visible_text(render_sheet(sheet))
    for word in ("wild type", "MSI high", "not applicable", "lymph node", "SABR (lung)",
                 "local recurrence (lung)", "months after SABR"):
        assert word in text, word
    # ids of rule sets and rules are names, not codes; every other snake_case token is a leak
    ids = {r["ruleset"] for r in sheet.advice.table().to_dict(orient="records")}
    leaks = set(re.findall(r"\b[a-z0-9]+_[a-z0-9_]+\b", text)) - ids
    assert not leaks, leaks
    for code in ("wild_type", "msi_high", "local_recurrence", "sabr", "not_applicable", "liver_curable"):
        assert not re.search(rf"\b{code}\b", text), code
