"""Federated over the 7 synthetic sites == pooled analysis of all sites' rows (exact mode)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.federated import central
from oligomet.federated.mock import run_mock

from federated_sites import assert_same_table, protocol_text

TERMS = ["exposure", "age", "ecog", "ras", "n_lesions"]
GROUPS = ["Systemic therapy alone", "Repeat local treatment"]


@pytest.fixture(scope="module")
def run(exact_sites):
    plan = {"km": [{"endpoint": "os", "exact": True}, {"endpoint": "pfs", "exact": True},
                   {"endpoint": "lr", "exact": True, "causes": [1, 2]}],
            "cox": [{"endpoint": "os", "terms": TERMS, "exact": True},
                    {"endpoint": "os", "terms": TERMS, "exact": True, "baseline": "shared"},
                    {"endpoint": "pfs", "terms": TERMS, "exact": True, "baseline": "shared", "ties": "breslow"}]}
    out, messages = run_mock(protocol_text(), "yaml", exact_sites, plan)
    return out


def _rows(cohort, ep):
    d = cohort.dropna(subset=[f"{ep}_time", f"{ep}_event"])
    return pd.DataFrame({"time": d[f"{ep}_time"].astype(float), "event": d[f"{ep}_event"].astype(float),
                         "group": pd.Categorical(d["exposure"].astype(str), categories=GROUPS),
                         "site": d["site"].astype(str)})


def test_all_sites_take_part(run):
    assert len(run["sites"]) == 7 and run["refused"] == []


def test_flow_per_site_and_total(run, pooled):
    cohort, flow = pooled
    fed = central.combine_flow(run["cohort"])
    assert fed["n_remaining"].tolist() == flow["n_remaining"].tolist()
    assert fed["n_excluded"].tolist()[1:] == flow["n_excluded"].tolist()[1:]
    per_site = cohort.groupby("site").size()
    for site, m in run["cohort"].items():
        assert m["n"] == per_site[site] == m["flow"][-1]["n_remaining"]
        assert {g["group"]: g["n"] for g in m["groups"]} == \
            cohort[cohort.site == site]["exposure"].astype(str).value_counts().to_dict()


@pytest.mark.parametrize("ep", ["os", "pfs"])
def test_kaplan_meier_and_logrank(run, pooled, ep):
    rows = _rows(pooled[0], ep)
    fed = central.kaplan_meier(run["km"][ep], groups=GROUPS)
    ref = om.kaplan_meier(rows, time="time", event="event", by="group")
    assert_same_table(fed.table, ref.table, min_rows=100)
    pd.testing.assert_frame_equal(fed.medians.reset_index(drop=True), ref.medians.reset_index(drop=True),
                                  check_exact=False, atol=1e-10, rtol=0)
    for strata in (False, True):
        f = central.logrank(run["km"][ep], groups=GROUPS, strata_by_site=strata)
        r = om.logrank(rows, time="time", event="event", by="group", strata="site" if strata else None)
        assert abs(f.statistic - r.statistic) <= 1e-10 * max(1, r.statistic)
        np.testing.assert_allclose(f.expected, r.expected, rtol=0, atol=1e-10)


def _compare(fed: dict, ref, tol=1e-8):
    s = pd.DataFrame(fed["summary"]).set_index("term")
    assert list(s.index) == list(ref.summary.index)
    for col in ("coef", "se", "z", "hr"):
        np.testing.assert_allclose(s[col], ref.summary[col], rtol=tol, atol=tol, err_msg=col)
    t = pd.DataFrame(fed["tests"]).set_index("test")
    for name in ("likelihood_ratio", "wald", "score"):
        assert t.loc[name, "statistic"] == pytest.approx(ref.tests.loc[name, "statistic"], rel=tol, abs=tol)
    np.testing.assert_allclose(fed["loglik"], ref.loglik, rtol=1e-10)
    assert fed["n"] == ref.n and fed["n_events"] == ref.n_events


def _cox_rows(cohort, ep):
    d = cohort.dropna(subset=[f"{ep}_time", f"{ep}_event", "age", "ecog", "ras", "n_lesions"]).copy()
    d["exposure"] = d["exposure"].astype(str).astype(object)
    d["ras"] = d["ras"].astype(str).astype(object)
    return d


def test_cox_stratified_by_site(run, pooled):
    fed = run["cox"][0]
    ref = om.cox(_cox_rows(pooled[0], "os"), time="os_time", event="os_event", covariates=TERMS, strata="site")
    _compare(fed, ref)


@pytest.mark.parametrize("i,ep,ties", [(1, "os", "efron"), (2, "pfs", "breslow")])
def test_cox_shared_baseline(run, pooled, i, ep, ties):
    ref = om.cox(_cox_rows(pooled[0], ep), time=f"{ep}_time", event=f"{ep}_event", covariates=TERMS, ties=ties)
    _compare(run["cox"][i], ref)


def test_cumulative_incidence_and_gray(run, pooled):
    d = pooled[0].dropna(subset=["lr_time", "lr_status"])
    rows = pd.DataFrame({"time": d["lr_time"].astype(float), "event": d["lr_status"].astype(int),
                         "group": pd.Categorical(d["exposure"].astype(str), categories=GROUPS),
                         "site": d["site"].astype(str)})
    for strata in (False, True):
        fed = central.cumulative_incidence(run["km"]["lr"], groups=GROUPS, strata_by_site=strata)
        ref = om.cumulative_incidence(rows, time="time", event="event", by="group",
                                      strata="site" if strata else None)
        assert_same_table(fed.table, ref.table, min_rows=50)
        ga, gb = fed.gray_test.reset_index(drop=True), ref.gray_test.reset_index(drop=True)
        np.testing.assert_allclose(ga["statistic"], gb["statistic"], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ga["p"], gb["p"], rtol=1e-10, atol=1e-12)


def test_median_followup(run, pooled):
    d = pooled[0].dropna(subset=["os_time", "os_event"])
    fed = central.median_followup(run["km"]["os"])
    ref = om.median_followup(d, time="os_time", event="os_event", details=True)
    for f in ("median", "lower", "upper", "q25", "q75", "n", "n_censored"):
        assert getattr(fed, f) == pytest.approx(getattr(ref, f), abs=1e-10), f


T1_VARS = ["age", "ecog", "ras", "synchronous", "neoadjuvant", "n_lesions"]


@pytest.fixture(scope="module")
def table_one_run(exact_sites):
    from oligomet.federated.mock import run_mock

    plan = {"table_one": {"variables": T1_VARS, "bin_width": {"age": 1.0, "n_lesions": 1.0, "ecog": 1.0}}}
    out, _ = run_mock(protocol_text(), "yaml", exact_sites, plan)
    return out


def test_table_one(table_one_run, pooled):
    out = table_one_run
    full = [v for v in T1_VARS if all(v in m["variables"] for m in out["table_one"].values())]
    suppressed = {(r["site"], r["step"]) for r in out["refused"]}
    assert len(full) >= 3 and all(("table_one " + v) not in {s for _, s in suppressed} for v in full)
    table, tests = central.table_one({s: m for s, m in out["table_one"].items()}, GROUPS)
    cohort = pooled[0].copy()
    cohort["group"] = pd.Categorical(cohort["exposure"].astype(str), categories=GROUPS)
    for var in full:
        mine = table[table.variable == var].reset_index(drop=True)
        kind = mine["kind"].iloc[0]
        ref = om.table_one(cohort, by="group", variables=[var],
                           categorical=[var] if kind == "categorical" else None, nonnormal=[])
        r = ref.table[ref.table.variable == var].reset_index(drop=True)
        np.testing.assert_allclose(mine["n"], r["n"], rtol=0, atol=0)
        np.testing.assert_allclose(mine["missing"], r["missing"], rtol=0, atol=0)
        if kind == "categorical":
            assert mine["level"].tolist() == r["level"].tolist()
            np.testing.assert_allclose(mine["percent"], r["percent"], rtol=1e-12)
        else:
            np.testing.assert_allclose(mine["mean"], r["mean"], rtol=1e-12)
            np.testing.assert_allclose(mine["sd"], r["sd"], rtol=1e-10)
            for q in ("q1", "median", "q3"):   # the stated bound holds (it is as wide as the merged bins: 3-4 years)
                assert (mine[f"{q}_lower"] <= r[q] + 1e-12).all() and (r[q] <= mine[f"{q}_upper"] + 1e-12).all()
                assert ((mine[f"{q}_upper"] - mine[f"{q}_lower"]) <= 10.0).all()
        smd = tests.set_index("variable").loc[var, "smd"]
        assert smd == pytest.approx(ref.tests.set_index("variable").loc[var, "smd"], rel=1e-10, abs=1e-12)


def test_propensity_model_by_federated_irls(exact_sites, pooled):
    """The federated IRLS gives the pooled glm (fit_logistic) coefficients; matching stays within sites."""
    from oligomet.federated.mock import run_mock
    from oligomet.matching.propensity import design_matrix, fit_logistic

    covs = ["age", "ecog", "n_lesions", "synchronous", "ras"]
    plan = {"propensity": {"endpoint": "os", "covariates": covs, "treated": GROUPS[1]}}
    out, _ = run_mock(protocol_text(), "yaml", exact_sites, plan)
    fed = out["propensity"]
    d = pooled[0].dropna(subset=covs).copy()
    d["ras"] = d["ras"].astype(str).astype(object)
    X, names = design_matrix(d, covs)
    ref = fit_logistic(X, (d["exposure"].astype(str) == GROUPS[1]).to_numpy(float), names)
    assert list(fed["coef"]) == names and fed["n"] == len(d)
    np.testing.assert_allclose(list(fed["coef"].values()), ref.coef.to_numpy(), rtol=1e-8, atol=1e-8)
    assert fed["deviance"] == pytest.approx(ref.deviance, rel=1e-10) and fed["iterations"] == ref.iterations


def test_table_one_numeric_column_binary_at_one_site_only():
    """A numeric column holding only 0/1 at one site and 0..3 at another is continuous in the pooled table
    (``om.table_one``'s rule on all rows): the sites send both forms, the centre decides."""
    from types import SimpleNamespace

    from oligomet.federated.site import table_one_sums

    rng = np.random.default_rng(3)
    a = pd.DataFrame({"x": rng.integers(0, 2, 60).astype(float)})
    b = pd.DataFrame({"x": rng.integers(0, 4, 80).astype(float)})
    proto, cfg = SimpleNamespace(exposure=None), SimpleNamespace(min_count=5)
    msgs = {s: table_one_sums(proto, d, None, cfg, {"variables": ["x"], "bin_width": {}}) for s, d in
            (("A", a), ("B", b))}
    assert msgs["A"]["variables"]["x"]["kind"] == "categorical" and "continuous" in msgs["A"]["variables"]["x"]
    table, tests = central.table_one(msgs, None)
    ref = om.table_one(pd.concat([a, b], ignore_index=True), variables=["x"])
    r = ref.table[ref.table.variable == "x"].reset_index(drop=True)
    assert table["kind"].tolist() == r["kind"].tolist() and r["kind"].iloc[0] != "categorical"
    np.testing.assert_allclose(table[["mean", "sd", "median", "q1", "q3"]].to_numpy(float),
                               r[["mean", "sd", "median", "q1", "q3"]].to_numpy(float), rtol=1e-12)
    both_binary = central.table_one({"A": msgs["A"], "A2": msgs["A"]}, None)[0]
    assert (both_binary["kind"] == "categorical").all()
