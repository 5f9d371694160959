"""The report's checks: studies built to fail one check each show it in the "Checks" panel and as a
caution in the results paragraph; thresholds come from the protocol's [checks]."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from oligomet.report.document import StudyResults
from oligomet.report.html import write_report
from oligomet.report.results_json import results_document
from oligomet.study.cohort import EXPOSURE_TERM, GROUP
from oligomet.study.protocol_source import loads
from oligomet.study.run import analyse

HEAD = """
title: Checks
name: checks
data: {synthetic: {n_patients: 10}}
exposure:
  label: Treatment
  groups:
    - {name: Surgery, where: [{column: arm, equals: 0}]}
    - {name: Ablation, where: [{column: arm, equals: 1}]}
endpoints:
  - {name: os, label: Overall survival}
covariates:
  - {column: age, label: Age}
  - {column: cea, label: CEA}
"""


def _cohort(arm, time, event, **covariates) -> pd.DataFrame:
    d = pd.DataFrame({"arm": arm, "os_time": time, "os_event": event, **covariates})
    d[GROUP] = pd.Categorical.from_codes(d["arm"].to_numpy(int), categories=["Surgery", "Ablation"])
    d[EXPOSURE_TERM] = d[GROUP].astype(str).astype(object)
    return d


def _run(analyses: str, cohort: pd.DataFrame, checks: str = "") -> StudyResults:
    proto = loads(HEAD + analyses + checks, "yaml")
    res = StudyResults("Checks", "checks")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analyse(proto, cohort, res)
    return res


def _failed(res: StudyResults) -> dict:
    return {c.name: c for c in res.checks if not c.passed}


def _confounded(n=400, seed=1):
    """Older patients get ablation; age shortens survival."""
    rng = np.random.default_rng(seed)
    age = rng.normal(65, 10, n)
    arm = (rng.random(n) < 1 / (1 + np.exp(-(age - 65) / 2.5))).astype(int)
    time = rng.exponential(30 * np.exp(-(age - 65) / 20))
    return _cohort(arm, np.minimum(time, 60), (time < 60).astype(int), age=age, cea=rng.lognormal(1, 1, n))


def test_an_unbalanced_matched_study_warns_in_the_results_paragraph(tmp_path):
    res = _run("analyses:\n  propensity: {method: match, covariates: [age], caliper: null, endpoints: [os]}\n",
               _confounded())
    failed = _failed(res)
    bal = failed["balance"]
    assert list(bal.values["unbalanced"]) == ["Age"] and abs(bal.values["unbalanced"]["Age"]) > 0.1
    paragraph = " ".join(res.results_text)
    hr = paragraph.index("After propensity-score matching")   # the matched HR sentence ...
    caution = paragraph.index("Caution: Covariates unbalanced after matching")
    assert caution > hr and "Age (SMD" in paragraph[caution:]   # ... is followed by the caution
    assert "overlap" in failed                         # the two arms barely share ages
    res.provenance = {"versions": {"oligomet": "test"}}
    write_report(res, tmp_path / "r")
    html = (tmp_path / "r" / "report.html").read_text()
    assert html.index('id="checks"') < html.index('id="abstract"')   # the panel comes first
    assert "need attention" in html and "⚠ Covariate balance after matching" in html
    assert results_document(res)["checks"][0]["name"] == "group_size"


def test_extreme_weights_report_the_effective_sample_size():
    res = _run("analyses:\n  propensity: {method: weight, covariates: [age], estimand: ATE, endpoints: [os]}\n",
               _confounded(seed=2))
    low = _failed(res)["effective_sample_size"].values["low"]
    assert low and all(v["ess"] < 0.5 * v["n"] for v in low.values())
    assert "Caution: Extreme weights" in " ".join(res.results_text)


def test_crossing_hazards_give_the_ph_warning():
    rng = np.random.default_rng(3)
    n = 600
    arm = np.repeat([0, 1], n // 2)
    # Weibull shapes 0.5 and 3 with the same median: the hazards cross
    scale = np.where(arm == 1, 20 / np.log(2) ** (1 / 3), 20 / np.log(2) ** 2)
    shape = np.where(arm == 1, 3.0, 0.5)
    time = scale * rng.weibull(shape)
    res = _run("analyses:\n  cox: {endpoints: [os], covariates: []}\n",
               _cohort(arm, np.minimum(time, 80), (time < 80).astype(int), age=rng.normal(60, 8, n),
                       cea=rng.lognormal(1, 1, n)))
    ph = _failed(res)["proportional_hazards"]
    assert ph.values["p"] < 0.001 and ph.values["exposure"] == "Treatment"
    paragraph = " ".join(res.results_text)
    assert paragraph.index("The adjusted HR for") < paragraph.index("Caution: Overall survival: the hazards of "
                                                                   "treatment are not proportional")
    assert "average over follow-up" in paragraph and "RMST" in paragraph
    # the PH table's own note names the exposure, not "Treatment: None vs Surgery"
    texts = [i.text for s in res.sections for i in s.items if hasattr(i, "text") and "violation" in i.text]
    assert texts == ["Possible violation of proportional hazards for: Treatment."]


def test_forty_percent_missing_covariate_gives_the_complete_case_warning_with_n():
    d = _confounded(500, seed=4)
    d.loc[d.sample(frac=0.4, random_state=4).index, "cea"] = np.nan
    res = _run("analyses:\n  cox: {endpoints: [os], covariates: [age, cea], selection: all}\n", d)
    cc = _failed(res)["complete_cases"]
    assert (cc.values["n"], cc.values["n_eligible"]) == (300, 500) and cc.values["variables"] == {"CEA": 200}
    assert "Caution: The multivariable Cox model of Overall survival analysed 300 of 500 eligible patients " \
           "(40.0% excluded for missing CEA (200))" in " ".join(res.results_text)
    # the threshold is the protocol's
    relaxed = _run("analyses:\n  cox: {endpoints: [os], covariates: [age, cea], selection: all}\n", d,
                   "checks: {max_complete_case_loss: 0.5}\n")
    assert "complete_cases" not in _failed(relaxed)


def test_small_groups_and_few_events_per_parameter():
    d = _confounded(60, seed=5)
    d["arm"] = np.r_[np.ones(12, int), np.zeros(48, int)]
    d = _cohort(d["arm"], d["os_time"], np.r_[np.ones(20, int), np.zeros(40, int)], age=d["age"], cea=d["cea"])
    res = _run("analyses:\n  cox: {endpoints: [os], covariates: [age, cea], selection: all}\n", d)
    failed = _failed(res)
    assert failed["group_size"].values["small"] == {"Ablation": 12}
    epv = failed["events_per_parameter"].values
    assert (epv["events"], epv["parameters"]) == (20, 3)
    assert "fewer than 10 make its estimates unstable" in " ".join(res.results_text)


@pytest.mark.parametrize("field, value", [("max_abs_smd", 0), ("min_group_size", -1), ("ph_p", 1.5)])
def test_check_thresholds_are_validated(field, value):
    from oligomet.study import ProtocolError

    with pytest.raises(ProtocolError, match=f"checks.{field}"):
        loads(HEAD + f"checks: {{{field}: {value}}}\n", "yaml")
