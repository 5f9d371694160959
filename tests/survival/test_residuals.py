"""Cox residuals against R's residuals.coxph (survival 3.5-3), by hand, and against a brute-force version.

Fixtures: tests/reference/residuals/make_residual_fixtures.R -> residual_fixtures.json (data included).
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om

FIX = json.loads((Path(__file__).parents[1] / "reference" / "residuals" / "residual_fixtures.json").read_text())
CASES = FIX["cases"]
ROW_TYPES = ("martingale", "deviance", "score", "dfbeta", "dfbetas")


def _fit(case) -> tuple[pd.DataFrame, om.CoxResult]:
    data = pd.DataFrame(case["data"])
    s = case["spec"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # complete-case notices for lung/colon
        fit = om.cox(data, time=s.get("time", "time"), event=s.get("event", "status"), covariates=s["covariates"],
                     ties=s["ties"], strata=s.get("strata"), weights=s.get("weights"), start=s.get("start"),
                     cluster=s.get("cluster"))
    return data, fit


def _matrix(values) -> np.ndarray:
    a = np.array(values, dtype=float)     # JSON null (R's NaN) -> nan
    return a.reshape(a.shape[0], -1)


def _close(got, want):
    got, want = np.asarray(got, dtype=float), _matrix(want) if not isinstance(want, np.ndarray) else want
    want = want.reshape(got.shape)
    scale = max(1.0, np.nanmax(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8 * scale, equal_nan=True)


@pytest.fixture(scope="module")
def fits():
    return {name: _fit(case) for name, case in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_row_types_match_r(fits, name):
    case = CASES[name]
    data, fit = fits[name]
    np.testing.assert_allclose(fit.coef, np.atleast_1d(case["coef"]), rtol=1e-9, atol=1e-12)
    for ty in ROW_TYPES:
        got = fit.residuals(ty)
        # keyed to the analysed rows of the input (lung/colon lose their NA rows, as R's na.omit)
        assert list(got.index) == list(data.index[case["rows"]]), ty
        if got.shape[1] > 1:
            assert list(got.columns) == fit.terms
        _close(got.to_numpy(), case[ty])
    _close(fit.residuals("martingale", weighted=True).to_numpy(), case["martingale_weighted"])
    _close(fit.residuals("score", weighted=True).to_numpy(), case["score_weighted"])
    _close(fit.residuals("dfbeta", weighted=False).to_numpy(), case["dfbeta_unweighted"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_schoenfeld_types_match_r(fits, name):
    case = CASES[name]
    data, fit = fits[name]
    for ty in ("schoenfeld", "scaledsch"):
        got = fit.residuals(ty)
        want = case[ty]
        assert len(got) == fit.n_events == case["nevent"]
        # R's order: stratum, time, input order among tied events
        np.testing.assert_array_equal(got["time"].to_numpy(), np.atleast_1d(want["time"]))
        _close(got[fit.terms].to_numpy(), want["values"])
        if "strata_counts" in want:
            assert got["strata"].value_counts(sort=False).tolist() == np.atleast_1d(want["strata_counts"]).tolist()
        ev_col = case["spec"].get("event", "status")
        assert (data.loc[got.index, ev_col] == 1).all()
    # weighted = TRUE: each event's residual times its own case weight. R 3.5-3 multiplies by
    # weights[deaths], i.e. the weights in the data's order picked by the deaths' positions in the sorted
    # order (therneau/survival#339); we check R's numbers through that mechanism.
    weighted = fit.residuals("schoenfeld", weighted=True)[fit.terms].to_numpy()
    unweighted = fit.residuals("schoenfeld")[fit.terms].to_numpy()
    s = case["spec"]
    rows = data.iloc[case["rows"]]
    w = rows[s["weights"]].to_numpy(float) if "weights" in s else np.ones(len(rows))
    np.testing.assert_allclose(weighted, unweighted * w[[rows.index.get_loc(i) for i in got.index]][:, None],
                               rtol=1e-14)
    status = rows[s.get("event", "status")].to_numpy()
    strata = rows[s["strata"]].to_numpy() if "strata" in s else np.zeros(len(rows))
    r_order = np.lexsort((np.arange(len(rows)), -status, rows[s.get("time", "time")].to_numpy(), strata))
    r_weights = w[np.flatnonzero(status[r_order] == 1)]
    _close(unweighted * r_weights[:, None], case["schoenfeld_weighted"])


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if "collapse" in c["spec"]))
def test_collapse_matches_r(fits, name):
    case = CASES[name]
    data, fit = fits[name]
    ids = data[case["spec"]["collapse"]]
    for ty in ROW_TYPES:
        want = case[f"{ty}_collapsed"]
        got = fit.residuals(ty, collapse=ids)           # a Series: aligned on the data's index
        np.testing.assert_array_equal(got.index.to_numpy(dtype=float), np.asarray(want["ids"], dtype=float))
        _close(got.to_numpy(), want["values"])
        plain = fit.residuals(ty, collapse=ids.to_numpy())   # an array: one id per analysed row
        np.testing.assert_array_equal(plain.to_numpy(), got.to_numpy())


def test_strata_labels_as_r(fits):
    got = fits["lung_strata"][1].residuals("schoenfeld")
    assert list(got.columns[:2]) == ["time", "strata"]
    assert list(dict.fromkeys(got["strata"])) == ["sex=1", "sex=2"]


# --- by hand: Therneau's test1 (survival's tests/book1.R), Breslow ties --------------------------------------
def test_hand_worked_breslow_example():
    """Rows (time, status, x): (9,1,0) (1,1,1) (1,0,1) (6,1,1) (6,1,0) (8,0,0), r = exp(beta).

    Risk sets: t=1 all six (S0 = 3r + 3, one death), t=6 the rows with time >= 6 (S0 = r + 3, two deaths),
    t=9 the last row (S0 = 1). The score u = (6 + 3r − r²)/((r + 1)(r + 3)) vanishes at r = (3 + √33)/2."""
    d = pd.DataFrame({"time": [9, 1, 1, 6, 6, 8], "status": [1, 1, 0, 1, 1, 0], "x": [0, 1, 1, 1, 0, 0]})
    fit = om.cox(d, time="time", event="status", covariates=["x"], ties="breslow")
    r = (3 + np.sqrt(33)) / 2
    assert fit.coef[0] == pytest.approx(np.log(r), rel=1e-12)
    h1, h6, h9 = 1 / (3 * r + 3), 2 / (r + 3), 1.0          # hazard increments
    xbar1, xbar6 = r / (r + 1), r / (r + 3)                 # risk-set means of x
    cumhaz = np.array([h1 + h6 + h9, h1, h1, h1 + h6, h1 + h6, h1 + h6])
    risk = np.array([1, r, r, r, 1, 1])
    mart = d["status"] - risk * cumhaz
    np.testing.assert_allclose(fit.residuals("martingale")["martingale"], mart, rtol=1e-12)
    # score residual: ∫ (x − x̄(t)) dM(t) = δ (x − x̄(T)) − r Σ_{t <= T} (x − x̄(t)) dΛ(t)
    score = np.array([
        1 * (0 - 0) - 1 * ((0 - xbar1) * h1 + (0 - xbar6) * h6 + 0 * h9),
        1 * (1 - xbar1) - r * (1 - xbar1) * h1,
        0 - r * (1 - xbar1) * h1,
        1 * (1 - xbar6) - r * ((1 - xbar1) * h1 + (1 - xbar6) * h6),
        1 * (0 - xbar6) - 1 * ((0 - xbar1) * h1 + (0 - xbar6) * h6),
        0 - 1 * ((0 - xbar1) * h1 + (0 - xbar6) * h6),
    ])
    np.testing.assert_allclose(fit.residuals("score")["x"], score, rtol=1e-12, atol=1e-14)
    sch = fit.residuals("schoenfeld")
    np.testing.assert_array_equal(sch["time"], [1, 6, 6, 9])
    assert list(sch.index) == [1, 3, 4, 0]                  # by time; the tied deaths at 6 in input order
    np.testing.assert_allclose(sch["x"], [1 - xbar1, 1 - xbar6, 0 - xbar6, 0.0], atol=1e-14)
    info = r / (r + 1) ** 2 + 6 * r / (r + 3) ** 2           # Breslow information at beta
    np.testing.assert_allclose(fit.residuals("scaledsch")["x"], sch["x"] / info * 4 + np.log(r), rtol=1e-12)
    np.testing.assert_allclose(fit.residuals("dfbeta")["x"], score / info, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(fit.residuals("dfbetas")["x"], score / np.sqrt(info), rtol=1e-10, atol=1e-14)
    dev = np.sign(mart) * np.sqrt(-2 * (mart + np.where(d.status == 1, np.log(1 - np.minimum(mart, 1 - 1e-300)), 0)))
    np.testing.assert_allclose(fit.residuals("deviance")["deviance"], dev, rtol=1e-12)


# --- brute force from the definitions: strata, weights, Efron ties, (start, stop] -----------------------------
def _brute_force(t, d, X, beta, w, strata, start, efron):
    """Martingale, score and Schoenfeld residuals by looping over the event times and Efron's steps."""
    n, p = X.shape
    r = w * np.exp(X @ beta)
    risk = np.exp(X @ beta)
    mart = d.astype(float).copy()
    score = np.zeros((n, p))
    sch = {}
    for s in np.unique(strata):
        for tk in np.unique(t[(strata == s) & (d == 1)]):
            at = (strata == s) & (t >= tk) & (start < tk)
            dead = at & (t == tk) & (d == 1)
            nd = dead.sum()
            wbar = w[dead].sum() / nd
            steps = range(nd) if efron else [0]
            xbars = []
            for step in steps:
                f = step / nd if efron else 0.0
                # the tied deaths leave the risk set in 1/nd steps (Efron)
                weight = np.where(dead, 1 - f, 1.0) * at
                S0 = (r * weight).sum()
                xbar = (r * weight) @ X / S0
                dlam = (wbar if efron else w[dead].sum()) / S0
                xbars.append(xbar)
                mart -= risk * weight * dlam
                score -= (risk * weight * dlam)[:, None] * (X - xbar)
            m = np.mean(xbars, axis=0)
            score[dead] += X[dead] - m
            for i in np.flatnonzero(dead):
                sch[i] = X[i] - m
    return mart, score, sch


