"""The Cox table: N and events of each model, reference rows for categorical variables (issue 10)."""
from __future__ import annotations

import pandas as pd
import pytest

from oligomet.report.document import EM_DASH, Paragraph, code_label, contrast
from oligomet.report.sections.cox import _display


def _row(model, term, label, hr, n, events, variable, reference=None, variable_label=None):
    return {"model": model, "term": term, "label": label, "coef": 0.0, "se": 0.1, "hr": hr, "hr_lower": hr / 2,
            "hr_upper": hr * 2, "p": 0.03, "n": n, "n_events": events, "variable": variable,
            "reference": reference, "variable_label": variable_label}


@pytest.fixture
def tidy():
    return pd.DataFrame([
        _row("univariable", "local[Ablation]", "Local treatment: Ablation", 1.5, 400, 200, "local", "Resection",
             "Local treatment"),
        _row("univariable", "local[SABR]", "Local treatment: SABR", 1.8, 400, 200, "local", "Resection",
             "Local treatment"),
        _row("univariable", "age", "Age (per year)", 1.02, 380, 190, "age"),
        _row("multivariable", "local[Ablation]", "Local treatment: Ablation", 1.4, 350, 170, "local", "Resection",
             "Local treatment"),
        _row("multivariable", "local[SABR]", "Local treatment: SABR", 1.7, 350, 170, "local", "Resection",
             "Local treatment"),
        _row("multivariable", "age", "Age (per year)", 1.01, 350, 170, "age"),
    ])


def test_reference_rows_and_counts(tidy):
    d = _display(tidy)
    first = d.iloc[0]
    assert first["Variable"].startswith("Multivariable model") and first["Multivariable HR (95% CI)"] == "350 (170)"
    variables = [v.strip() for v in d["Variable"]]
    assert variables[1:] == ["Local treatment", "Resection (ref)", "Ablation", "SABR", "Age (per year)"]
    ref = d[d["Variable"].str.strip() == "Resection (ref)"].iloc[0]
    assert ref["Univariable HR (95% CI)"] == EM_DASH and ref["Multivariable HR (95% CI)"] == EM_DASH
    # N (events) of each univariable model: age has fewer complete cases than the treatment
    assert d.loc[d["Variable"] == "Local treatment", "N (events)"].item() == "400 (200)"
    assert d.loc[d["Variable"] == "Age (per year)", "N (events)"].item() == "380 (190)"
    sabr = d[d["Variable"].str.strip() == "SABR"].iloc[0]
    assert sabr["Univariable HR (95% CI)"] == "1.80 (0.90–3.60)" and sabr["Multivariable p"] == "0.030"


def test_a_variable_left_out_of_the_multivariable_model_has_no_reference_dash(tidy):
    d = _display(tidy[~((tidy["model"] == "multivariable") & (tidy["variable"] == "local"))])
    ref = d[d["Variable"].str.strip() == "Resection (ref)"].iloc[0]
    assert ref["Univariable HR (95% CI)"] == EM_DASH and ref["Multivariable HR (95% CI)"] == ""


def test_code_labels_and_contrasts():
    assert code_label("wild_type") == "Wild type" and code_label("KRAS G12C") == "KRAS G12C"
    assert contrast("Ablation timing: Delayed ablation vs Upfront ablation") == "delayed vs upfront ablation"
    assert contrast("Treatment: Repeat local treatment vs Systemic therapy alone") == \
        "repeat local treatment vs systemic therapy alone"


def test_paragraph_leads_and_keeps_cautions_with_their_finding():
    p = Paragraph()
    p.append("Cohort.")
    p.lead("Primary HR.")
    p.caution("Caution: PH.")
    p.append("Medians.")
    p.lead("Second lead.")
    assert p == ["Primary HR.", "Caution: PH.", "Second lead.", "Cohort.", "Medians."]


def test_levels_read_against_their_reference(tidy):
    from oligomet.report.sections.cox import _readable

    ras = pd.DataFrame([_row("univariable", "ras[mutant]", "RAS status: mutant", 1.3, 400, 200, "ras", "wild_type",
                             "RAS status")])
    t = _readable(pd.concat([tidy, ras], ignore_index=True), "exposure[")
    assert t["label"].iloc[-1] == "RAS status: Mutant vs wild type"
    assert t["label"].iloc[0] == "Local treatment: Ablation vs resection"
    assert t["label"].iloc[2] == "Age (per year)"      # a numeric variable keeps its label
