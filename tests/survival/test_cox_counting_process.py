"""Cox models on (start, stop] data (``cox(..., start=)``, R's ``Surv(start, stop, event)``).

R parity (coefficients, SEs, robust SEs with cluster(id), tests, loglik, concordance, predictions) is in
test_cox_reference.py (cases heart_* and counting_ties_weights), cox.zph in test_zph_factor.py; here:
invariants and errors."""
import numpy as np
import pandas as pd
import pytest

import oligomet as om


@pytest.fixture(scope="module")
def veteran():
    d = om.datasets.load("veteran").reset_index(drop=True)
    d["id"] = np.arange(len(d))
    return d


def _split(d: pd.DataFrame, at: pd.Series) -> pd.DataFrame:
    """Each subject's follow-up cut at ``at`` (when inside it): (0, at] without event, (at, time] with it."""
    inside = (at > 0) & (at < d["time"])
    first = d[inside].assign(start=0.0, stop=at[inside], status=0)
    second = d[inside].assign(start=at[inside], stop=d["time"][inside])
    whole = d[~inside].assign(start=0.0, stop=d["time"][~inside])
    return pd.concat([first, second, whole], ignore_index=True)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_splitting_follow_up_changes_nothing(veteran, ties):
    covs = ["karno", "age", "trt"]
    whole = om.cox(veteran, time="time", event="status", covariates=covs, ties=ties, cluster="id")
    rng = np.random.default_rng(3)
    cut = pd.Series(np.floor(rng.uniform(0, 1, len(veteran)) * veteran["time"]), index=veteran.index)
    split = _split(veteran, cut)
    assert len(split) > len(veteran) + 50                     # most subjects contribute two rows
    parts = om.cox(split, time="stop", event="status", start="start", covariates=covs, ties=ties, cluster="id")
    for col in ("coef", "se", "robust_se"):
        np.testing.assert_allclose(parts.summary[col], whole.summary[col], rtol=1e-10)
    np.testing.assert_allclose(parts.loglik, whole.loglik, rtol=1e-12)
    np.testing.assert_allclose(parts.tests["statistic"], whole.tests["statistic"], rtol=1e-9)
    assert parts.n_events == whole.n_events and parts.n == len(split)


def test_delayed_entry_removes_subjects_from_earlier_risk_sets(veteran):
    plain = om.cox(veteran, time="time", event="status", covariates=["karno"])
    zero = om.cox(veteran.assign(start=0.0), time="time", event="status", start="start", covariates=["karno"])
    np.testing.assert_allclose(zero.summary["coef"], plain.summary["coef"], rtol=1e-12)
    # entering at day 50 means not being at risk for the deaths before: the fit must differ from entry at 0
    late = veteran.assign(start=np.where(veteran["time"] > 50, 50.0, 0.0))
    shifted = om.cox(late, time="time", event="status", start="start", covariates=["karno"])
    assert abs(shifted.summary["coef"].iloc[0] - plain.summary["coef"].iloc[0]) > 1e-4
    # everyone entering at 50 is the same partial likelihood as moving the time origin to day 50
    after = veteran[veteran["time"] > 50]
    entry50 = om.cox(after.assign(start=50.0), time="time", event="status", start="start", covariates=["karno"])
    origin50 = om.cox(after.assign(time=after["time"] - 50), time="time", event="status", covariates=["karno"])
    np.testing.assert_allclose(entry50.summary[["coef", "se"]], origin50.summary[["coef", "se"]], rtol=1e-10)
    np.testing.assert_allclose(entry50.loglik, origin50.loglik, rtol=1e-12)


def test_start_must_precede_stop(veteran):
    bad = veteran.assign(start=0.0)
    bad.loc[[3, 7], "start"] = bad.loc[[3, 7], "time"]
    with pytest.raises(ValueError, match=r"start column 'start' must be < time column 'time'.*rows 3, 7"):
        om.cox(bad, time="time", event="status", start="start", covariates=["karno"])
    bad.loc[[3, 7], "start"] = np.nan
    with pytest.raises(ValueError, match=r"'start' has missing \(NaN\) values at rows 3, 7"):
        om.cox(bad, time="time", event="status", start="start", covariates=["karno"])
    with pytest.raises(ValueError, match="unknown start column 'entry'"):
        om.cox(veteran, time="time", event="status", start="entry", covariates=["karno"])