@pytest.mark.parametrize("efron", [True, False])
def test_brute_force_strata_weights_start_stop(efron):
    rng = np.random.default_rng(7)
    n = 90
    d = pd.DataFrame({"start": rng.integers(0, 4, n).astype(float), "x1": rng.normal(size=n),
                      "x2": rng.integers(0, 2, n).astype(float), "g": rng.integers(0, 3, n),
                      "w": rng.uniform(0.3, 2.5, n).round(2), "status": rng.binomial(1, 0.7, n)})
    d["stop"] = d["start"] + rng.integers(1, 9, n)
    d.index = [f"r{i}" for i in range(n)]
    fit = om.cox(d, time="stop", event="status", covariates=["x1", "x2"], strata="g", weights="w", start="start",
                 ties="efron" if efron else "breslow")
    X = d[["x1", "x2"]].to_numpy()
    mart, score, sch = _brute_force(d.stop.to_numpy(), d.status.to_numpy(), X, fit.coef, d.w.to_numpy(),
                                    d.g.to_numpy(), d.start.to_numpy(), efron)
    np.testing.assert_allclose(fit.residuals("martingale")["martingale"], mart, atol=1e-12)
    np.testing.assert_allclose(fit.residuals("score").to_numpy(), score, atol=1e-12)
    got = fit.residuals("schoenfeld")
    rows = [d.index.get_loc(i) for i in got.index]
    np.testing.assert_allclose(got[["x1", "x2"]].to_numpy(), np.array([sch[i] for i in rows]), atol=1e-12)
    # R's order: stratum, then time
    key = list(zip(d.g.to_numpy()[rows], got["time"]))
    assert key == sorted(key)


