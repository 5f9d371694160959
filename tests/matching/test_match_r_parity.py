"""oligomet.match against MatchIt (fixtures from tests/reference/matching/make_matching_fixtures.R).

Every case compares propensity scores, the caliper, the full match matrix round by round,
the matching weights, the matched sets, summary(standardize = TRUE) before and after, and
the sample-size table.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om

from matching_data import COVARIATES, FIXTURE_DIR, load_data

CASES = sorted(json.loads((FIXTURE_DIR / "matching_fixtures.json").read_text())["cases"])
R_COLUMNS = {"Means Treated": "mean_treated", "Means Control": "mean_control", "Std. Mean Diff.": "smd",
             "Var. Ratio": "var_ratio", "eCDF Mean": "ecdf_mean", "eCDF Max": "ecdf_max"}


def run(spec: dict):
    treatment, covariates = COVARIATES[spec["data"]]
    d = load_data(spec["data"])
    caliper = spec.get("caliper")
    std = spec.get("std_caliper", True)
    if spec.get("caliper_covs"):  # MatchIt's named caliper vector
        caliper = {**({"distance": caliper} if caliper is not None else {}), **spec["caliper_covs"]}
        std = {**({"distance": std} if spec.get("caliper") is not None else {}), **spec["std_caliper_covs"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not all treated units will get k matches" is expected here
        return d, om.match(d, treatment=treatment, covariates=covariates, caliper=caliper, std_caliper=std,
                           ratio=spec.get("ratio", 1), replace=spec.get("replace", False),
                           order=spec.get("order"), exact=spec.get("exact"),
                           antiexact=spec.get("antiexact"), discard=spec.get("discard", "none"),
                           reuse_max=spec.get("reuse_max"), link=spec.get("link"),
                           method=spec.get("method", "nearest"), subclass=spec.get("subclass", 6),
                           distance=spec.get("distance", "glm"), mahvars=spec.get("mahvars"),
                           min_n=spec.get("min_n", 1), estimand=spec.get("estimand", "ATT"),
                           compat="matchit-4.5.1" if spec.get("bug451") else None)


def nan(v):
    return np.array([np.nan if x is None else x for x in v], dtype=float)


@pytest.mark.parametrize("case_id", CASES)
def test_against_matchit(case_id, matching_fixtures, monkeypatch):
    exp = matching_fixtures["cases"][case_id]
    if exp.get("mahcovs") is not None and exp["spec"]["data"] != "cont":
        # Discrete covariates put controls at exactly equal Mahalanobis distances, which MatchIt decides by
        # rounding noise in the last bit of its coordinates. Match on R's own coordinates here (ours are
        # checked against them in test_mahalanobis_coordinates); on continuous data the whole path is ours.
        r_coords = np.column_stack(exp["mahcovs"]).astype(float)
        monkeypatch.setattr("oligomet.matching.nearest.mahalanobis_coordinates", lambda *a, **k: r_coords)
    d, m = run(exp["spec"])
    if exp["propensity"] is None:  # distance = "mahalanobis": no propensity score at all
        assert m.propensity.isna().all() and m.distance.isna().all()
    else:
        np.testing.assert_allclose(m.propensity.loc[d.index], exp["propensity"], rtol=1e-8)
        np.testing.assert_allclose(m.distance.loc[d.index], exp["distance"], rtol=1e-8)
    # R's m$caliper: the distance's caliper (if any), then the covariates', in raw units
    got_cal = ([] if m.caliper is None else [m.caliper]) + list(m.covariate_calipers.values())
    want_cal = [] if exp["caliper"] is None else np.atleast_1d(exp["caliper"]).tolist()
    np.testing.assert_allclose(got_cal, want_cal, rtol=1e-10)

    # the match matrix, round by round: exactly MatchIt's controls
    got = {(t, r): c for t, c, r in m.pairs[["treated", "control", "round"]].itertuples(index=False)}
    want = {}
    for r, col in enumerate(exp["match_matrix"], start=1):
        for t, c in zip(exp["match_treated"], col):
            if c is not None:
                want[(t, r)] = c
    assert got == want

    np.testing.assert_allclose(m.weights.loc[d.index], exp["weights"], rtol=1e-10, atol=1e-12)

    if exp["subclass"] is not None:  # same matched sets (labels may differ)
        r_sets = pd.Series(nan(exp["subclass"]), index=d.index).dropna()
        got_sets = m.matched_data["subclass"].astype(float)
        assert set(got_sets.index) == set(r_sets.index)
        assert {frozenset(g.index) for _, g in got_sets.groupby(got_sets)} == \
            {frozenset(g.index) for _, g in r_sets.groupby(r_sets)}
        if exp["spec"].get("method") == "subclass":  # subclasses are ordered by distance: same labels
            pd.testing.assert_series_equal(got_sets.sort_index(), r_sets.sort_index(), check_names=False)

    bal = m.balance
    assert list(bal.index) == exp["balance_rows"]
    for r_col, ours in R_COLUMNS.items():
        np.testing.assert_allclose(bal[f"{ours}_before"], nan(exp["sum_all"][r_col]), rtol=1e-7, atol=1e-12,
                                   err_msg=f"{r_col} before")
        np.testing.assert_allclose(bal[f"{ours}_after"], nan(exp["sum_matched"][r_col]), rtol=1e-7, atol=1e-12,
                                   err_msg=f"{r_col} after")

    nn = dict(zip(exp["nn_rows"], zip(exp["nn_control"], exp["nn_treated"])))
    for row in ("All", "Matched (ESS)", "Matched", "Unmatched", "Discarded"):
        np.testing.assert_allclose(m.summary.loc[row, ["control", "treated"]].to_numpy(dtype=float), nn[row],
                                   rtol=1e-10, err_msg=row)


def test_shared_parity_case_with_compat():
    """Stock MatchIt 4.5.1 (with bug #163) is reproduced exactly in compat mode.

    The reference is vendored from ../shared/reference/legacy/matchit_4.5.1.json, so the test runs in every
    clone; the shared reference itself now holds MatchIt 4.7.2 results (checked by the parity checker)."""
    ref = json.loads((FIXTURE_DIR / "matchit_4.5.1_legacy.json").read_text())
    exp = ref["matchit_colon_rx"]["expected"]
    d = load_data("colon")
    _, cov = COVARIATES["colon"]
    m = om.match(d, treatment="treated", covariates=cov, caliper=0.2, compat="matchit-4.5.1")
    got = {(int(a), int(b)) for a, b in m.pairs[["treated", "control"]].itertuples(index=False)}
    assert got == {tuple(p) for p in exp["pairs_1based"]}
    for c in ["distance", *cov]:
        assert m.balance.loc[c, "smd_after"] == pytest.approx(exp["smd_after"][c], rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("case_id", [c for c in CASES if "mahal" in c or "mahvars" in c])
def test_mahalanobis_coordinates(case_id, matching_fixtures):
    """Our Mahalanobis coordinates give R's pairwise distances (MatchIt's transform_covariates)."""
    from oligomet.matching.mahalanobis import mahalanobis_coordinates

    exp = matching_fixtures["cases"][case_id]
    spec = exp["spec"]
    treatment, covariates = COVARIATES[spec["data"]]
    d = load_data(spec["data"])
    discarded = np.zeros(len(d), dtype=bool)
    ours = mahalanobis_coordinates(d, spec.get("mahvars") or covariates, d[treatment].to_numpy(), discarded)
    theirs = np.column_stack(exp["mahcovs"]).astype(float)

    def sq_dist(x):
        return ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)

    np.testing.assert_allclose(sq_dist(ours), sq_dist(theirs), rtol=1e-9, atol=1e-11)
