"""Central combiners: the sites' aggregates -> the pooled analysis.

* Flow: patients remaining after each criterion, summed over the sites that took part.
* Kaplan–Meier and log-rank: the sites' per-time event and censoring counts are sufficient statistics;
  the centre lays them out as one (time, event, group, site) row per counted patient — no covariate, no
  identifier — and runs the pooled ``om.kaplan_meier`` / ``om.logrank`` on them, so the estimates, Greenwood
  CIs, medians and tests are the pooled ones by construction (same code, same numbers).
* Cox stratified by site: each Newton step sums the sites' log-likelihood, score and information; the
  Newton loop is the pooled one (``_cox_core.fit``, R's coxfit6 with step-halving and its convergence rule).
* Cox with one shared baseline: the sites' per-time sums become risk-set sums by reverse cumulative sums
  over the union of times; Efron's or Breslow's terms are then evaluated at the centre.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats

from ..survival import _cox_core as core

_Z975 = stats.norm.ppf(0.975)


def combine_flow(messages: dict[str, dict]) -> pd.DataFrame:
    """One row per flow step: remaining per site and in total, and the excluded (differences). A step a
    site does not list (e.g. "In no exposure group" where every patient has a group) excluded nobody there."""
    steps: dict = {}
    for m in messages.values():
        for r in m["flow"]:
            steps.setdefault((r["step"], r["label"]), None)
    index = pd.MultiIndex.from_tuples(sorted(steps, key=lambda s: s[0] == "exposure"), names=["step", "label"])
    rows = pd.DataFrame(index=index)
    for site, m in messages.items():
        f = pd.DataFrame(m["flow"]).set_index(["step", "label"])["n_remaining"]
        rows[site] = f.reindex(index).ffill().astype(int)
    rows["n_remaining"] = rows[list(messages)].sum(axis=1).astype(int)
    rows["n_excluded"] = (-rows["n_remaining"].diff()).fillna(0).astype(int)
    return rows.reset_index()


def km_rows(messages: dict[str, dict]) -> pd.DataFrame:
    """The per-time counts of every site as (time, event, group, site) rows, one per counted patient;
    ``event`` is 0 (censored), 1 (event) or, for a competing-risks endpoint, the cause code."""
    parts = []
    for site, m in messages.items():
        for b in m["blocks"]:
            t = np.asarray(b["time"], dtype=float)
            leaving = np.asarray(b["leaving"], dtype=np.int64)
            if "events_by_cause" in b:
                counts = [np.asarray(x, dtype=np.int64) for x in b["events_by_cause"]]
                codes = [float(c) for c in b["causes"]]
            else:
                counts, codes = [np.asarray(b["events"], dtype=np.int64)], [1.0]
            counts.append(leaving - np.sum(counts, axis=0))
            codes.append(0.0)
            parts.append(pd.DataFrame({"time": np.concatenate([np.repeat(t, n) for n in counts]),
                                       "event": np.concatenate([np.full(n.sum(), c) for n, c in zip(counts, codes)]),
                                       "group": b["group"], "site": site}))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["site", "group", "time"], kind="stable", ignore_index=True)


def _grouped(messages, groups):
    rows = km_rows(messages)
    if groups is not None:
        rows["group"] = pd.Categorical(rows["group"], categories=groups)
    return rows


def cumulative_incidence(messages: dict[str, dict], groups: list[str] | None = None, strata_by_site: bool = False,
                         **kw):
    """The pooled ``om.cumulative_incidence`` (CIFs and Gray's test) from the sites' per-time cause counts."""
    from ..competing.cuminc import cumulative_incidence as cif

    rows = _grouped(messages, groups)
    rows["event"] = rows["event"].astype(int)
    return cif(rows, time="time", event="event", by="group" if groups is not None else None,
               strata="site" if strata_by_site else None, **kw)


def median_followup(messages: dict[str, dict], **kw):
    """The pooled reverse-KM median follow-up from the same per-time counts."""
    from ..survival.followup import median_followup as mf

    rows = km_rows(messages)
    rows["event"] = (rows["event"] > 0).astype(float)
    return mf(rows, time="time", event="event", **{"details": True, **kw})


def kaplan_meier(messages: dict[str, dict], groups: list[str] | None = None, **kw):
    """The pooled ``om.kaplan_meier`` from the sites' per-time counts (groups in protocol order)."""
    from ..survival.kaplan_meier import kaplan_meier as km

    rows = _grouped(messages, groups)
    if groups is not None:
        return km(rows, time="time", event="event", by="group", **kw)
    return km(rows, time="time", event="event", **kw)


def logrank(messages: dict[str, dict], groups: list[str] | None = None, strata_by_site: bool = False, **kw):
    from ..survival.logrank import logrank as lr

    rows = _grouped(messages, groups)
    return lr(rows, time="time", event="event", by="group", strata="site" if strata_by_site else None, **kw)


def combine_levels(messages: dict[str, dict]) -> dict:
    """The pooled level set of each covariate (the union, sorted as the pooled design sorts them)."""
    out: dict = {}
    for m in messages.values():
        for col, v in m["levels"].items():
            if v == "numeric":
                out[col] = "numeric"
            else:
                out[col] = sorted(set(out.get(col, [])) | set(v))
    return out


def _pooled_time_sums(messages: list[dict], p: int):
    """The sites' per-time sums on the union of their times: (times, risk-set sums, deaths' sums, deaths,
    deaths' Σw, Σ over deaths of w x). Sums of x xᵀ arrive as upper triangles and the deaths' sums at event
    times only (see ``site.cox_shared_baseline``); both are laid out in full here."""
    times = np.unique(np.concatenate([np.asarray(m["time"], dtype=float) for m in messages]))
    iu = np.triu_indices(p)
    tri = 1 + p + iu[0].size
    all_, dead = np.zeros((times.size, tri)), np.zeros((times.size, tri))
    d = np.zeros(times.size)
    wd = np.zeros(times.size)       # the deaths' Σw (case weights); = d without weights
    x_dead = np.zeros(p)
    for m in messages:
        idx = np.searchsorted(times, np.asarray(m["time"], dtype=float))
        events = np.asarray(m["events"], dtype=float)
        at = idx[events > 0]
        np.add.at(all_, idx, np.asarray(m["all"], dtype=float).reshape(-1, tri))
        np.add.at(dead, at, np.asarray(m["dead"], dtype=float).reshape(-1, tri))
        np.add.at(d, idx, events)
        np.add.at(wd, at, np.asarray(m.get("w_dead", events[events > 0]), dtype=float))
        x_dead += np.asarray(m["x_dead"], dtype=float)
    risk = np.cumsum(all_[::-1], axis=0)[::-1]          # Σ over rows with time >= t: the risk set at t

    def full(a):   # upper triangle -> p × p columns
        out = np.zeros((a.shape[0], 1 + p + p * p))
        out[:, :1 + p] = a[:, :1 + p]
        sq = np.zeros((a.shape[0], p, p))
        sq[:, iu[0], iu[1]] = a[:, 1 + p:]
        sq[:, iu[1], iu[0]] = a[:, 1 + p:]
        out[:, 1 + p:] = sq.reshape(a.shape[0], p * p)
        return out
    return times, full(risk), full(dead), d, wd, x_dead


def shared_baseline_terms(messages: list[dict], beta: np.ndarray, efron: bool):
    """loglik, score, information of the pooled (unstratified) partial likelihood from per-time sums (case
    weights: each death term counts with the mean weight of the deaths tied with it, as R's coxfit6)."""
    p = beta.size
    times, risk, dead, d, wd, x_dead = _pooled_time_sums(messages, p)
    k = np.flatnonzero(d > 0)
    dk = d[k].astype(np.int64)
    idx = np.repeat(k, dk)                               # one term per death (Efron) at its event time
    f = (np.arange(dk.sum()) - np.repeat(np.cumsum(dk) - dk, dk)) / np.repeat(dk, dk) if efron \
        else np.zeros(dk.sum())
    mw = np.repeat(wd[k] / d[k], dk)                     # coxfit6's meanwt: each death term weighs the mean weight
    S = risk[idx] - f[:, None] * dead[idx]
    D = S[:, 0]
    M = S[:, 1:1 + p] / D[:, None]
    loglik = float(x_dead @ beta - mw @ np.log(D))
    u = x_dead - mw @ M
    S2 = (mw @ (S[:, 1 + p:] / D[:, None])).reshape(p, p)
    imat = S2 - (M * mw[:, None]).T @ M
    return loglik, u, (imat + imat.T) / 2


@dataclass(frozen=True)
class FederatedCox:
    """A federated Cox fit: ``summary`` (coef, se, z, p, hr, hr_lower, hr_upper), ``tests`` (likelihood
    ratio, Wald, score), ``loglik`` [null, final], as the pooled ``om.cox``."""

    summary: pd.DataFrame
    tests: pd.DataFrame
    loglik: np.ndarray
    var: np.ndarray
    iterations: int
    converged: bool
    n: int
    n_events: int
    strata: str | None


def newton(evaluator, names: list[str], centre: np.ndarray, n: int, n_events: int, strata: str | None,
           max_iter: int = core.ITER_MAX) -> FederatedCox:
    """The pooled Newton–Raphson loop with ``evaluator(beta)`` summing the sites' terms."""
    p = len(names)
    stub = SimpleNamespace(p=p, scale=np.ones(p), means=centre)
    fit = core.fit(stub, max_iter=max_iter, evaluator=evaluator)
    coef, var = fit.coef, fit.var
    se = np.sqrt(np.diag(var))
    z = coef / se
    summary = pd.DataFrame({"coef": coef, "se": se, "z": z, "p": 2 * stats.norm.sf(np.abs(z)),
                            "hr": np.exp(coef), "hr_lower": np.exp(coef - _Z975 * se),
                            "hr_upper": np.exp(coef + _Z975 * se)}, index=pd.Index(names, name="term"))
    df = int(np.sum(~fit.singular))
    rows = {"likelihood_ratio": 2 * (fit.loglik[1] - fit.loglik[0]), "wald": core.wald_statistic(var, coef),
            "score": fit.score_test}
    tests = pd.DataFrame({"statistic": list(rows.values()), "df": df}, index=pd.Index(list(rows), name="test"))
    tests["p"] = stats.chi2.sf(tests["statistic"].to_numpy(), df)
    return FederatedCox(summary=summary, tests=tests, loglik=fit.loglik, var=var, iterations=fit.iterations,
                        converged=fit.converged, n=n, n_events=n_events, strata=strata)


def design_names(terms: list[str], levels: dict) -> list[str]:
    from .site import design_for

    return design_for(terms, levels).names


# --- Table 1 -------------------------------------------------------------------------------------

def _quantile_bounds(hists: list[dict], n: int, p: float, integer: bool = False) -> tuple[float, float]:
    """Bounds [L, U] on the pooled type-7 quantile from the sites' merged histograms.

    With h = (n − 1)p and j = ⌊h⌋ + 1, the quantile lies between the order statistics x₍ⱼ₎ and x₍ⱼ₊₁₎.
    x₍ⱼ₎ >= e whenever fewer than j values can lie below e (counting every bin that starts below e);
    x₍ⱼ₊₁₎ <= e whenever at least j + 1 values surely lie below e (bins that end at or below e).
    For integer-valued data each order statistic is bounded on its own (a bin [lo, hi) then holds only the
    integers lo..hi−1), and the interpolation between them is bounded by theirs: where the ranks fall in
    cells holding one value, the quantile is exact."""
    lo = np.concatenate([h["lower"] for h in hists])
    hi = np.concatenate([h["upper"] for h in hists])
    cnt = np.concatenate([h["counts"] for h in hists]).astype(float)
    h_ = (n - 1) * p
    j = int(np.floor(h_)) + 1
    if integer:
        values = np.arange(np.floor(lo.min()), np.ceil(hi.max()) + 1)
        maybe_below = np.array([cnt[lo < v].sum() for v in values])      # values that can lie below v
        surely_upto = np.array([cnt[hi <= v + 1].sum() for v in values])  # values that surely are <= v

        def order_stat(r):
            return float(values[maybe_below < r].max()), float(values[surely_upto >= r].min())
        frac = h_ - np.floor(h_)
        (l1, u1), (l2, u2) = order_stat(j), order_stat(min(j + 1, n))
        return (1 - frac) * l1 + frac * l2, (1 - frac) * u1 + frac * u2
    edges = np.unique(np.concatenate([lo, hi]))
    f_high = np.array([cnt[lo < e].sum() for e in edges])
    f_low = np.array([cnt[hi <= e].sum() for e in edges])
    L = float(edges[f_high < j].max())
    U = float(edges[f_low >= min(j + 1, n)].min())
    return L, U


def _exact_values(parts: list[dict], width: float):
    """(values, groups) of a continuous variable whose sites' histogram cells (width 1) each hold a single
    integer value, so that the cell counts are the value counts (as a categorical variable's); else None."""
    if width != 1.0 or not all(x["integer"] for p in parts for x in p["groups"]):
        return None
    vals, grp = [], []
    for p in parts:
        for x in p["groups"]:
            h = x["histogram"]
            if any(hi - lo != 1.0 for lo, hi in zip(h["lower"], h["upper"])):
                return None
            for lo, c in zip(h["lower"], h["counts"]):
                vals += [lo] * c
                grp += [x["group"]] * c
            vals += [np.nan] * x["missing"][0]
            grp += [x["group"]] * x["missing"][0]
    return np.asarray(vals, dtype=float), grp


def _skewed(parts: list[dict]) -> bool:
    """``om.table_one``'s automatic rule from the pooled moments: |skewness| > 1 is non-normal, <= 0.5 normal;
    between, the pooled rule asks Shapiro–Wilk, which needs the values: taken as non-normal (at the sizes of
    a multicentre study the test rejects at that skewness)."""
    gs = [x for p in parts for x in p["groups"]]
    n = sum(x["n"] for x in gs)
    if n < 3:
        return False
    mean = sum(x["n"] * x["mean"] for x in gs) / n
    m2 = sum(x["m2"] + x["n"] * (x["mean"] - mean) ** 2 for x in gs)
    m3 = sum(x["m3"] + 3 * (x["mean"] - mean) * x["m2"] + x["n"] * (x["mean"] - mean) ** 3 for x in gs)
    if m2 <= 0:
        return False
    skew = abs((m3 / n) / (m2 / n) ** 1.5 * np.sqrt(n * (n - 1)) / (n - 2))
    return bool(skew > 0.5)


def table_one(messages: dict[str, dict], groups: list[str] | None, bin_width: dict | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pooled Table 1 from the sites' sums: (table, tests) shaped as ``om.table_one``'s, plus
    ``*_lower``/``*_upper`` bounds on the histogram medians and quartiles (their midpoint is shown).

    Categorical variables: the counts are laid out as one (group, level) row per patient and given to
    ``om.table_one`` (counts, percentages, SMD and the chi-square/Fisher test are then the pooled ones).
    Continuous: n, mean and SD by the parallel-variance formula, SMD as ``om.table_one`` defines it."""
    from ..describe.table_one import table_one as t1

    bin_width = bin_width or {}
    rows, tests = [], []
    names = list(dict.fromkeys(v for m in messages.values() for v in m["variables"]))
    for var in names:
        parts = [m["variables"][var] for m in messages.values() if var in m["variables"]]
        if any(p["kind"] == "continuous" for p in parts):   # a numeric column 0/1 at some sites only: continuous
            parts = [p.get("continuous", p) for p in parts]
        if parts[0]["kind"] == "categorical":
            vals, grp = [], []
            for p in parts:
                for g in p["groups"]:
                    for lv, c in zip(p["levels"], g["counts"]):
                        vals += [lv] * c
                        grp += [g["group"]] * c
                    vals += [None] * g["missing"][0]
                    grp += [g["group"]] * g["missing"][0]
            frame = pd.DataFrame({var: pd.Series(vals, dtype=object),
                                  "group": pd.Categorical(grp, categories=groups) if groups else grp})
            res = t1(frame, by="group" if groups else None, variables=[var], categorical=[var])
            rows.append(res.table[res.table.variable == var])
            tests.append(res.tests)
            continue
        exact = _exact_values(parts, float(bin_width.get(var, 1.0)))
        if exact is not None:   # every histogram cell holds one integer value: the cells are the data's counts
            frame = pd.DataFrame({var: exact[0], "group": pd.Categorical(exact[1], categories=groups) if groups
                                  else exact[1]})
            res = t1(frame, by="group" if groups else None, variables=[var])
            exact_rows = res.table[res.table.variable == var].copy()
            for q in ("q1", "median", "q3"):
                exact_rows[f"{q}_lower"] = exact_rows[f"{q}_upper"] = exact_rows[q]
            rows.append(exact_rows)
            tests.append(res.tests)
            continue
        kind = "nonnormal" if _skewed(parts) else "normal"
        stats_ = {}
        for g in (groups or ["Overall"]):
            gs = [x for p in parts for x in p["groups"] if x["group"] == g]
            n = sum(x["n"] for x in gs)
            mean = sum(x["n"] * x["mean"] for x in gs) / n
            m2 = sum(x["m2"] + x["n"] * (x["mean"] - mean) ** 2 for x in gs)
            row = {"variable": var, "level": "", "group": g, "kind": kind, "n": float(n), "mean": mean,
                   "sd": float(np.sqrt(m2 / (n - 1))) if n > 1 else np.nan,
                   "missing": float(sum(x["missing"][0] for x in gs))}
            for name, q in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
                L, U = _quantile_bounds([x["histogram"] for x in gs], n, q, all(x.get("integer") for x in gs))
                row.update({name: (L + U) / 2, f"{name}_lower": L, f"{name}_upper": U})
            stats_[g] = row
            rows.append(pd.DataFrame([row]))
        smd = np.nan
        if groups and len(groups) >= 2:
            pair = []
            for i in range(len(groups)):
                for k in range(i + 1, len(groups)):
                    a, b = stats_[groups[i]], stats_[groups[k]]
                    pooled = np.sqrt((a["sd"] ** 2 + b["sd"] ** 2) / 2)
                    pair.append(abs(a["mean"] - b["mean"]) / pooled)
            smd = float(np.mean(pair))
        tests.append(pd.DataFrame([{"variable": var, "kind": kind, "smd": smd,
                                    "summary": "median [Q1, Q3]" if kind == "nonnormal" else "mean (SD)"}]))
    return (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(),
            pd.concat(tests, ignore_index=True) if tests else pd.DataFrame())


def irls(ask, n: int, epsilon: float = 1e-8, maxit: int = 25) -> dict:
    """``glm.fit``'s IRLS loop with ``ask(beta)`` returning the sites' messages at ``beta`` (None = glm's
    starting values): the weighted least-squares step solves the summed normal equations."""
    def sums(msgs):
        return (np.sum([m["xtwx"] for m in msgs], axis=0), np.sum([m["xtwz"] for m in msgs], axis=0),
                float(sum(m["deviance"] for m in msgs)))

    A, b, devold = sums(ask(None))
    beta_new = np.linalg.solve(A, b)
    converged, it, dev = False, 0, devold
    for it in range(1, maxit + 1):  # noqa: B007 - the count of iterations is read after the loop
        A, b, dev = sums(ask(beta_new))
        if not np.isfinite(dev):
            raise ValueError("propensity model: infinite deviance (separation); not handled in the federated fit")
        beta = beta_new
        if abs(dev - devold) / (abs(dev) + 0.1) < epsilon:
            converged = True
            break
        devold = dev
        beta_new = np.linalg.solve(A, b)
    return {"coef": beta.tolist(), "deviance": dev, "iterations": it, "converged": converged}


# --- robust (sandwich) variance of the weighted Cox model ---------------------------------------

def robust_pieces(messages: list[dict], beta: np.ndarray, efron: bool) -> dict:
    """Per pooled event time, what a site needs to form its rows' score residuals at ``beta`` (R's
    coxscore2: res_j = δ_j (x_j − m̄_g) − s_j (x_j H_g − M_g) + δ_j s_j (x_j b_g − E_g), g the last event time
    at or before the row's time): H (cumulative hazard increments a), b, m̄ (the deaths' mean), E and M."""
    p = beta.size
    times, risk, dead, d, wd, _ = _pooled_time_sums(messages, p)
    k = np.flatnonzero(d > 0)
    S0, S1, e, e1 = risk[k, 0], risk[k, 1:1 + p], dead[k, 0], dead[k, 1:1 + p]
    a, b, q0, q1, q2 = (np.zeros(k.size) for _ in range(5))
    for i in range(k.size):
        n = int(d[k[i]])
        f = np.arange(n) / n if efron else np.zeros(n)
        mw = wd[k[i]] / n
        D = S0[i] - f * e[i]
        a[i], b[i] = np.sum(mw / D), np.sum(f * mw / D)
        q0[i], q1[i], q2[i] = np.sum(mw / D ** 2), np.sum(f * mw / D ** 2), np.sum(f * f * mw / D ** 2)
    mbar = (S1 * a[:, None] - e1 * b[:, None]) / wd[k][:, None]
    return {"time": times[k].tolist(), "H": np.cumsum(a).tolist(), "b": b.tolist(), "mbar": mbar.tolist(),
            "E": (S1 * q1[:, None] - e1 * q2[:, None]).tolist(),
            "M": np.cumsum(S1 * q0[:, None] - e1 * q1[:, None], axis=0).tolist()}


# --- propensity-score weighting -------------------------------------------------------------------

_SQRT_EPS = np.sqrt(np.finfo(float).eps)


def _group_stats(s: list[float], n: float, sw: float, sw2: float, binary: bool) -> dict:
    """Mean and MatchIt's wvar, unweighted and weighted, of one column in one group from its sums."""
    sx, sxx, swx, swxx = s
    m, mw = sx / n, swx / sw
    if binary:
        v, vw = m * (1 - m), mw * (1 - mw)
    else:
        v = (sxx - n * m * m) / (n - 1)
        q = sw2 / sw ** 2
        vw = ((swxx / sw) - mw * mw) / (1 - q) if 1 - q > 0 else np.nan
    return {"mean": m, "var": v, "mean_w": mw, "var_w": vw}


def weighting_balance(messages: dict[str, dict], estimand: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``om.weight``'s balance table (means, SMD with the fixed unweighted SD, variance ratios; the eCDF
    statistics need the distributions and are left empty) and effective sample sizes, from the sites' sums."""
    from ..matching.balance import BALANCE_COLUMNS

    msgs = list(messages.values())
    g = {name: {k: sum(m["groups"][name][k] for m in msgs) for k in ("n", "sum_w", "sum_w2")}
         for name in ("control", "treated")}
    for name in g:
        g[name]["max_w"] = max(m["groups"][name]["max_w"] for m in msgs)
    rows = {}
    for col in msgs[0]["balance"]:
        binary = all(m["balance"][col]["binary"] for m in msgs)
        st = {name: _group_stats(list(np.sum([m["balance"][col][name] for m in msgs], axis=0)), g[name]["n"],
                                 g[name]["sum_w"], g[name]["sum_w2"], binary) for name in g}
        t_, c_ = st["treated"], st["control"]
        sd = np.sqrt(t_["var"]) if estimand == "ATT" else np.sqrt((t_["var"] + c_["var"]) / 2)
        row = {}
        for when, mk, vk in (("before", "mean", "var"), ("after", "mean_w", "var_w")):
            diff = t_[mk] - c_[mk]
            row.update({f"mean_treated_{when}": t_[mk], f"mean_control_{when}": c_[mk],
                        f"smd_{when}": diff / sd if abs(diff) > _SQRT_EPS else diff,
                        f"var_ratio_{when}": np.nan if binary else t_[vk] / c_[vk],
                        f"ecdf_mean_{when}": abs(diff) if binary else np.nan,
                        f"ecdf_max_{when}": abs(diff) if binary else np.nan})
        rows[col] = row
    bal = pd.DataFrame.from_dict(rows, orient="index")[BALANCE_COLUMNS]
    bal.index.name = "covariate"
    ess = pd.DataFrame({name: {"n": int(v["n"]), "ess": v["sum_w"] ** 2 / v["sum_w2"], "sum_weights": v["sum_w"],
                               "max_weight": v["max_w"]} for name, v in g.items()}).T
    ess["n"] = ess["n"].astype(int)
    ess.index.name = "group"
    return bal, ess


def _pseudo_weights(k: int, s: float, q: float) -> np.ndarray:
    """``k`` non-negative weights with sum ``s`` and sum of squares ``q`` (a site's cell: k patients, Σw, Σw²):
    m − 1 equal weights c and one d, m = ⌈s²/q⌉ ≤ k (Cauchy–Schwarz), and k − m zero weights. The weighted
    Kaplan–Meier and its infinitesimal-jackknife variance depend on a cell's rows only through these sums."""
    out = np.zeros(k)
    if k == 0 or s <= 0:
        return out
    m = min(k, max(1, int(np.ceil(s * s / q - 1e-9))))
    a = m - 1
    if a == 0:
        out[0] = s
        return out
    c = (a * s - np.sqrt(max(a * (m * q - s * s), 0.0))) / (a * (1 + a))
    out[:a] = c
    out[a] = s - a * c
    return out


def weighted_km_rows(messages: dict[str, dict], endpoint: str) -> pd.DataFrame:
    """(time, event, group, site, weights) rows whose per-cell Σw and Σw² are the sites' (see above)."""
    parts = []
    for site, m in messages.items():
        for b in m["km"][endpoint]:
            t = np.asarray(b["time"], dtype=float)
            ev = np.asarray(b["events"], dtype=np.int64)
            cens = np.asarray(b["leaving"], dtype=np.int64) - ev
            for status, n, sw, sw2 in ((1.0, ev, b["w_event"], b["w2_event"]), (0.0, cens, b["w_censor"],
                                                                                  b["w2_censor"])):
                w = np.concatenate([_pseudo_weights(int(k), s, q) for k, s, q in zip(n, sw, sw2)])
                parts.append(pd.DataFrame({"time": np.repeat(t, n), "event": status, "group": b["group"],
                                           "site": site, "weights": w}))
    return pd.concat(parts, ignore_index=True).sort_values(["site", "group", "time"], kind="stable",
                                                            ignore_index=True)
