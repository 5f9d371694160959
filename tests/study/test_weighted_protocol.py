"""Issue 10, weighted analyses in the protocol: CIF/Fine–Gray and subgroups in the IPTW-weighted cohort,
``stabilize``/``trim`` of the weighting, ``link``/``exact`` of the matching, Cox ``strata``/``cluster``.
Each: the study's numbers equal direct calls of the public API on the study cohort; bad options are
protocol errors naming the line; weighted at-risk numbers are labelled a pseudo-population."""
from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest

import oligomet as om
from oligomet.study import run_study
from oligomet.study.cohort import EXPOSURE_TERM, GROUP
from oligomet.study.protocol_source import ProtocolError, loads

from .conftest import EXAMPLES

matplotlib.use("Agg")
REL = 1e-12
ABLATION = (EXAMPLES / "crlm_ablation_timing.toml").read_text()
PS_COVARIATES = ["age", "ecog", "n_lesions", "ras"]
TREATED = "Delayed ablation"
SITE = '\n[[covariates]]\ncolumn = "site"\nlabel = "Centre"\ntype = "categorical"\n'
WEIGHTED = ABLATION.replace('method = "match"', 'method = "weight"\nestimand = "ATE"')
EXPOSURE = f"C({EXPOSURE_TERM}, ref='Upfront ablation')"   # the study's exposure term
RAS = "C(ras, ref='wild_type')"
SUBGROUP = '\n[[analyses.subgroups]]\nname = "RAS status"\ncolumn = "ras"\nendpoints = ["os"]\n'


def run(text: str, registry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(loads(text, "toml", path="p.toml"), tables=registry)


def line(text: str, snippet: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), start=1) if snippet in ln)


def approx(x):
    return pytest.approx(x, rel=REL, abs=1e-14)


def with_site(text: str) -> str:
    """The ablation protocol with the centre declared as a covariate (before [analyses])."""
    return text.replace("\n[analyses.followup]", SITE + "\n[analyses.followup]", 1)


def weighted_api(study, **options):
    d = study.cohort.copy()
    d["treated"] = (d[GROUP] == TREATED).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return om.weight(d, treatment="treated", covariates=PS_COVARIATES, estimand="ATE", **options)


@pytest.fixture(scope="module")
def weighted_run(registry):
    return run(WEIGHTED + SUBGROUP, registry)


def test_cif_and_fine_gray_run_in_the_weighted_cohort(weighted_run):
    study = weighted_run
    got = study.results.numbers["cif"]["lr"]
    assert got["weighted"] and got["gray_test"] == {}      # no weighted Gray's test: no R reference
    w = weighted_api(study)
    d = w.data[w.data["lr_time"].notna() & w.data["lr_status"].notna()]
    cif = om.cumulative_incidence(d, time="lr_time", event="lr_status", by=GROUP, weights="weights")
    at = cif.at([12, 36, 60])
    for r in at.itertuples(index=False):
        mine = got["groups"][str(r.group)][str(r.cause)]["landmarks"][f"{r.time:g}"]
        assert mine["estimate"] == approx(r.estimate) and mine["variance"] == approx(r.variance)
    plain = om.cumulative_incidence(study.cohort[study.cohort["lr_time"].notna()], time="lr_time", event="lr_status",
                                    by=GROUP).at([60])
    assert not np.allclose(plain["estimate"], at[at["time"] == 60]["estimate"])   # the weights changed the answer
    d = d.assign(**{f"exposure[{TREATED}]": (d[GROUP] == TREATED).astype(float)})
    for col, lv in (("ras", "mutant"),):
        d[f"{col}[{lv}]"] = (d[col] == lv).astype(float).where(d[col].notna())
    fg = om.fine_gray(d, time="lr_time", event="lr_status", cause=1, weights="weights",
                      covariates=[f"exposure[{TREATED}]", "age", "ecog", "n_lesions", "ras[mutant]"])
    for term, r in fg.summary.iterrows():
        assert got["fine_gray"][term]["shr"] == approx(r["shr"]) and got["fine_gray"][term]["se"] == approx(r["se"])


