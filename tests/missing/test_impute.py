"""``impute``: what the completed datasets and diagnostics hold, reproducibility, and bad input."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.datasets import load
from oligomet.missing import rubin


@pytest.fixture(scope="module")
def lung():
    d = load("lung")[["time", "status", "age", "sex", "ph.ecog", "meal.cal", "wt.loss"]].copy()
    d["status"] -= 1
    return d


@pytest.fixture(scope="module")
def mixed():
    """Numeric, nullable-integer, two-level string, three-level categorical and bool columns, all incomplete."""
    rng = np.random.default_rng(11)
    n = 300
    z = rng.normal(size=n)
    d = pd.DataFrame({
        "time": rng.exponential(10, n).round(2), "event": rng.integers(0, 2, n), "z": z,
        "cea": np.exp(rng.normal(1 + 0.5 * z, 0.5)).round(1),
        "nodes": pd.array(rng.poisson(np.exp(0.5 + 0.3 * z)), dtype="Int64"),
        "side": np.where(z + rng.normal(size=n) > 0, "left", "right").astype(object),
        "grade": pd.Categorical(rng.choice(["G3", "G1", "G2"], n), categories=["G1", "G2", "G3"]),
        "smoker": (z + rng.normal(size=n) > 0.5).astype(object)}, index=[f"p{i}" for i in range(n)])
    for col, frac in [("cea", 0.3), ("nodes", 0.1), ("side", 0.15), ("grade", 0.2), ("smoker", 0.1)]:
        d.loc[rng.random(n) < frac, col] = np.nan
    d["nodes"] = d["nodes"].astype("Int64")
    return d


@pytest.fixture(scope="module")
def mixed_imp(mixed):
    return om.impute(mixed, m=3, maxit=3, seed=5, time="time", event="event")


def test_methods_follow_mices_defaults_by_column_type(mixed_imp):
    v = mixed_imp.variables
    assert v.loc[["cea", "nodes", "side", "grade", "smoker"], "method"].tolist() == [
        "pmm", "pmm", "logreg", "polyreg", "logreg"]
    assert v.loc[["time", "event", "z"], "method"].tolist() == ["", "", ""]
    assert mixed_imp.m == 3 and len(mixed_imp) == 3


def test_missing_counts(mixed, mixed_imp):
    assert mixed_imp.variables["n_missing"].drop("H(time)").to_dict() == mixed.isna().sum().to_dict()


def test_completed_datasets_keep_observed_values_index_and_dtypes(mixed, mixed_imp):
    for d in mixed_imp:
        assert list(d.columns) == list(mixed.columns) and d.index.equals(mixed.index)
        assert d.dtypes.equals(mixed.dtypes)
        assert not d.isna().any().any()
        obs = mixed.notna()
        for c in mixed.columns:
            pd.testing.assert_series_equal(d[c][obs[c]], mixed[c][obs[c]])
        # pmm imputes observed values; categorical methods impute existing levels
        assert set(d.cea[mixed.cea.isna()]) <= set(mixed.cea.dropna())
        assert set(d.side) == {"left", "right"} and set(d.smoker) == {True, False}
        assert set(d.grade.cat.categories) == {"G1", "G2", "G3"}


def test_survival_outcome_enters_as_event_and_cumulative_hazard(mixed_imp):
    pm = mixed_imp.predictor_matrix
    assert mixed_imp.added == ("H(time)",)
    assert (pm["H(time)"] == 1).all() and (pm["event"] == 1).all() and (pm["time"] == 0).all()
    assert "H(time)" not in mixed_imp.datasets[0].columns
    assert "H(time)" in mixed_imp.variables.loc["cea", "predictors"]


def test_competing_risks_event_enters_as_a_factor_with_one_hazard_per_cause():
    rng = np.random.default_rng(2)
    n = 200
    d = pd.DataFrame({"t": rng.exponential(5, n), "status": rng.choice([0, 1, 2], n), "x": rng.normal(size=n),
                      "y": rng.normal(size=n)})
    d.loc[rng.random(n) < 0.2, "x"] = np.nan
    imp = om.impute(d, m=2, maxit=2, seed=1, time="t", event="status")
    assert imp.added == ("H1(t)", "H2(t)")
    assert imp.variables.loc["status", "kind"] == "categorical"


def test_chains_and_events_are_tidy(mixed_imp):
    ch = mixed_imp.chains
    assert list(ch.columns) == ["variable", "iteration", "imputation", "mean", "var"]
    assert len(ch) == 5 * 3 * 3     # imputed columns x iterations x imputations
    grade = ch[ch.variable == "grade"]
    assert grade["mean"].between(1, 3).all()      # a factor's chain is on its level numbers, as mice
    assert list(mixed_imp.events.columns) == ["iteration", "imputation", "variable", "removed", "reason"]


def test_same_seed_same_imputations_other_seed_others(lung):
    a = om.impute(lung, m=2, maxit=2, seed=42)
    b = om.impute(lung, m=2, maxit=2, seed=42)
    c = om.impute(lung, m=2, maxit=2, seed=43)
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    assert not a[0].equals(c[0])
    assert not a[0].equals(a[1])       # the m chains are independent streams
    d = om.impute(lung, m=2, maxit=2)
    assert isinstance(d.seed, int)
    for x, y in zip(d, om.impute(lung, m=2, maxit=2, seed=d.seed)):
        pd.testing.assert_frame_equal(x, y)


def test_long_and_analyse(lung):
    imp = om.impute(lung, m=2, maxit=1, seed=1)
    long = imp.long()
    assert long.columns[0] == ".imp" and len(long) == 2 * len(lung)
    fits = imp.analyse(om.cox, time="time", event="status", covariates=["age", "meal.cal"])
    pooled = om.pool(fits)
    assert pooled.m == 2 and list(pooled.summary.index) == ["age", "meal.cal"]


def test_method_and_predictor_overrides(lung):
    imp = om.impute(lung, m=2, maxit=1, seed=1, method={"wt.loss": ""},
                    predictors={"meal.cal": ["age", "sex"]})
    assert imp.variables.loc["wt.loss", "method"] == ""
    assert imp.datasets[0]["wt.loss"].isna().sum() == lung["wt.loss"].isna().sum()
    assert imp.predictor_matrix.loc["meal.cal"].to_dict() == {c: int(c in ("age", "sex")) for c in lung.columns}


def test_rows_with_a_missing_unimputed_predictor_stay_missing_and_are_reported():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50), "c": rng.normal(size=50)})
    d.loc[:9, "a"] = np.nan
    d.loc[5:14, "b"] = np.nan
    with pytest.warns(UserWarning, match=r"'a' \(5 rows\)"):
        imp = om.impute(d, m=2, maxit=1, seed=1, method={"b": ""})
    assert imp.variables.loc["a", "n_not_imputed"] == 5
    assert imp[0]["a"].isna().sum() == 5


def test_pooling_the_engine_agrees_with_pooling_rs_imputations_of_the_same_data(reference_dir):
    """The same imputation model as the R fixture (lung, pmm, event + H(T)): the pooled Cox estimates from our
    imputations and from R's differ only by imputation noise (a check of distributional parity with mice)."""
    ref = json.loads((reference_dir / "mice" / "mice.json").read_text())["cases"]["lung"]["cox"]
    d = load("lung")[["time", "status", "age", "sex", "ph.ecog", "ph.karno", "pat.karno", "meal.cal", "wt.loss"]]
    d = d.assign(status=d.status - 1)
    imp = om.impute(d, m=10, maxit=10, seed=2026, time="time", event="status")
    s = om.pool_cox(imp, time="time", event="status",
                    covariates=["age", "sex", "ph.ecog", "meal.cal", "wt.loss"]).summary
    noise = np.sqrt(np.asarray(ref["b"]) / 10 + s["b"].to_numpy() / 10)
    assert np.all(np.abs(s["estimate"].to_numpy() - ref["estimate"]) < 4 * noise + 1e-3 * np.asarray(ref["std.error"]))
    np.testing.assert_allclose(s["ubar"], ref["ubar"], rtol=0.05)


