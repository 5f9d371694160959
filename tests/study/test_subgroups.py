"""Subgroup results equal direct Cox fits within each level; a `where` split works like a column."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from scipy import stats

import oligomet as om
from oligomet.report.document import FigureItem
from oligomet.study import StudyError, run_study
from oligomet.study.analyses._context import Ctx
from oligomet.study.analyses.subgroups import cell_problems, compute_subgroups
from oligomet.study.protocol_source import ProtocolError, loads

from .conftest import EXAMPLES


@pytest.fixture(scope="module")
def early(registry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(EXAMPLES / "crlm_early_recurrence.yaml", tables=registry)


def test_level_hrs_equal_direct_fits(early):
    c = early.cohort
    got = early.results.numbers["subgroups"]["Recurrence within 4 months"]["os"]["levels"]
    for level, value in (("yes", 1.0), ("no", 0.0)):
        part = c[c["recurrence_le_4m"] == value]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = om.cox(part, time="os_time", event="os_event",
                         covariates=["C(exposure, ref='Systemic therapy alone')", "age", "ecog"])
        row = fit.summary.iloc[0]
        assert got[level]["hr"] == pytest.approx(row["hr"], rel=1e-12)
        assert got[level]["p"] == pytest.approx(row["p"], rel=1e-12)
        assert got[level]["n"] == fit.n


def test_where_split_equals_column_split(registry, early):
    text = (EXAMPLES / "crlm_early_recurrence.yaml").read_text().replace(
        "      column: recurrence_le_4m\n",
        "      where: [{column: recurrence_months, max: 4}]\n")
    assert "recurrence_months, max: 4" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = run_study(loads(text, "yaml"), tables=registry)
    a = early.results.numbers["subgroups"]["Recurrence within 4 months"]["os"]
    b = other.results.numbers["subgroups"]["Recurrence within 4 months"]["os"]
    assert a["interaction"] == b["interaction"]
    assert a["levels"]["yes"]["hr"] == b["levels"]["yes"]["hr"]


# --- cuts, labels, empty cells and the combined forest plot -------------------------------------------------

AGE_BANDS = ("< 60 years", "60–69 years", "≥ 70 years")


@pytest.fixture(scope="module")
def banded(registry):
    """The early-recurrence study with age cut at 60 and 70 (labels of the user's) as a third subgroup."""
    text = (EXAMPLES / "crlm_early_recurrence.yaml").read_text().replace(
        "    - name: Neoadjuvant then local vs upfront local\n",
        "    - {column: age, cuts: [60, 70], labels: ['< 60 years', '60–69 years', '≥ 70 years'], "
        "endpoints: [os], covariates: [ecog]}\n"
        "    - name: Neoadjuvant then local vs upfront local\n")
    assert "cuts: [60, 70]" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(loads(text, "yaml"), tables=registry)


def _band(age):
    return np.select([age < 60, age < 70], AGE_BANDS[:2], AGE_BANDS[2])


def test_cut_levels_are_the_declared_bands_with_direct_fits(banded):
    c = banded.cohort.dropna(subset=["age", "ecog", "os_time", "os_event"])
    got = banded.results.numbers["subgroups"]["Age, years"]["os"]   # the title: the covariate's Table 1 label
    assert list(got["levels"]) == list(AGE_BANDS)                    # in cut order, not alphabetical
    band = _band(c["age"].to_numpy())
    for level in AGE_BANDS:
        part = c[band == level]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = om.cox(part, time="os_time", event="os_event",
                         covariates=["C(exposure, ref='Systemic therapy alone')", "ecog"])
        assert got["levels"][level]["hr"] == pytest.approx(fit.summary.iloc[0]["hr"], rel=1e-10)
        for arm, cell in got["levels"][level]["arms"].items():   # events / patients per arm, counted by hand
            rows = part[part["exposure"] == arm]
            assert (cell["n"], cell["events"]) == (len(rows), int(rows["os_event"].sum()))
    # a boundary value falls in the upper band (levels are closed on the left)
    assert _band(np.array([59.99, 60.0, 70.0])).tolist() == ["< 60 years", "60–69 years", "≥ 70 years"]


def test_cut_interaction_equals_the_design_builders_interaction(banded):
    c = banded.cohort.dropna(subset=["age", "ecog", "os_time", "os_event"]).assign(
        band=lambda d: _band(d["age"].to_numpy()))
    exp = "C(exposure, ref='Systemic therapy alone')"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = om.cox(c, time="os_time", event="os_event", covariates=[f"{exp}*C(band, ref='< 60 years')", "ecog"])
        reduced = om.cox(c, time="os_time", event="os_event", covariates=[exp, "C(band, ref='< 60 years')", "ecog"])
    lr = 2 * (full.loglik[-1] - reduced.loglik[-1])
    got = banded.results.numbers["subgroups"]["Age, years"]["os"]["interaction"]
    assert got["df"] == 2
    assert got["statistic"] == pytest.approx(lr, rel=1e-8)
    assert got["p"] == pytest.approx(stats.chi2.sf(lr, 2), rel=1e-8)


def test_one_forest_plot_per_endpoint_says_which_hr_with_events_and_interaction(banded):
    sec = next(s for s in banded.results.sections if s.key == "subgroups")
    figures = [it for it in sec.items if isinstance(it, FigureItem)]
    assert [f.name for f in figures] == ["forest_subgroups_overall_survival",
                                         "forest_subgroups_progression_free_survival"]
    fig = figures[0].render()
    texts = [t.get_text() for t in fig.findobj(Text)]
    # three subgroup variables, two sets of covariates: each heading marked, the marks explained
    assert "Age, years²" in texts and "Recurrence within 4 months¹" in texts
    assert "¹ HR adjusted for age and ECOG performance status." in "\n".join(texts)
    assert "² HR adjusted for ECOG performance status." in "\n".join(texts)
    num = banded.results.numbers["subgroups"]
    for level in AGE_BANDS:
        for cell in num["Age, years"]["os"]["levels"][level]["arms"].values():
            assert f"{cell['events']}/{cell['n']}" in texts
    assert f"{num['Age, years']['os']['interaction']['p']:.2f}" in texts
    assert "Systemic therapy alone\nevents/N" in texts and "p interaction" in texts
    pfs = [t.get_text() for t in figures[1].render().findobj(Text)]
    assert "Adjusted HR (95% CI)" in pfs   # one kind of HR: said in the column header
    assert "HR adjusted for age and ECOG performance status." in "\n".join(pfs)


def test_subgroup_table_gives_events_per_arm_and_the_kind_of_hr(banded):
    sec = next(s for s in banded.results.sections if s.key == "subgroups")
    table = next(it for it in sec.items if getattr(it, "name", "") == "subgroup_age__years")
    shown = table.shown
    assert list(shown["Subgroup"]) == list(AGE_BANDS)
    assert {"Systemic therapy alone: events/N", "Repeat local treatment: events/N",
            "Adjusted HR (95% CI)"} <= set(shown.columns)
    assert "adjusted for ECOG performance status" in table.note


def _hand_cohort() -> pd.DataFrame:
    """Arms A (reference) and B; 1 lesion: both arms with events; ≥ 2 lesions: B has 3 patients, no event."""
    rows = [("A", 1, 5.0, 1), ("A", 1, 7.0, 0), ("B", 1, 4.0, 1), ("B", 1, 9.0, 0),
            ("A", 3, 2.0, 1), ("A", 2, 6.0, 1), ("B", 2, 8.0, 0), ("B", 4, 3.0, 0), ("B", 2, 1.0, 0)]
    d = pd.DataFrame(rows, columns=["exposure", "n_lesions", "os_time", "os_event"])
    return d.assign(exposure_group=pd.Categorical(d["exposure"], categories=["A", "B"]))


HAND = """title = "t"
name = "t"
[data]
synthetic = {n_patients = 10}
[exposure]
[[exposure.groups]]
name = "A"
where = [{column = "x", equals = 1}]
[[exposure.groups]]
name = "B"
where = [{column = "x", equals = 2}]
[[endpoints]]
name = "os"
[[analyses.subgroups]]
column = "n_lesions"
cuts = [2]
labels = ["1 lesion", "≥ 2 lesions"]
endpoints = ["os"]
"""


def test_empty_cell_is_a_protocol_error_at_the_cuts_line():
    proto = loads(HAND, "toml")
    ctx = Ctx(proto=proto, cohort=_hand_cohort())
    problems = cell_problems(ctx)
    assert problems == [("analyses.subgroups.0.cuts", HAND.splitlines().index("cuts = [2]") + 1,
                         "subgroup 'n_lesions', endpoint os: '≥ 2 lesions' × 'B': no events in 3 patients; the "
                         "hazard ratio and the interaction cannot be estimated in an empty cell (merge levels with "
                         "other 'cuts', or drop 'os' from this subgroup's endpoints)")]
    with pytest.raises(StudyError, match="no events in 3 patients"):
        compute_subgroups(ctx)
    # cut at 3 instead: '≥ 3 lesions' holds A (1 patient, 1 event) and B (1 patient, no event)
    three = loads(HAND.replace("cuts = [2]", "cuts = [3]"), "toml")
    (_, _, message), = cell_problems(Ctx(proto=three, cohort=_hand_cohort()))
    assert "'≥ 2 lesions' × 'B': no events in 1 patient;" in message   # the labels are the user's


@pytest.mark.parametrize(("options", "message"), [
    ("cuts = [2, 2]", "'cuts' must increase strictly"),
    ('cuts = [2]\nlabels = ["a", "b", "c"]', "1 cut(s) make 2 levels; 'labels' has 3"),
    ('cuts = [2]\nlabels = ["a", "a"]', "'labels' must be different"),
    ('labels = ["a", "b"]', "'labels' names the levels made by 'cuts'"),
])
def test_cuts_and_labels_are_checked_in_the_file(options, message):
    text = HAND.replace('cuts = [2]\nlabels = ["1 lesion", "≥ 2 lesions"]\n', options + "\n")
    with pytest.raises(ProtocolError) as err:
        loads(text, "toml")
    (field, line, got), = err.value.problems
    assert field == "analyses.subgroups.0" and message in got
    assert line == text.splitlines().index("[[analyses.subgroups]]") + 1


def test_default_labels_name_the_cut_points():
    proto = loads(HAND.replace('labels = ["1 lesion", "≥ 2 lesions"]\n', "").replace("cuts = [2]", "cuts = [2, 4.5]"),
                  "toml")
    assert proto.analyses.subgroups[0].level_labels() == ["< 2", "2 to < 4.5", "≥ 4.5"]
