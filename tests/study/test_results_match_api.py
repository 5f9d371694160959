"""results.json holds the same numbers as direct calls of the public API on the study cohort."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import oligomet as om
from oligomet.study.cohort import GROUP

REL = 1e-12


def close(a, b):
    if b is None or (isinstance(b, float) and np.isnan(b)):
        return a is None
    return a == pytest.approx(float(b), rel=REL, abs=1e-14)


@pytest.fixture(scope="module")
def run(ablation_run):
    return ablation_run


def test_cohort_counts(run):
    study, res = run
    flow = res["numbers"]["cohort"]["flow"]
    assert flow[0]["n_remaining"] == 2500
    for prev, cur in zip(flow, flow[1:]):
        assert prev["n_remaining"] - cur["n_excluded"] == cur["n_remaining"]
    assert flow[-1]["n_remaining"] == len(study.cohort) == res["numbers"]["cohort"]["n"]
    c = study.cohort
    assert (c["primary_site"] == "colorectal").all() and c["index_modality"].isin(["rfa", "mwa"]).all()
    assert (c["n_lesions"] <= 3).all() and (c["max_diameter_mm"] < 30).all()
    groups = res["numbers"]["cohort"]["groups"]
    assert groups == {"Upfront ablation": int((c[GROUP] == "Upfront ablation").sum()),
                      "Delayed ablation": int((c[GROUP] == "Delayed ablation").sum())}
    assert (c.loc[c[GROUP] == "Delayed ablation", "neoadjuvant"] == True).all()  # noqa: E712


@pytest.mark.parametrize("ep", ["dfs", "os"])
def test_km_medians_and_landmarks(run, ep):
    study, res = run
    km = om.kaplan_meier(study.cohort, time=f"{ep}_time", event=f"{ep}_event", by=GROUP)
    got = res["numbers"]["km"][ep]["groups"]
    at = km.at([12, 36, 60])
    for r in km.medians.itertuples(index=False):
        g = got[str(r.group)]
        assert g["n"] == r.n
        assert close(g["median"], r.median) and close(g["lower"], r.lower) and close(g["upper"], r.upper)
        for t in (12, 36, 60):
            row = at[(at["group"] == r.group) & (at["time"] == t)].iloc[0]
            assert close(g["landmarks"][str(t)]["survival"], row["survival"])
            assert close(g["landmarks"][str(t)]["lower"], row["lower"])


@pytest.mark.parametrize("ep", ["dfs", "os"])
def test_logrank(run, ep):
    study, res = run
    lr = om.logrank(study.cohort, time=f"{ep}_time", event=f"{ep}_event", by=GROUP)
    got = res["numbers"]["logrank"][ep]
    assert close(got["statistic"], lr.statistic) and close(got["p_value"], lr.p_value) and got["df"] == lr.df


def test_cox_univariable_and_multivariable(run):
    study, res = run
    c = study.cohort
    got = res["numbers"]["cox"]["os"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uni = om.cox(c, time="os_time", event="os_event", covariates=["age"])
        assert close(got["univariable"]["age"]["hr"], uni.summary.loc["age", "hr"])
        assert close(got["univariable"]["age"]["p"], uni.summary.loc["age", "p"])
        # selection rule: univariable LR p < 0.10
        sel = [v for v, p in got["screen_lr_p"].items() if v != "exposure" and p < 0.10]
        assert got["selected"] == sel
        terms = ["C(exposure, ref='Upfront ablation')"] + [f"C({v}, ref='wild_type')" if v == "ras" else v
                                                          for v in sel]
        multi = om.cox(c, time="os_time", event="os_event", covariates=terms)
    for term, row in multi.summary.iterrows():
        for k in ("hr", "hr_lower", "hr_upper", "p"):
            assert close(got["multivariable"][term][k], row[k]), (term, k)
    assert close(got["multivariable_model"]["concordance"], multi.concordance)


def test_matching_and_outcome_after_matching(run):
    study, res = run
    c = study.cohort.copy()
    c["_t"] = (c[GROUP] == "Delayed ablation").astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = om.match(c, treatment="_t", covariates=["age", "ecog", "n_lesions", "ras"], caliper=0.2)
        md = m.matched_data
        fit = om.cox(md, time="dfs_time", event="dfs_event", covariates=["C(exposure, ref='Upfront ablation')"],
                     weights="weights", cluster="subclass", robust=True)
        km = om.kaplan_meier(md, time="dfs_time", event="dfs_event", by=GROUP, weights="weights")
    p = res["numbers"]["propensity"]
    assert p["sample_sizes"]["Matched"]["treated"] == m.summary.loc["Matched", "treated"]
    assert close(p["outcomes"]["dfs"]["cox"]["hr"], fit.summary["hr"].iloc[0])
    assert close(p["outcomes"]["dfs"]["cox"]["hr_upper"], fit.summary["hr_upper"].iloc[0])
    at = km.at([60])
    for g, ge in p["outcomes"]["dfs"]["km"].items():
        assert close(ge["landmarks"]["60"]["survival"], at.loc[at["group"] == g, "survival"].iloc[0])
    smd = m.balance["smd_after"]
    got = {b["covariate"]: b["smd_after"] for b in p["balance"]}
    for k, v in smd.items():
        assert close(got[k], v)


def test_cif_and_gray(run):
    study, res = run
    cif = om.cumulative_incidence(study.cohort, time="lr_time", event="lr_status", by=GROUP)
    at = cif.at([12, 36, 60])
    got = res["numbers"]["cif"]["lr"]
    for r in at.itertuples(index=False):
        assert close(got["groups"][str(r.group)][str(int(r.cause))]["landmarks"][f"{r.time:g}"]["estimate"],
                     r.estimate)
    for r in cif.gray_test.itertuples(index=False):
        assert close(got["gray_test"][str(int(r.cause))]["p_value"], r.p)


def test_followup_and_complications(run):
    study, res = run
    c = study.cohort
    fu = om.median_followup(c, time="os_time", event="os_event", details=True)
    assert close(res["numbers"]["followup"]["median"], fu.median)
    comp = res["numbers"]["complications"]
    known = c["cd_grade_3plus"].notna()
    assert comp["All"]["cd_grade_3plus"]["n"] == int(c.loc[known, "cd_grade_3plus"].astype(bool).sum())
    assert comp["All"]["cd_grade_3plus"]["n_known"] == int(known.sum())
    assert sum(comp["All"]["grades"].values()) == len(c)


def test_report_files_and_provenance(run):
    study, res = run
    out = study.report_dir
    html = (out / "report.html").read_text()
    assert "src=\"http" not in html and "<script src" not in html  # self-contained
    assert html.count("data:image/png;base64,") == len(study.results.figures)
    for f in study.results.figures:
        assert (out / "figures" / f"{f.name}.png").stat().st_size > 0
        assert (out / "figures" / f"{f.name}.svg").stat().st_size > 0
    for t in study.results.tables:
        assert (out / "tables" / f"{t.name}.csv").exists()
    assert (out / "tables" / "tables.xlsx").exists() and (out / "tables" / "tables.docx").exists()
    prov = res["provenance"]
    assert len(prov["protocol_sha256"]) == 64 and len(prov["data_sha256"]) == 64
    assert prov["seed"] == study.protocol.seed and prov["versions"]["oligomet"] == om.__version__
    assert "median" in res["results"] and "Kaplan–Meier" in res["methods"]


def test_fine_gray(run):
    study, res = run
    c = study.cohort.copy()
    c["exposure[Delayed ablation]"] = (c[GROUP] == "Delayed ablation").astype(float)
    c["ras[mutant]"] = (c["ras"] == "mutant").astype(float).where(c["ras"].notna())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fg = om.fine_gray(c, time="lr_time", event="lr_status", cause=1,
                          covariates=["exposure[Delayed ablation]", "age", "ecog", "n_lesions", "ras[mutant]"])
    got = res["numbers"]["cif"]["lr"]["fine_gray"]
    for term, row in fg.summary.iterrows():
        for k in ("shr", "shr_lower", "p"):
            assert close(got[term][k], row[k]), (term, k)