# ---------------------------------------------------------------- bad input

def test_a_column_missing_in_every_row_is_named():
    d = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [np.nan] * 4, "c": [1.0, np.nan, 3.0, 5.0]})
    with pytest.raises(ValueError, match=r"'b' is missing in every row \(4 of 4\)"):
        om.impute(d, m=2, seed=1)


def test_constant_columns_are_named_all_at_once():
    d = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0, 5.0], "k": [3.0] * 5, "s": ["x", "x", None, "x", "x"],
                      "c": [1.0, 5.0, 3.0, 2.0, 4.0]})
    with pytest.raises(ValueError) as err:
        om.impute(d, m=2, seed=1)
    msg = str(err.value)
    assert "'k' (a predictor) is constant (every observed value is 3.0)" in msg
    assert "'s' (imputed) is constant (every observed value is 'x')" in msg


def test_collinear_predictors_are_named_in_pairs():
    rng = np.random.default_rng(1)
    a = rng.normal(size=40)
    d = pd.DataFrame({"a": a, "a2": 2 * a + 1, "y": rng.normal(size=40)})
    d.loc[:5, "y"] = np.nan
    with pytest.raises(ValueError, match=r"'a' and 'a2' \(r = 1.0000\)"):
        om.impute(d, m=2, seed=1)