# --- properties ------------------------------------------------------------------------------------------------
def test_sums_vanish_at_the_mle(fits):
    _, fit = fits["tied_weighted_strata_efron"]
    w = pd.DataFrame(CASES["tied_weighted_strata_efron"]["data"])["w"].to_numpy()
    assert abs(fit.residuals("martingale", weighted=True)["martingale"].sum()) < 1e-10 * w.sum()
    np.testing.assert_allclose(fit.residuals("score", weighted=True).sum(), 0, atol=1e-8)
    np.testing.assert_allclose(fit.residuals("schoenfeld", weighted=True)[fit.terms].sum(), 0, atol=1e-8)


def test_integer_weights_equal_replicated_rows():
    """Therneau's testw1/testw2 (tests/book5.R): weights 1..4 against the same rows repeated. Breslow only:
    Efron's correction counts tied rows, so replication changes it."""
    w1 = pd.DataFrame({"time": [1, 1, 2, 2, 2, 2, 3, 4, 5], "status": [1, 0, 1, 1, 1, 0, 0, 1, 0],
                       "x": [2, 0, 1, 1, 0, 1, 0, 1, 0], "wt": [1, 2, 3, 4, 3, 2, 1, 2, 1]})
    w2 = w1.loc[w1.index.repeat(w1.wt)].reset_index(names="id")
    for ties in ("breslow",):
        fw = om.cox(w1, time="time", event="status", covariates=["x"], weights="wt", ties=ties, robust=False)
        fr = om.cox(w2, time="time", event="status", covariates=["x"], ties=ties)
        np.testing.assert_allclose(fw.residuals("dfbeta").to_numpy(),
                                   fr.residuals("dfbeta", collapse=w2["id"]).to_numpy(), atol=1e-12)
        np.testing.assert_allclose(fw.residuals("martingale", weighted=True).to_numpy(),
                                   fr.residuals("martingale", collapse=w2["id"]).to_numpy(), atol=1e-12)


