"""Rubin's rules against ``mice::pool`` (mice 3.15) on R's own imputed datasets.

tests/reference/mice/make_mice_fixtures.R imputes lung, colon and mgus2 with R's mice (seeded), writes the
m completed datasets and pools R's coxph / glm(binomial) / crr fits. Here oligomet fits its own models on
the same datasets and pools them; every column of ``pool()$pooled`` and ``summary(pool, conf.int = TRUE)``
must agree to 1e-8 (relative).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.missing import logistic, pool

RTOL = 1e-8
COLUMNS = {"estimate": "estimate", "std.error": "se", "statistic": "statistic", "df": "df", "p.value": "p",
           "conf.low": "lower", "conf.high": "upper", "riv": "riv", "lambda": "lambda", "fmi": "fmi",
           "ubar": "ubar", "b": "b", "t": "t", "dfcom": "dfcom", "m": "m"}


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "mice" / "mice.json").read_text())


def completed(reference_dir, case: str) -> list[pd.DataFrame]:
    long = pd.read_csv(reference_dir / "mice" / "data" / f"{case}.csv")
    if case == "colon":
        long["differ"] = pd.Categorical(long["differ"], categories=["well", "moderate", "poor"])
    return [d.drop(columns=".imp").reset_index(drop=True) for _, d in long.groupby(".imp", sort=True)]


def r_name(term: str) -> str:
    """oligomet's dummy names ``rx[Lev]`` are R's ``rxLev``."""
    return term.replace("[", "").replace("]", "")


def check(pooled, expected: dict) -> None:
    s = pooled.summary
    assert [r_name(t) for t in s.index] == expected["term"]
    per = pooled.per_imputation
    for i, fit in enumerate(expected["per_fit"], start=1):
        mine = per[per.imputation == i]
        np.testing.assert_allclose(mine.estimate, fit["estimate"], rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(mine.se, fit["std.error"], rtol=1e-9)
    for r_col, col in COLUMNS.items():
        np.testing.assert_allclose(s[col].to_numpy(dtype=float), np.asarray(expected[r_col], dtype=float), rtol=RTOL,
                                   err_msg=f"column {col} (R: {r_col})")


COX = {"lung": ["age", "sex", "ph.ecog", "meal.cal", "wt.loss"], "colon": ["rx", "age", "nodes", "differ"]}
LOGISTIC = {"lung": ["age", "sex", "ph.karno", "wt.loss"], "colon": ["rx", "age", "nodes", "differ", "obstruct"]}


@pytest.mark.parametrize("case", ["lung", "colon"])
def test_cox_pooling_matches_mice(reference_dir, ref, case):
    fits = [om.cox(d, time="time", event="status", covariates=COX[case]) for d in completed(reference_dir, case)]
    check(pool(fits), ref["cases"][case]["cox"])


def test_robust_cox_is_pooled_with_the_robust_se_as_mice(reference_dir, ref):
    fits = [om.cox(d, time="time", event="status", covariates=COX["colon"], robust=True)
            for d in completed(reference_dir, "colon")]
    check(pool(fits), ref["cases"]["colon"]["cox_robust"])


@pytest.mark.parametrize("case", ["lung", "colon"])
def test_logistic_pooling_matches_mice(reference_dir, ref, case):
    fits = [logistic(d, "status", LOGISTIC[case]) for d in completed(reference_dir, case)]
    check(pool(fits), ref["cases"][case]["logistic"])


def test_pool_logistic_on_a_list_of_datasets_is_pool_of_the_fits(reference_dir, ref):
    pooled = om.pool_logistic(completed(reference_dir, "lung"), "status", LOGISTIC["lung"])
    check(pooled, ref["cases"]["lung"]["logistic"])
    assert pooled.model == "logistic"
    np.testing.assert_allclose(pooled.summary["or"], np.exp(pooled.summary["estimate"]))


def test_fine_gray_pooling_matches_mice_with_crr(reference_dir, ref):
    data = completed(reference_dir, "mgus2")
    covs = ["age", "sex", "hgb", "creat", "mspike"]
    pooled = om.pool_fine_gray(data, time="etime", event="event", covariates=covs, cause=1)
    case = ref["cases"]["mgus2"]
    check(pooled, case["fine_gray"])            # dfcom = events of the cause - p (our default, passed to R)
    assert pooled.summary["dfcom"].iloc[0] == case["n_cause"] - len(covs)
    # without dfcom= mice falls back on glance()'s nobs minus length(coef(fit)); crr has no coef() method,
    # so that is crr's n: passing dfcom = n here reproduces it
    fits = [om.fine_gray(d, time="etime", event="event", covariates=covs) for d in data]
    check(pool(fits, dfcom=len(data[0])), case["fine_gray_nobs"])


def test_pool_cox_accepts_an_imputation_result_and_states_its_model(reference_dir, ref):
    pooled = om.pool_cox(completed(reference_dir, "lung"), time="time", event="status", covariates=COX["lung"])
    assert pooled.m == 10 and pooled.model == "cox"
    np.testing.assert_allclose(pooled.summary["hr_lower"], np.exp(pooled.summary["lower"]))
    assert "Rubin" in str(pooled)
