"""Figure options in the protocol (issue 10): validated with the line of the offending field; the number written
into the KM curves is the one the log-rank / Cox analysis computed; the flow counts exclusions on a missing
value as "unknown"; a matched study ends its flow with the matched cohort."""
from __future__ import annotations

import warnings
from typing import get_args

import numpy as np
import pandas as pd
import pytest

from oligomet.report.document import FigureItem, ci_p, contrast, p_text
from oligomet.report.figures._palettes import PALETTES
from oligomet.study import cohort as C
from oligomet.study import run_study
from oligomet.study.protocol import Palette
from oligomet.study.protocol_source import ProtocolError, loads

from .conftest import EXAMPLES

ABLATION = (EXAMPLES / "crlm_ablation_timing.toml").read_text()
KM = "[analyses.km]\n"


def line(text: str, snippet: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), start=1) if snippet in ln)


def with_km(options: str, text: str = ABLATION) -> str:
    assert KM in text
    return text.replace(KM, KM + options + "\n", 1)


def figure(study, name: str) -> FigureItem:
    return next(i for s in study.results.sections for i in s.items if isinstance(i, FigureItem) and i.name == name)


def run(text: str, registry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(loads(text, "toml", path="p.toml"), tables=registry)


def test_protocol_palettes_are_the_figures_palettes():
    assert set(get_args(Palette)) == set(PALETTES)


@pytest.mark.parametrize("option, words", [
    ('palette = "rainbow"', "okabe_ito"),
    ("break_every = 0", "greater than 0"),
    ('annotate = "median"', "logrank"),
    ("percent = 3", "bool"),
])
def test_bad_km_figure_options_name_their_line(option, words):
    text = with_km(option)
    with pytest.raises(ProtocolError) as info:
        loads(text, "toml", path="p.toml")
    assert any(words in msg and at == line(text, option) for _f, at, msg in info.value.problems), info.value


def test_annotation_needs_the_analysis_that_computes_it():
    no_logrank = with_km('annotate = "logrank"').replace('[analyses.logrank]\nendpoints = ["dfs", "os"]\n', "")
    with pytest.raises(ProtocolError) as info:
        loads(no_logrank, "toml", path="p.toml")
    assert any("[analyses.logrank]" in msg and at == line(no_logrank, 'annotate = "logrank"')
               for _f, at, msg in info.value.problems), info.value
    partial = with_km('annotate = "hr"').replace('[analyses.cox]\nendpoints = ["dfs", "os"]',
                                                 '[analyses.cox]\nendpoints = ["dfs"]')
    with pytest.raises(ProtocolError) as info:
        loads(partial, "toml", path="p.toml")
    assert any("'os'" in msg and at == line(partial, 'annotate = "hr"') for _f, at, msg in info.value.problems)
    ungrouped = with_km('annotate = "logrank"\nby_group = false')
    with pytest.raises(ProtocolError, match="by_group"):
        loads(ungrouped, "toml", path="p.toml")


def test_cif_causes_must_exist():
    text = ABLATION.replace("[analyses.cif]\n", "[analyses.cif]\ncauses = [3]\n", 1)
    with pytest.raises(ProtocolError) as info:
        loads(text, "toml", path="p.toml")
    assert any("no cause 3" in msg and at == line(text, "causes = [3]") for _f, at, msg in info.value.problems)


@pytest.fixture(scope="module")
def logrank_study(registry):
    text = with_km('annotate = "logrank"\npercent = true\nbreak_every = 12\npalette = "grayscale"')
    text = text.replace("[cohort]\n", "[cohort]\ndrop_zero_steps = true\n", 1)
    text = text.replace("[analyses.cif]\n", "[analyses.cif]\ncauses = [1]\n", 1)
    return run(text, registry)


def test_logrank_annotation_is_the_logrank_p(logrank_study):
    numbers = logrank_study.results.numbers["logrank"]
    for ep in ("dfs", "os"):
        data = figure(logrank_study, f"km_{ep}").data
        assert data["annotation"] == f"Log-rank {p_text(numbers[ep]['p_value'])}"
        assert (data["percent"], data["break_every"], data["palette"]) == (True, 12, "grayscale")
    fig = figure(logrank_study, "km_dfs").render()
    assert f"Log-rank {p_text(numbers['dfs']['p_value'])}" in [t.get_text() for t in fig.axes[0].texts]


def test_hr_annotation_is_the_cox_exposure_hr(registry):
    study = run(with_km('annotate = "hr"'), registry)
    for ep in ("dfs", "os"):
        m = study.results.numbers["cox"][ep]["multivariable"]["exposure[Delayed ablation]"]
        expected = (f"Adjusted HR, {contrast('Delayed ablation vs Upfront ablation')}: "
                    f"{ci_p(m['hr'], m['hr_lower'], m['hr_upper'])}")
        assert figure(study, f"km_{ep}").data["annotation"] == expected


def test_no_annotation_by_default(registry, ablation_run):
    study, _ = ablation_run
    assert figure(study, "km_dfs").data["annotation"] is None


def test_cif_draws_the_chosen_cause(logrank_study):
    item = figure(logrank_study, "cif_lr")
    assert item.data["causes"] == [1]
    assert "death without local recurrence is a competing event, not drawn" in item.caption
    legend = [t.get_text() for t in item.render().axes[0].get_legend().get_texts()]
    assert legend == ["Upfront ablation", "Delayed ablation"]


def test_flow_of_a_matched_study_ends_with_the_matched_cohort(logrank_study):
    item = figure(logrank_study, "flow")
    sizes = logrank_study.results.numbers["propensity"]["sample_sizes"]["Matched"]
    assert item.data["matched"] == {"Upfront ablation": int(sizes["control"]),
                                    "Delayed ablation": int(sizes["treated"])}
    assert item.data["drop_zero_steps"] is True


def test_unknown_and_not_met_add_up_to_the_exclusions():
    """An inclusion criterion on a missing value excludes as "unknown"; an exclusion criterion on a missing
    value keeps the patient."""
    text = ABLATION.split("[cohort]")[0] + (
        '[cohort]\n[[cohort.include]]\nlabel = "age 18-80"\ncolumn = "age"\nmax = 80\n'
        '[[cohort.exclude]]\nlabel = "ECOG 3 or more"\ncolumn = "ecog"\nmin = 3\n'
        '[[endpoints]]\nname = "os"\n')
    proto = loads(text, "toml", path="p.toml")
    rng = np.random.default_rng(5)
    age = rng.uniform(30, 95, 400)
    age[rng.choice(400, 37, replace=False)] = np.nan
    ecog = rng.integers(0, 5, 400).astype(float)
    ecog[rng.choice(400, 21, replace=False)] = np.nan
    frame = pd.DataFrame({"patient_id": range(400), "age": age, "ecog": ecog})
    cohort, flow = C.apply_cohort(frame, proto)
    inc, exc = flow.iloc[1], flow.iloc[2]
    assert inc["n_unknown"] == 37
    assert inc["n_excluded"] - inc["n_unknown"] == int((age > 80).sum())
    assert exc["n_unknown"] == 0                       # missing ECOG: kept
    assert exc["n_excluded"] == int(((ecog >= 3) & ~np.isnan(age) & (age <= 80)).sum())
    assert cohort["ecog"].isna().sum() > 0


def test_a_criterion_whose_missing_value_means_not_applicable_counts_no_unknowns():
    """``missing_is = "not_met"``: a patient without the attribute (no local treatment at all) is not an
    unrecorded value, so the flow counts none of them as unknown; the default counts them apart."""
    import warnings

    from oligomet.study import run_study
    from oligomet.study.protocol_source import loads
    text = (EXAMPLES / "crlm_ablation_timing.toml").read_text()
    assert 'missing_is = "not_met"' in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flows = {k: run_study(loads(t, "toml")).flow.set_index("label")
                 for k, t in {"not_met": text, "unknown": text.replace('missing_is = "not_met"', "")}.items()}
    step = "Not meeting: thermal ablation (RFA or MWA)"
    assert flows["not_met"].loc[step, "n_unknown"] == 0
    assert flows["unknown"].loc[step, "n_unknown"] == flows["unknown"].loc[step, "n_excluded"] > 0
