"""Partial functions run at one site, on that site's own registry.

Each takes the validated protocol, the node's configuration and the request's parameters, builds the
site's cohort with the study layer's public functions (the same code as a pooled run) and returns a
JSON-able message of aggregates. Nothing here returns a row, an identifier or a per-patient value.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..study import cohort as C
from ..study.protocol import DataSource, Protocol
from ..survival import _cox_core as core
from ..survival._ties import merge_near_ties
from ..survival.design import build_design, parse_covariates
from .disclosure import SmallCell, grid_times, require_count
from .node import NodeConfig, NodeRefusal

_CACHE: dict = {}   # (registry, protocol hash) -> (cohort, flow); one container process serves one task on a
#                     real node, the mock network runs every task in this process
_ARRAYS: dict = {}  # a model's arrays at one site, for its next Newton step


def site_cohort(proto: Protocol, cfg: NodeConfig, base) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The site's analysis cohort and STROBE flow, as a pooled run builds them (same functions)."""
    from ..study.run import _prepare_covariates   # the pooled run's covariate coding, reused as is

    location = cfg.registry_location(base)
    key = (location, proto.hash)
    if key not in _CACHE:
        local = proto.model_copy(update={"data": DataSource(url=location) if "://" in location
                                         else DataSource(folder=location)})
        tables = C.load_registry(local)
        candidates, rows, done = C.prefilter(tables, proto)
        frame = _prepare_covariates(C.analysis_frame(candidates, proto), proto)
        cohort, flow = C.apply_cohort(frame, proto, rows=rows, skip=done)
        cohort, flow = C.assign_groups(cohort, flow, proto)
        C.check_endpoints(cohort, proto)
        if len(cohort) > cfg.max_cohort:
            raise NodeRefusal(f"the cohort of {len(cohort)} patients exceeds this node's limit of {cfg.max_cohort}")
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[key] = (cohort, flow)
    return _CACHE[key]


# --- cohort flow ---------------------------------------------------------------------------------

def cohort_counts(proto: Protocol, cohort: pd.DataFrame, flow: pd.DataFrame, cfg: NodeConfig, params: dict) -> dict:
    """Patients remaining after each criterion, and per exposure group. Each is >= the minimum count
    (they only shrink, so the cohort's size bounds them all); excluded counts are their differences."""
    k = cfg.min_count
    require_count(len(cohort), k, "the site's cohort")
    groups = {}
    if proto.exposure is not None:
        for name, n in cohort[C.GROUP].value_counts(sort=False).items():
            groups[str(name)] = require_count(int(n), k, f"exposure group {name!r}")
    return {"flow": [{"step": r.step, "label": r.label, "n_remaining": int(r.n_remaining)}
                     for r in flow.itertuples()],
            "n": int(len(cohort)), "groups": [{"group": g, "n": n} for g, n in groups.items()]}


# --- Kaplan–Meier / log-rank ---------------------------------------------------------------------

def _endpoint_rows(proto: Protocol, cohort: pd.DataFrame, endpoint: str, columns=()) -> pd.DataFrame:
    ep = proto.endpoint(endpoint)
    cols = [ep.time_col, ep.event_col, *columns]
    rows = cohort.dropna(subset=cols)
    return pd.DataFrame({"time": rows[ep.time_col].to_numpy(float), "event": rows[ep.event_col].to_numpy(float),
                         **{c: rows[c].to_numpy() for c in columns}})


def site_times(time: np.ndarray, event: np.ndarray, cfg: NodeConfig, exact: bool, what: str) -> np.ndarray:
    """Exact times (when the request asks for them and the node allows it) or grid times (privacy mode)."""
    if exact:
        if not cfg.exact_times:
            raise NodeRefusal("exact per-time tables were requested; this node allows only its privacy mode "
                              f"(times on a grid of {cfg.time_grid:g})")
        return time
    return grid_times(time, event, cfg.time_grid, cfg.min_count, what)


def km_counts(proto: Protocol, cohort: pd.DataFrame, flow, cfg: NodeConfig, params: dict) -> dict:
    """Per group and distinct time: events and patients leaving the risk set (numbers at risk follow); for a
    competing-risks endpoint also the events of each cause in ``params["causes"]`` (declared by the centre)."""
    by_group = params.get("by_group", True) and proto.exposure is not None
    d = _endpoint_rows(proto, cohort, params["endpoint"], [C.GROUP] if by_group else [])
    k = cfg.min_count
    blocks = []
    for g, rows in (d.groupby(C.GROUP, observed=True, sort=False) if by_group else [("all", d)]):
        require_count(len(rows), k, f"group {g!r} for endpoint {params['endpoint']!r}")
        t = site_times(rows["time"].to_numpy(), rows["event"].to_numpy(), cfg, params.get("exact", False),
                       f"group {g!r} for endpoint {params['endpoint']!r}")
        u, inv = np.unique(t, return_inverse=True)
        code = rows["event"].to_numpy()
        block = {"group": str(g), "n": int(len(rows)), "time": u.tolist(),
                 "events": np.bincount(inv, weights=code > 0, minlength=u.size).astype(int).tolist(),
                 "leaving": np.bincount(inv, minlength=u.size).astype(int).tolist()}
        if proto.endpoint(params["endpoint"]).kind == "competing":
            block["causes"] = params["causes"]
            block["events_by_cause"] = [np.bincount(inv, weights=code == c, minlength=u.size).astype(int).tolist()
                                        for c in params["causes"]]
        blocks.append(block)
    return {"endpoint": params["endpoint"], "exact": bool(params.get("exact", False)), "blocks": blocks}


