"""The "Results in brief" paragraph reads as a clinician writes: the primary comparison first, under
200 words, no double parentheses, and no non-significant test read as equivalence (issue 10)."""
from __future__ import annotations

import re
import warnings

import pytest

from oligomet.study import run_study

from .conftest import EXAMPLES

PROTOCOLS = {p.stem: p for p in sorted(EXAMPLES.glob("*.*")) if p.suffix in (".toml", ".yaml", ".yml")}
STUDIES = list(PROTOCOLS)


@pytest.fixture(scope="module")
def studies(registry):
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in STUDIES:
            out[name] = run_study(PROTOCOLS[name], out=None, tables=registry).results
    return out


@pytest.mark.parametrize("name", STUDIES)
def test_paragraph_is_short_and_plain(studies, name):
    res = studies[name]
    text = " ".join(res.results_text)
    assert 0 < len(text.split()) < 200, (len(text.split()), text)
    assert "((" not in text and "))" not in text
    assert "did not differ" not in text
    assert "did not differ" not in " ".join(res.results_detail)


def test_primary_comparison_leads(studies):
    """With an exposure in the Cox model, the first sentence is its adjusted HR, worded as a clinician."""
    res = studies["crlm_ablation_timing"]
    first, text = res.results_text[0], " ".join(res.results_text)
    assert re.match(r"The adjusted HR for delayed vs upfront ablation was \d+\.\d\d \(95% CI \d+\.\d\d–\d+\.\d\d; "
                    r"p [<=] [\d.]+\) for disease-free survival", first), first
    hr = res.numbers["cox"]["dfs"]["multivariable"]["exposure[Delayed ablation]"]
    assert f"was {hr['hr']:.2f} (95% CI {hr['hr_lower']:.2f}–{hr['hr_upper']:.2f}" in first
    # the second endpoint joins the same sentence rather than a sentence of its own
    assert "for overall survival" in first
    assert res.results_text[1].startswith("The study cohort comprised")
    assert "After propensity-score matching (" in text and "the HR for delayed vs upfront ablation was" in text


def test_covariate_details_in_second_paragraph(studies):
    res = studies["crlm_ablation_timing"]
    assert any(s.startswith("Independently associated with disease-free survival") for s in res.results_detail)
    assert not any("Independently associated" in s for s in res.results_text)


def test_non_significant_interaction_is_not_equivalence(studies):
    res = studies["crlm_early_recurrence"]
    text = " ".join(res.results_text)
    assert "no significant interaction between treatment of the recurrence and" in text.lower()
    assert re.search(r"\(interaction p = 0\.\d+\)", text)


def test_study_cox_table_has_reference_rows(studies):
    """Issue 10, part 2: the Cox table of a study shows reference rows and N (events) (the table's own
    tests are in tests/report/test_sections_cox.py)."""
    res = studies["crlm_ablation_timing"]
    table = next(t for t in res.tables if t.name == "cox_dfs")
    cells = [v.strip() for v in table.display["Variable"]]
    assert "Upfront ablation (ref)" in cells and "Wild type (ref)" in cells and "Mutant" in cells
    assert table.display["N (events)"].str.match(r"^\d{1,3}(,\d{3})* \(\d{1,3}(,\d{3})*\)$").sum() >= 4


def test_single_group_tables_say_all_patients(studies):
    """An unstratified KM table names its one group as the figure's at-risk table does, not 'all'; a table by
    group keeps its group names."""
    single = next(t for t in studies["sarcoma_lung_metastasectomy"].tables if t.name == "km_dfs")
    assert list(single.display["Group"]) == ["All patients"]
    grouped = next(t for t in studies["crlm_ablation_timing"].tables if t.name == "km_dfs")
    assert list(grouped.display["Group"]) == ["Upfront ablation", "Delayed ablation"]