def test_robust_variance_is_the_collapsed_dfbeta_gram(fits):
    data, fit = fits["heart_efron"]
    D = fit.residuals("dfbeta", collapse=data["id"]).to_numpy()
    np.testing.assert_allclose(D.T @ D, fit.var.to_numpy(), rtol=1e-10)


def test_without_the_stored_problem_the_same_numbers(fits):
    _, fit = fits["heart_strata_weighted"]
    bare = dataclasses.replace(fit, _problem=None)
    assert bare._residual_problem() is not fit._problem           # rebuilt from the analysed arrays
    for ty in ("martingale", "score", "schoenfeld"):
        pd.testing.assert_frame_equal(bare.residuals(ty), fit.residuals(ty), rtol=1e-11, atol=1e-13)


def test_bad_arguments(fits):
    data, fit = fits["lung_efron"]
    with pytest.raises(ValueError, match="type must be one of"):
        fit.residuals("pearson")
    with pytest.raises(ValueError, match="Wrong length for 'collapse'"):
        fit.residuals("dfbeta", collapse=np.arange(len(data)))        # all rows, not the analysed ones
    with pytest.raises(ValueError, match="the Series has no value for"):
        fit.residuals("dfbeta", collapse=data["age"].iloc[3:])
    with pytest.raises(ValueError, match="collapse does not apply to Schoenfeld"):
        fit.residuals("schoenfeld", collapse=data["age"])


# --- the smooths of R's residual plots ------------------------------------------------------------------------
def test_zph_plot_smooth_matches_r(fits):
    """plot(cox.zph(fit)): natural spline df = 4 at 40 points, ± 2 SE band, R's time axis (lung)."""
    from oligomet.survival.residual_smooth import scaled_schoenfeld_smooth
    want = FIX["smooth"]["zph"]
    got = scaled_schoenfeld_smooth(fits["lung_efron"][1])
    assert list(dict.fromkeys(got.curve["term"])) == want["terms"]
    for i, term in enumerate(want["terms"]):
        cur = got.curve[got.curve["term"] == term]
        pts = got.points[got.points["term"] == term]
        np.testing.assert_allclose(cur["x"], want["x"], rtol=1e-12)
        np.testing.assert_allclose(cur["fit"], want["fit"][i], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(cur["upper"] - cur["fit"], want["se"][i], rtol=1e-9)
        np.testing.assert_allclose(cur["fit"] - cur["lower"], want["se"][i], rtol=1e-9)
        np.testing.assert_allclose(pts["residual"], np.asarray(want["y"])[:, i], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(pts["x"], want["g"], rtol=1e-12)
    np.testing.assert_allclose(got.ticks["x"], want["tick_x"], rtol=1e-12)
    assert got.ticks["label"].tolist() == want["tick_label"]


@pytest.mark.parametrize("key, kw", [("lowess", {}), ("lowess_f03", {"f": 0.3, "iterations": 0})])
def test_lowess_matches_r(key, kw):
    from oligomet.survival._smooth import lowess
    want = FIX["smooth"][key]
    xs, ys = lowess(want["x"], want["y"], **kw)
    np.testing.assert_array_equal(xs, want["fit_x"])
    np.testing.assert_allclose(ys, want["fit_y"], rtol=1e-10, atol=1e-12)


def test_martingale_smooth_uses_the_analysed_rows(fits):
    from oligomet.survival.residual_smooth import martingale_smooth
    data, fit = fits["lung_efron"]
    got = martingale_smooth(fit, data["age"])
    assert list(got.points.index) == list(fit.residuals().index)           # NA rows of lung left out
    np.testing.assert_allclose(got.curve["fit"], FIX["smooth"]["lowess"]["fit_y"], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="missing or infinite"):
        martingale_smooth(fit, data["age"].where(data["age"] > 50))