def test_identifier_like_and_date_columns_are_refused():
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"id": [f"P{i}" for i in range(60)], "y": rng.normal(size=60)})
    d.loc[:5, "y"] = np.nan
    with pytest.raises(ValueError, match="'id'.*60 distinct values"):
        om.impute(d, m=2, seed=1)
    d = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=60), "y": d.y})
    with pytest.raises(ValueError, match="'when' holds dates"):
        om.impute(d, m=2, seed=1)


def test_bad_settings_are_refused(lung):
    with pytest.raises(ValueError, match="m must be an integer >= 1"):
        om.impute(lung, m=0)
    with pytest.raises(ValueError, match="unknown method 'norm'"):
        om.impute(lung, method={"meal.cal": "norm"})
    with pytest.raises(ValueError, match="'meal.cal' is numeric: use 'pmm'"):
        om.impute(lung, method={"meal.cal": "logreg"})
    with pytest.raises(ValueError, match="unknown column.*'nope'"):
        om.impute(lung, predictors={"meal.cal": ["nope"]})
    with pytest.raises(ValueError, match="give both time= and event="):
        om.impute(lung, time="time")
    with pytest.raises(ValueError, match="time column 'time' has missing"):
        om.impute(lung.assign(time=lung.time.where(lung.index != 3)), time="time", event="status")


def test_pooling_refuses_fewer_than_two_imputations_and_mismatched_fits(lung):
    imp = om.impute(lung, m=1, maxit=1, seed=1)
    with pytest.raises(ValueError, match="at least 2"):
        om.pool_cox(imp, time="time", event="status", covariates=["age"])
    with pytest.raises(ValueError, match="m = 1"):
        rubin(np.ones((1, 2)), np.ones((1, 2)))
    a = om.cox(lung, time="time", event="status", covariates=["age"])
    b = om.cox(lung, time="time", event="status", covariates=["sex"])
    with pytest.raises(ValueError, match="fit 2 has terms"):
        om.pool([a, b])
    with pytest.raises(TypeError, match="pool\\(\\) takes fits"):
        om.pool([1, 2])


def test_completed_datasets_share_unimputed_columns_without_aliasing(lung):
    """The completed datasets are shallow copies (copy-on-write): a column that was not imputed is not copied
    m times, yet writing into one dataset changes neither the data nor the other datasets; cox_each on them
    gives the separate fits' numbers."""
    from oligomet.survival.cox import cox_each

    data = lung.copy()
    before = data.copy()
    imp = om.impute(data, m=3, seed=5, maxit=2, time="time", event="status")
    a, b = imp.datasets[0], imp.datasets[1]
    assert np.shares_memory(a["age"].to_numpy(), b["age"].to_numpy())      # shared, not copied
    a.loc[a.index[0], "age"] = -1.0
    a.loc[a.index[1], "wt.loss"] = -1.0
    assert b["age"].iloc[0] != -1.0 and data["age"].iloc[0] != -1.0
    assert b["wt.loss"].iloc[1] != -1.0 and data["wt.loss"].iloc[1] != -1.0
    pd.testing.assert_frame_equal(data, before)
    imp = om.impute(data, m=3, seed=5, maxit=2, time="time", event="status")
    covs = ["age", "C(sex)", "ph.ecog", "meal.cal", "wt.loss"]
    for d, fit in zip(imp.datasets, cox_each(imp.datasets, time="time", event="status", covariates=covs)):
        want = om.cox(d, time="time", event="status", covariates=covs)
        pd.testing.assert_frame_equal(fit.summary, want.summary, check_exact=True)
        np.testing.assert_array_equal(fit.loglik, want.loglik)