def test_weighted_cif_is_labelled_a_pseudo_population(weighted_run):
    doc = weighted_run.results
    fig = next(f for f in doc.figures if f.name == "cif_lr")
    assert fig.data["pseudo_population"] and "pseudo-population" in fig.caption
    km = next(f for f in doc.figures if f.name.startswith("km_os_weight"))
    assert km.data["pseudo_population"] and "pseudo-population" in km.caption
    table = next(t for t in doc.tables if t.name == "cif_lr")
    assert "pseudo-population" in table.title and "Events (weighted)" in table.display.columns
    assert any("Gray's test is not reported for the weighted curves" in getattr(i, "text", "")
               for s in doc.sections for i in s.items)
    assert any(t.startswith("In the propensity-weighted cohort, the subdistribution HR") for t in doc.results_text)
    drawn = fig.draw(**fig.data)
    texts = [t.get_text() for ax in drawn.axes for t in ax.texts]
    assert "Pseudo-population at risk" in texts and "Number at risk" not in texts


def test_unweighted_cif_keeps_grays_test_and_patient_counts(ablation_run):
    study, _ = ablation_run
    got = study.results.numbers["cif"]["lr"]
    assert got["gray_test"] and "weighted" not in got
    fig = next(f for f in study.results.figures if f.name == "cif_lr")
    assert not fig.data["pseudo_population"]


def test_subgroups_run_in_the_weighted_cohort(weighted_run):
    study = weighted_run
    got = study.results.numbers["subgroups"]["RAS status"]["os"]
    w = weighted_api(study)
    d = w.data[w.data["os_time"].notna()]
    for level, part in d.groupby("ras"):
        mine = got["levels"][str(level)]
        ref = om.cox(part.assign(treated=(part[GROUP] == TREATED).astype(float)), time="os_time", event="os_event",
                     covariates=["treated"], weights="weights", robust=True).summary.iloc[0]
        assert mine["hr"] == approx(ref["hr"]) and mine["hr_lower"] == approx(ref["hr_lower"])
    # robust Wald test of the product term, fitted directly
    e = (d[GROUP] == TREATED).astype(float)
    s = (d["ras"] == "mutant").astype(float)
    full = om.cox(d.assign(e=e, s=s, es=e * s), time="os_time", event="os_event", covariates=["e", "s", "es"],
                  weights="weights", robust=True)
    z = full.summary.loc["es", "z"]
    assert got["interaction"]["test"] == "robust Wald" and got["interaction"]["statistic"] == approx(z * z)
    assert "robust Wald test" in " ".join(study.results.methods)


def test_stabilize_and_trim_reach_om_weight(registry):
    text = WEIGHTED.replace('estimand = "ATE"', 'estimand = "ATE"\nstabilize = true\ntrim = 0.95')
    study = run(text, registry)
    got = study.results.numbers["propensity"]
    assert got["stabilize"] is True and got["trim"] == 0.95
    w = weighted_api(study, stabilize=True, trim=0.95)
    for r in got["ess"]:
        assert r["ess"] == approx(w.ess.loc[r["group"], "ess"])
        assert r["max_weight"] == approx(w.ess.loc[r["group"], "max_weight"])
    plain = weighted_api(study)
    assert not np.isclose(plain.ess["max_weight"].max(), w.ess["max_weight"].max())
    assert "stabilised; weights truncated at the 0.95 quantile" in study.results.sections[
        [s.key for s in study.results.sections].index("propensity")].items[0].text


def test_linear_logit_caliper_and_exact_matching_reach_om_match(registry):
    text = with_site(ABLATION).replace('caliper = 0.2', 'caliper = 0.2\nlink = "linear.logit"\nexact = ["site"]')
    study = run(text, registry)
    got = study.results.numbers["propensity"]
    d = study.cohort.copy()
    d["treated"] = (d[GROUP] == TREATED).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = om.match(d, treatment="treated", covariates=PS_COVARIATES, caliper=0.2, ratio=1, replace=False,
                     order="largest", seed=study.protocol.seed, link="linear.logit", exact=["site"])
        logit_only = om.match(d, treatment="treated", covariates=PS_COVARIATES, caliper=0.2, order="largest",
                              seed=study.protocol.seed)
    assert got["link"] == "linear.logit" and got["exact"] == ["site"]
    assert got["caliper"] == approx(m.caliper) and m.caliper != approx(logit_only.caliper)
    for row, r in m.summary.iterrows():
        assert got["sample_sizes"][str(row)] == {"control": r["control"], "treated": r["treated"]}
    pairs = m.matched_data
    assert (pairs.groupby("subclass")["site"].nunique() == 1).all()       # every pair within one centre
    assert "on the logit of the score" in study.results.sections[
        [s.key for s in study.results.sections].index("propensity")].items[0].text


@pytest.mark.parametrize("option, kwargs", [('strata = ["site"]', {"strata": ["site"]}),
                                            ('cluster = "site"', {"cluster": "site"})])
