"""IPTW and overlap weights after the federated propensity model == pooled ``om.weight`` + weighted
``om.kaplan_meier`` / ``om.cox`` (robust SE), and balance after weighting; complications counts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.federated import central
from oligomet.federated.mock import run_mock

from federated_sites import assert_same_table, protocol_text

GROUPS = ["Systemic therapy alone", "Repeat local treatment"]
COVS = ["age", "ecog", "n_lesions", "synchronous", "ras"]
TERM = f"C(exposure, ref={GROUPS[0]!r})"


def _plan(estimand):
    return {"propensity": {"endpoint": "os", "covariates": COVS, "treated": GROUPS[1], "estimand": estimand,
                           "outcomes": ["os", "pfs"], "exposure_term": TERM, "exact": True}}


@pytest.fixture(scope="module", params=["ATE", "ATO"])
def weighted(request, exact_sites, pooled):
    out, messages = run_mock(protocol_text(), "yaml", exact_sites, _plan(request.param))
    d = pooled[0].copy()
    d["_t"] = (d["exposure_group"].astype(str) == GROUPS[1]).astype(int)
    d["ras"] = d["ras"].astype(str).where(d["ras"].notna())
    ref = om.weight(d, treatment="_t", covariates=COVS, estimand=request.param)
    return request.param, out, ref


def test_balance_and_effective_sample_size(weighted):
    estimand, out, ref = weighted
    # the only refusals: the overlap check's count of patients outside the common support, 1-4 at a site
    assert all(r["step"] == "overlap check" for r in out["refused"]) and len(out["weighting"]["sites"]) == 7
    bal, ess = central.weighting_balance(out["weighting"]["messages"], estimand)
    assert list(bal.index) == list(ref.balance.index)
    for col in ("mean_treated_before", "mean_control_before", "mean_treated_after", "mean_control_after",
                "smd_before", "smd_after", "var_ratio_before", "var_ratio_after"):
        np.testing.assert_allclose(bal[col].to_numpy(float), ref.balance[col].to_numpy(float), rtol=1e-8,
                                   atol=1e-10, err_msg=col)
    if estimand == "ATO":   # overlap weights balance the model's covariates exactly
        assert np.abs(bal["smd_after"].drop(index="distance").to_numpy(float)).max() < 1e-6
    for col in ("n", "ess", "sum_weights", "max_weight"):
        np.testing.assert_allclose(ess[col].to_numpy(float), ref.ess.loc[ess.index, col].to_numpy(float),
                                   rtol=1e-9, err_msg=col)


@pytest.mark.parametrize("ep", ["os", "pfs"])
def test_weighted_kaplan_meier(weighted, ep):
    estimand, out, ref = weighted
    od = ref.data.dropna(subset=[f"{ep}_time", f"{ep}_event"])
    pooled_km = om.kaplan_meier(od, time=f"{ep}_time", event=f"{ep}_event", by="exposure_group", weights="weights")
    rows = central.weighted_km_rows(out["weighting"]["messages"], ep)
    rows["group"] = pd.Categorical(rows["group"], categories=GROUPS)
    fed = om.kaplan_meier(rows, time="time", event="event", by="group", weights="weights")
    assert_same_table(fed.table, pooled_km.table, min_rows=100)
    np.testing.assert_allclose(fed.medians[["median", "lower", "upper"]].to_numpy(float),
                               pooled_km.medians[["median", "lower", "upper"]].to_numpy(float), atol=1e-10)


@pytest.mark.parametrize("ep", ["os", "pfs"])
def test_weighted_cox_with_robust_se(weighted, ep):
    estimand, out, ref = weighted
    od = ref.data.dropna(subset=[f"{ep}_time", f"{ep}_event"]).copy()
    od["exposure"] = od["exposure"].astype(str).astype(object)
    pooled_fit = om.cox(od, time=f"{ep}_time", event=f"{ep}_event", covariates=[TERM], weights="weights",
                        robust=True)
    fed = out["weighting"]["cox"][ep]
    s = pd.DataFrame(fed["summary"]).set_index("term")
    assert list(s.index) == list(pooled_fit.summary.index)
    np.testing.assert_allclose(s["coef"], pooled_fit.summary["coef"], rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(s["se"], pooled_fit.summary["se"], rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(fed["robust_var"])), pooled_fit.summary["robust_se"], rtol=1e-8)
    np.testing.assert_allclose(fed["loglik"], pooled_fit.loglik, rtol=1e-10)


@pytest.fixture(scope="module")
def matched_within_sites(exact_sites, pooled):
    """Matching within each site on the federated score, and the same done on the pooled rows site by site."""
    from oligomet.federated.site import _logistic_design

    plan = _plan("ATT")
    plan["propensity"]["match"] = {"caliper": 0.2, "ratio": 1, "replace": False, "order": "largest"}
    out, _ = run_mock(protocol_text(), "yaml", exact_sites, plan)
    d = pooled[0].dropna(subset=COVS).copy()
    d["_t"] = (d["exposure_group"].astype(str) == GROUPS[1]).astype(int)
    ps = out["propensity"]
    parts = []
    for i, (_, rows) in enumerate(d.groupby("site", sort=True)):
        e = 1 / (1 + np.exp(-_logistic_design(rows, COVS, ps["levels"], None) @ np.asarray(list(ps["coef"].values()))))
        m = om.match(rows, treatment="_t", covariates=COVS, distance=e, caliper=0.2)
        parts.append(m.matched_data.assign(cluster=m.matched_data["subclass"].astype(int) + 100_000 * i))
    return out, pd.concat(parts)


def test_matching_within_sites(matched_within_sites):
    out, ref = matched_within_sites
    w = out["weighting"]
    assert all(r["step"] == "overlap check" for r in out["refused"]) and len(w["sites"]) == 7
    n_matched = {g: sum(m["groups"][g]["n_matched"] for m in w["messages"].values()) for g in ("control", "treated")}
    assert n_matched == {"control": int((ref["_t"] == 0).sum()), "treated": int((ref["_t"] == 1).sum())}
    bal, _ = central.weighting_balance(w["messages"], "ATT")
    ref_means = ref.groupby("_t")["age"].mean()
    assert bal.loc["age", "mean_treated_after"] == pytest.approx(ref_means[1], rel=1e-12)
    assert bal.loc["age", "mean_control_after"] == pytest.approx(ref_means[0], rel=1e-12)
    for ep in ("os", "pfs"):
        od = ref.dropna(subset=[f"{ep}_time", f"{ep}_event"]).copy()
        rows = central.weighted_km_rows(w["messages"], ep)
        rows["group"] = pd.Categorical(rows["group"], categories=GROUPS)
        fed_km = om.kaplan_meier(rows, time="time", event="event", by="group", weights="weights")
        ref_km = om.kaplan_meier(od, time=f"{ep}_time", event=f"{ep}_event", by="exposure_group", weights="weights")
        assert_same_table(fed_km.table, ref_km.table, min_rows=50)
        od["exposure"] = od["exposure"].astype(str).astype(object)
        fit = om.cox(od, time=f"{ep}_time", event=f"{ep}_event", covariates=[TERM], weights="weights",
                     cluster="cluster", robust=True)
        fed = w["cox"][ep]
        s = pd.DataFrame(fed["summary"]).set_index("term")
        np.testing.assert_allclose(s["coef"], fit.summary["coef"], rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(np.sqrt(np.diag(fed["robust_var"])), fit.summary["robust_se"], rtol=1e-8)