@pytest.mark.parametrize("transform", ["km", "identity"])
def test_zph_of_split_rows_equals_the_whole(veteran, transform):
    # (R's zph2 on the heart data is in test_zph_factor.py.) The KM and identity time scales do not
    # depend on how follow-up is cut into rows (the rank transform does: it ranks every row's stop time).
    whole = om.cox(veteran, time="time", event="status", covariates=["karno", "age"])
    rng = np.random.default_rng(8)
    cut = pd.Series(np.floor(rng.uniform(0, 1, len(veteran)) * veteran["time"]), index=veteran.index)
    parts = om.cox(_split(veteran, cut), time="stop", event="status", start="start", covariates=["karno", "age"])
    np.testing.assert_allclose(parts.zph(transform)["chisq"], whole.zph(transform)["chisq"], rtol=1e-9)


def test_predictions_of_split_rows_equal_the_whole(veteran):
    whole = om.cox(veteran, time="time", event="status", covariates=["karno", "age"])
    rng = np.random.default_rng(6)
    cut = pd.Series(np.floor(rng.uniform(0, 1, len(veteran)) * veteran["time"]), index=veteran.index)
    parts = om.cox(_split(veteran, cut), time="stop", event="status", start="start", covariates=["karno", "age"])
    new = pd.DataFrame({"karno": [40, 80], "age": [50, 70]})
    np.testing.assert_allclose(parts.predict_survival(new, [30, 100, 300]), whole.predict_survival(new, [30, 100, 300]),
                               rtol=1e-10)


def test_concordance_of_split_rows_equals_the_whole(veteran):
    # a subject's two rows are compared with an event only while at risk: the pair counts are unchanged
    whole = om.cox(veteran, time="time", event="status", covariates=["karno", "age"])
    rng = np.random.default_rng(4)
    cut = pd.Series(np.floor(rng.uniform(0, 1, len(veteran)) * veteran["time"]), index=veteran.index)
    parts = om.cox(_split(veteran, cut), time="stop", event="status", start="start", covariates=["karno", "age"])
    np.testing.assert_allclose(parts.concordance, whole.concordance, rtol=1e-12)
    entry_zero = om.cox(veteran.assign(start=0.0), time="time", event="status", start="start",
                        covariates=["karno", "age"])
    assert entry_zero.concordance == whole.concordance


def test_last_event_before_entry_matches_a_loop():
    from oligomet.survival._fitted_arrays import last_at_or_before
    rng = np.random.default_rng(9)
    ks = np.sort(rng.integers(0, 40, 300))                       # many strata, sorted keys
    kt = np.concatenate([np.sort(rng.integers(0, 30, (ks == s).sum()).astype(float)) for s in np.unique(ks)])
    qs, qt = rng.integers(0, 42, 500), rng.integers(-2, 33, 500).astype(float)
    got = last_at_or_before(ks, kt, qs, qt)
    want = [max([i for i in range(ks.size) if ks[i] == s and kt[i] <= t], default=-1) for s, t in zip(qs, qt)]
    np.testing.assert_array_equal(got, want)


def test_many_strata_with_entries(veteran):
    # 34 strata of ~4 rows (matched-set style) with split rows: the same as the unsplit stratified fit
    d = veteran.assign(set=np.arange(len(veteran)) // 4)
    whole = om.cox(d, time="time", event="status", covariates=["karno", "age"], strata="set")
    cut = pd.Series(np.floor(np.random.default_rng(10).uniform(0, 1, len(d)) * d["time"]), index=d.index)
    parts = om.cox(_split(d, cut), time="stop", event="status", start="start", covariates=["karno", "age"],
                   strata="set")
    np.testing.assert_allclose(parts.summary["coef"], whole.summary["coef"], rtol=1e-10)
    np.testing.assert_allclose(parts.loglik, whole.loglik, rtol=1e-12)