def test_cox_stratified_or_clustered_by_centre(registry, option, kwargs):
    text = with_site(ABLATION).replace('selection = "p_value"', f'selection = "fixed"\n{option}') \
        .replace('threshold = 0.10', 'fixed = ["age", "ras"]')
    study = run(text, registry)
    got = study.results.numbers["cox"]["os"]
    d = study.cohort[study.cohort["os_time"].notna()]
    fit = om.cox(d, time="os_time", event="os_event", covariates=[EXPOSURE, "age", RAS], **kwargs)
    for term, r in fit.summary.iterrows():
        assert got["multivariable"][term]["hr"] == approx(r["hr"])
        assert got["multivariable"][term]["se"] == approx(r.get("robust_se", r["se"]))
    for k, v in kwargs.items():
        assert got["multivariable_model"][k] == v
    unstratified = om.cox(d, time="os_time", event="os_event", covariates=[EXPOSURE, "age", RAS])
    assert not np.allclose(unstratified.var.to_numpy(), fit.var.to_numpy())
    text_all = " ".join(study.results.methods)
    assert ("stratified by centre" if "strata" in kwargs else "clustered by centre") in text_all


@pytest.mark.parametrize("edit, where, words", [
    (lambda t: t.replace('method = "match"', 'method = "weight"\nestimand = "ATO"\nstabilize = true'),
     "stabilize = true", "defined for estimand = 'ATE' only"),
    (lambda t: t.replace('caliper = 0.2', 'caliper = 0.2\nstabilize = true'), "stabilize = true",
     "'stabilize' is an option of method = 'weight'"),
    (lambda t: t.replace('caliper = 0.2', 'caliper = 0.2\ntrim = 0.4'), "trim = 0.4", "greater than 0.5"),
    (lambda t: t.replace('method = "match"', 'method = "weight"\nlink = "linear.logit"'), 'link = "linear.logit"',
     "'link' is an option of method = 'match'"),
    (lambda t: t.replace('caliper = 0.2', 'caliper = 0.2\nlink = "probit"'), 'link = "probit"',
     "'probit' is not allowed; allowed: 'logit' or 'linear.logit'"),
    (lambda t: t.replace('caliper = 0.2', 'caliper = 0.2\nexact = ["centre"]'), 'exact = ["centre"]',
     "unknown covariate 'centre'"),
    (lambda t: with_site(t).replace('method = "match"', 'method = "weight"\nexact = ["site"]'), 'exact = ["site"]',
     "'exact' is an option of method = 'match'"),
    (lambda t: t.replace('threshold = 0.10', 'threshold = 0.10\nstrata = ["ras"]'), 'strata = ["ras"]',
     "'ras' is both a stratum and a covariate"),
    (lambda t: t.replace('threshold = 0.10', 'threshold = 0.10\nstrata = ["centre"]'), 'strata = ["centre"]',
     "unknown covariate 'centre'"),
    (lambda t: t.replace('threshold = 0.10', 'threshold = 0.10\ncluster = "centre"'), 'cluster = "centre"',
     "unknown covariate 'centre'"),
    (lambda t: with_site(t).replace('threshold = 0.10', 'threshold = 0.10\ncluster = "site"\n'
                                                        'missing = { impute = 5 }'), 'cluster = "site"',
     "not combined with multiple imputation"),
    (lambda t: t.replace('fine_gray = true', 'fine_gray = true\nadjusted = "maybe"'), 'adjusted = "maybe"',
     "valid boolean"),
])
def test_bad_weighting_matching_cox_options_name_their_line(edit, where, words):
    text = edit(ABLATION)
    with pytest.raises(ProtocolError) as info:
        loads(text, "toml", path="p.toml")
    assert any(words in msg and at == line(text, where) for _f, at, msg in info.value.problems), info.value


def test_cif_adjusted_false_stays_unweighted_with_grays_test(registry):
    text = WEIGHTED.replace("fine_gray = true", "fine_gray = true\nadjusted = false")
    study = run(text, registry)
    got = study.results.numbers["cif"]["lr"]
    assert "weighted" not in got and set(got["gray_test"]) == {"1", "2"}
    cohort = study.cohort[study.cohort["lr_time"].notna()]
    ref = om.cumulative_incidence(cohort, time="lr_time", event="lr_status", by=GROUP)
    for r in ref.gray_test.itertuples(index=False):
        assert got["gray_test"][str(r.cause)]["p_value"] == approx(r.p)