# --- Cox -----------------------------------------------------------------------------------------

def _term_sources(terms: list[str]) -> list[str]:
    return list(dict.fromkeys(c for s in parse_covariates(terms) for c in s.sources))


def covariate_levels(proto: Protocol, cohort: pd.DataFrame, flow, cfg: NodeConfig, params: dict) -> dict:
    """For each covariate column: 'numeric', or its levels (each held by >= min_count patients here)."""
    d = _endpoint_rows(proto, cohort, params["endpoint"], _term_sources(params["terms"]))
    out = {}
    for col in _term_sources(params["terms"]):
        s = d[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[col] = "numeric"
            continue
        counts = s.astype(str).value_counts()
        for level, n in counts.items():
            require_count(int(n), cfg.min_count, f"level {level!r} of covariate {col!r}")
        out[col] = sorted(counts.index)
    require_count(len(d), cfg.min_count, "the complete cases of the Cox model")
    return {"levels": out, "n": int(len(d))}


def design_for(terms: list[str], levels: dict):
    """The design every site shares: built on a skeleton frame holding the pooled levels (so a level absent
    at one site still gets its column there) — the same coding as the pooled ``om.cox``."""
    m = max([len(v) for v in levels.values() if v != "numeric"] + [2])
    skeleton = pd.DataFrame({c: ([v[i % len(v)] for i in range(m)] if v != "numeric" else np.arange(m, dtype=float))
                             for c, v in levels.items()})
    return build_design(skeleton, parse_covariates(terms))


def _cox_arrays(proto, cohort, params):
    """time, event, design and case weights (1, or the propensity weights of ``params["weighting"]``); kept
    for the next Newton step of the same model (the arrays never leave the site)."""
    import json

    key = ("arrays", id(cohort), params["endpoint"], json.dumps([params["terms"], params["levels"],
                                                                   params.get("weighting")], sort_keys=True))
    if key not in _ARRAYS or _ARRAYS[key][0] is not cohort:   # the cohort is held: its id cannot be reused
        if len(_ARRAYS) > 64:
            _ARRAYS.clear()
        _ARRAYS[key] = (cohort, _build_cox_arrays(proto, cohort, params))
    return _ARRAYS[key][1]


def _build_cox_arrays(proto, cohort, params):
    frame, extra = cohort, []
    if params.get("weighting"):   # the weighted outcome model: the propensity model's complete cases
        from .site_weighting import site_weights

        frame, _, _, wt = site_weights(cohort, params["weighting"])
        frame, extra = frame.assign(_w=wt)[wt > 0], ["_w"]   # matching: the matched rows only
    d = _endpoint_rows(proto, frame, params["endpoint"], list(params["levels"]) + extra)
    for c, v in params["levels"].items():
        if v != "numeric":
            d[c] = d[c].astype(str).astype(object)
    X = design_for(params["terms"], params["levels"]).matrix(d)
    w = d["_w"].to_numpy(dtype=float) if extra else np.ones(len(d))
    return d["time"].to_numpy(), d["event"].to_numpy(), X, w


def cox_site_strata(proto: Protocol, cohort: pd.DataFrame, flow, cfg: NodeConfig, params: dict) -> dict:
    """Log partial likelihood, score and information of this site's stratum at ``beta`` (original scale).
    p + p² + 1 numbers per Newton step: no time and no count below the site's cohort size."""
    key = ("strata", id(cohort), params["endpoint"], tuple(params["terms"]), params.get("ties", "efron"))
    if key not in _CACHE:
        t, ev, X, _ = _cox_arrays(proto, cohort, params)
        require_count(int(ev.sum()), cfg.min_count, f"events of endpoint {params['endpoint']!r}")
        _CACHE[key] = core.prepare(merge_near_ties(t), ev, X, ties=params.get("ties", "efron"))
    pr = _CACHE[key]
    beta = np.asarray(params["beta"], dtype=float)
    ll, u, imat = core.evaluate(pr, beta / pr.scale)
    return {"loglik": float(ll), "score": (u / pr.scale).tolist(),
            "information": (imat / np.outer(pr.scale, pr.scale)).tolist(), "n": int(pr.n),
            "n_events": int(pr.status.sum())}


def cox_shared_baseline(proto: Protocol, cohort: pd.DataFrame, flow, cfg: NodeConfig, params: dict) -> dict:
    """Per distinct time (exact, or the privacy grid): sums over the rows leaving at that time of r, r x and
    r x xᵀ (r = w exp((x - centre)ᵀ beta), w the case weight: 1, or the propensity weight), and the same over its
    events, with the event count and the events' Σw; plus the events' Σ w (x - centre). The centre turns them
    into risk-set sums by reverse cumulative sums over all sites."""
    t, ev, X, w = _cox_arrays(proto, cohort, params)
    require_count(len(t), cfg.min_count, "the complete cases of the Cox model")
    t = site_times(merge_near_ties(t), ev, cfg, params.get("exact", False), f"endpoint {params['endpoint']!r}")
    X = X - np.asarray(params["centre"], dtype=float)
    r = w * np.exp(X @ np.asarray(params["beta"], dtype=float))
    u, inv = np.unique(t, return_inverse=True)
    p = X.shape[1]
    iu = np.triu_indices(p)                         # x xᵀ is symmetric: its upper triangle is sent
    xx = X[:, iu[0]] * X[:, iu[1]]
    events = np.bincount(inv, weights=ev, minlength=u.size)

    def sums(mask):
        v = r * mask
        cols = [np.bincount(inv, weights=v, minlength=u.size)]
        cols += [np.bincount(inv, weights=v * X[:, j], minlength=u.size) for j in range(p)]
        cols += [np.bincount(inv, weights=v * xx[:, j], minlength=u.size) for j in range(xx.shape[1])]
        return np.column_stack(cols)

    out = {"time": u.tolist(), "events": events.astype(int).tolist(),
           "leaving": np.bincount(inv, minlength=u.size).astype(int).tolist(),
           "all": sums(np.ones_like(ev)).tolist(), "dead": sums(ev)[events > 0].tolist(),   # at event times only
           "x_dead": (X * (w * ev)[:, None]).sum(axis=0).tolist()}
    if params.get("weighting"):
        out["w_dead"] = np.bincount(inv, weights=w * ev, minlength=u.size)[events > 0].tolist()
    return out


def covariate_sums(proto: Protocol, cohort: pd.DataFrame, flow, cfg: NodeConfig, params: dict) -> dict:
    """Σ x over the complete cases of a model, and their number (for the pooled centring of the design)."""
    t, ev, X, w = _cox_arrays(proto, cohort, params)
    return {"n": require_count(len(t), cfg.min_count, "the complete cases of the Cox model"),
            "sum": X.sum(axis=0).tolist()}


PARTIALS = {"cohort": cohort_counts, "km": km_counts, "logrank": km_counts, "levels": covariate_levels,
            "means": covariate_sums, "cox_site_strata": cox_site_strata, "cox_shared_baseline": cox_shared_baseline}

__all__ = ["PARTIALS", "SmallCell", "site_cohort"]


# --- Table 1 -------------------------------------------------------------------------------------

def _histogram(x: np.ndarray, width: float, k: int) -> dict:
    """Counts on the grid [j·width, (j+1)·width), adjacent bins merged forward until each holds >= k."""
    j = np.floor(x / width).astype(np.int64)
    u, cnt = np.unique(j, return_counts=True)
    lo, hi, counts, start, pend = [], [], [], 0, 0
    for i in range(u.size):
        pend += int(cnt[i])
        if pend >= k:
            lo.append(float(u[start] * width))
            hi.append(float((u[i] + 1) * width))
            counts.append(pend)
            start, pend = i + 1, 0
    if pend:   # a short upper tail joins the last bin
        if not counts:
            raise SmallCell(f"{x.size} values cannot be binned in cells of at least {k}")
        hi[-1] = float((u[-1] + 1) * width)
        counts[-1] += pend
    return {"lower": lo, "upper": hi, "counts": counts}


def _categorical_sums(s: pd.Series, groups: pd.Series, var: str, k: int) -> dict:
    levels = sorted(s.dropna().astype(str).unique())
    per = []
    for g, sub in s.groupby(groups, sort=False):
        counts = [require_count(int((sub.astype(str) == lv).sum() if sub.notna().any() else 0), k,
                                f"level {lv!r} of {var!r} in group {g!r}") for lv in levels]
        missing = require_count(int(sub.isna().sum()), k, f"missing values of {var!r} in group {g!r}")
        per.append({"group": g, "counts": counts, "missing": [missing]})
    return {"kind": "categorical", "levels": levels, "groups": per}


def _continuous_sums(s: pd.Series, groups: pd.Series, var: str, k: int, width: float) -> dict:
    per = []
    for g, sub in s.groupby(groups, sort=False):
        x = pd.to_numeric(sub, errors="coerce").to_numpy(float)
        ok = x[~np.isnan(x)]
        if ok.size == 0:
            raise SmallCell(f"{var!r} has no value in group {g!r}")
        require_count(int(ok.size), k, f"values of {var!r} in group {g!r}")
        m = float(ok.mean())
        per.append({"group": g, "n": int(ok.size), "mean": m, "m2": float(((ok - m) ** 2).sum()),
                    "m3": float(((ok - m) ** 3).sum()), "integer": bool(np.all(ok == np.round(ok))),
                    "missing": [require_count(int(np.isnan(x).sum()), k, f"missing values of {var!r} in group {g!r}")],
                    "histogram": _histogram(ok, width, k)})
    return {"kind": "continuous", "groups": per}


def table_one_sums(proto: Protocol, cohort: pd.DataFrame, flow, cfg: NodeConfig, params: dict) -> dict:
    """Per variable and exposure group: level counts (categorical) or n, mean, Σ(x − mean)² and a histogram
    on the requested grid (continuous); missing counts. A variable with any cell under the minimum count is
    refused for this site (named in ``suppressed``); the others are sent."""
    from ..describe.table_one import _is_categorical

    k = cfg.min_count
    groups = (cohort[C.GROUP].astype(str) if proto.exposure is not None else
              pd.Series("Overall", index=cohort.index))
    out, suppressed = {}, {}
    for var in params["variables"]:
        s = cohort[var]
        try:
            numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and \
                not isinstance(s.dtype, pd.CategoricalDtype)
            if _is_categorical(s):
                out[var] = _categorical_sums(s, groups, var, k)
            if numeric:   # a numeric 0/1 column is categorical only if it is 0/1 at every site: the centre decides
                cont = _continuous_sums(s, groups, var, k, float(params["bin_width"].get(var, 1.0)))
                out[var] = {**out[var], "continuous": cont} if var in out else cont
        except SmallCell as exc:
            out.pop(var, None)
            suppressed[var] = str(exc)
    return {"variables": out, "suppressed": suppressed}


PARTIALS["table_one"] = table_one_sums


# --- propensity model (logistic regression by IRLS) ----------------------------------------------

def _logistic_design(d: pd.DataFrame, covariates: list[str], levels: dict, centre) -> np.ndarray:
    """R's ``model.matrix(~ covariates)`` as ``matching.propensity.design_matrix`` builds it, but with the
    pooled levels (a level absent here still gets its column), then centred by the pooled means."""
    cols = [np.ones(len(d))]
    for cov in covariates:
        if levels[cov] == "numeric":
            cols.append(d[cov].to_numpy(dtype=float))
        else:
            s = d[cov].astype(str)
            cols += [(s == lv).to_numpy(dtype=float) for lv in levels[cov][1:]]
    X = np.column_stack(cols)
    if centre is not None:
        X[:, 1:] -= np.asarray(centre, dtype=float)
    return X


def logistic_step(proto: Protocol, cohort: pd.DataFrame, flow, cfg: NodeConfig, params: dict) -> dict:
    """One IRLS step of the propensity model (treated = the second exposure group): at the centre's
    coefficients (or glm's starting values when ``beta`` is None), Xᵀ W X, Xᵀ W z and the deviance, summed
    over this site's complete cases. The fitted scores stay here."""
    from ..matching.propensity import _deviance, _linear_predictor, _linkinv, _mu_eta

    d = cohort.dropna(subset=params["covariates"])
    require_count(len(d), cfg.min_count, "the complete cases of the propensity model")
    y = (d[C.GROUP].astype(str) == params["treated"]).to_numpy(dtype=float)
    require_count(int(y.sum()), cfg.min_count, "treated patients")
    require_count(int((1 - y).sum()), cfg.min_count, "untreated patients")
    X = _logistic_design(d, params["covariates"], params["levels"], params.get("centre"))
    if params.get("beta") is None:
        mustart = (y + 0.5) / 2.0
        eta = np.log(mustart / (1 - mustart))
    else:
        eta = _linear_predictor(X, np.asarray(params["beta"], dtype=float))
    mu = _linkinv(eta)
    mu_eta = _mu_eta(eta)
    z = eta + (y - mu) / mu_eta
    w = mu_eta ** 2 / (mu * (1 - mu))
    return {"xtwx": (X.T @ (X * w[:, None])).tolist(), "xtwz": (X.T @ (w * z)).tolist(),
            "deviance": _deviance(y, mu, np.ones(len(y))), "n": int(len(y)), "sum": X[:, 1:].sum(axis=0).tolist()
            if params.get("centre") is None else None}


PARTIALS["logistic"] = logistic_step
