"""Site side of propensity-score weighting and of the complications table.

After the federated propensity model (``site.logistic_step``), the centre sends the fitted coefficients;
each site scores its own complete cases and forms the weights of ``om.weight`` (IPTW for ATE/ATT,
overlap weights for ATO) locally. The weights never leave the site; what leaves:

* ``weighting``: per treatment group the number of patients, Σw, Σw² and the smallest and largest weight
  and propensity score (the effective sample size, the report's overlap check); per balance column
  (MatchIt's: numeric as is, one 0/1 column per factor level, and the score itself) Σx and Σx², unweighted
  and weighted, whether the column is 0/1 here; and per outcome endpoint and group, per distinct time
  (exact, or the privacy grid), the events and patients leaving with their weight sums Σw and Σw² (the
  weighted Kaplan–Meier and its infinitesimal-jackknife SE need nothing else);
* ``complications``: per exposure group the patients per worst Clavien–Dindo grade and, for each yes/no
  measure (grade ≥ III, 90-day mortality, the protocol's extras), the patients with it and with it known.

Matching across sites would need every patient's score at one place: it is not offered (see
``docs/federated.md``); matching within each site is the federated alternative.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..study import cohort as C
from .disclosure import SmallCell, require_count
from .node import NodeRefusal
from .site import PARTIALS, _endpoint_rows, _logistic_design, site_times


def site_weights(cohort: pd.DataFrame, w: dict) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """This site's complete cases of the propensity model, treatment (0/1), score and weight: ``om.weight``'s
    weights for an estimand, or, with ``w["match"]``, MatchIt's matching weights of a matching *within this
    site* on the federated score (0 = unmatched; the matched sets are kept for the cluster-robust SE)."""
    from ..matching.propensity import _linear_predictor, _linkinv

    d = cohort.dropna(subset=w["covariates"])
    t = (d[C.GROUP].astype(str) == w["treated"]).to_numpy(dtype=np.int64)
    X = _logistic_design(d, w["covariates"], w["levels"], None)
    e = _linkinv(_linear_predictor(X, np.asarray(w["coef"], dtype=float)))
    if w.get("match"):
        return _match_here(d, t, e, w)
    est = w["estimand"]
    if est == "ATE":
        wt = np.where(t == 1, 1.0 / e, 1.0 / (1.0 - e))
    elif est == "ATT":
        wt = np.where(t == 1, 1.0, e / (1.0 - e))
    else:   # ATO: overlap weights
        wt = np.where(t == 1, 1.0 - e, e)
    return d, t, e, wt


_MATCHED: dict = {}


def _match_here(d: pd.DataFrame, t: np.ndarray, e: np.ndarray, w: dict):
    """``om.match`` of this site's patients on the federated score (caliper in SD of this site's score);
    the matched-set ids go into the frame's ``_set`` column (-1: unmatched or matched with replacement)."""
    import json

    import oligomet as om

    key = (id(d), json.dumps(w, sort_keys=True))
    if key not in _MATCHED or _MATCHED[key][0] is not d:
        if len(_MATCHED) > 16:
            _MATCHED.clear()
        opts = w["match"]
        m = om.match(d.assign(_t=t), treatment="_t", covariates=w["covariates"], distance=e,
                     caliper=opts.get("caliper"), ratio=opts.get("ratio", 1), replace=opts.get("replace", False),
                     order=opts.get("order", "largest"), seed=opts.get("seed"))
        wt = m.weights.reindex(d.index).fillna(0.0).to_numpy(dtype=float)
        sets = m.matched_data["subclass"].reindex(d.index) if "subclass" in m.matched_data else None
        codes = (pd.to_numeric(sets, errors="coerce").fillna(-1).to_numpy(dtype=np.int64) if sets is not None
                 else np.full(len(d), -1))
        _MATCHED[key] = (d, d.assign(_set=codes), wt)
    _, frame, wt = _MATCHED[key]
    return frame, t, e, wt


def balance_columns(d: pd.DataFrame, covariates: list[str], levels: dict) -> dict[str, np.ndarray]:
    """MatchIt's balance columns (``matching.balance.covariate_matrix``) with the pooled levels."""
    cols = {}
    for cov in covariates:
        if levels[cov] == "numeric":
            cols[cov] = d[cov].to_numpy(dtype=float)
        else:
            s = d[cov].astype(str)
            for lv in levels[cov]:
                cols[f"{cov}{lv}"] = (s == lv).to_numpy(dtype=float)
    return cols


def _moments(x: np.ndarray, w: np.ndarray) -> list[float]:
    return [float(x.sum()), float((x * x).sum()), float((w * x).sum()), float((w * x * x).sum())]


def weighting_sums(proto, cohort, flow, cfg, params) -> dict:
    """See the module doc: group sizes and weight sums, balance moments, weighted per-time tables."""
    w = params["weighting"]
    d, t, e, wt = site_weights(cohort, w)
    k = cfg.min_count
    groups = {}
    for g, name in ((0, "control"), (1, "treated")):
        m = t == g
        groups[name] = {"n": require_count(int(m.sum()), k, f"{name} patients of the propensity model"),
                        "n_matched": require_count(int((wt[m] > 0).sum()), k, f"matched {name} patients"),
                        "sum_w": float(wt[m].sum()), "sum_w2": float((wt[m] ** 2).sum()),
                        "max_w": float(wt[m].max()), "min_ps": float(e[m].min()), "max_ps": float(e[m].max())}
    balance = {}
    cols = {"distance": e, **balance_columns(d, w["covariates"], w["levels"])}
    for name, x in cols.items():
        balance[name] = {"binary": bool(np.all((x == 0) | (x == 1))),
                         "control": _moments(x[t == 0], wt[t == 0]), "treated": _moments(x[t == 1], wt[t == 1])}
    km = {}
    for ep in params.get("endpoints", []):
        rows = _endpoint_rows(proto, d.assign(_w=wt)[wt > 0], ep, [C.GROUP, "_w"])   # matching: the matched
        blocks = []
        for g, r in rows.groupby(C.GROUP, observed=True, sort=False):
            what = f"group {g!r} for weighted endpoint {ep!r}"
            require_count(len(r), k, what)
            tt = site_times(r["time"].to_numpy(), r["event"].to_numpy(), cfg, params.get("exact", False), what)
            u, inv = np.unique(tt, return_inverse=True)
            ev = (r["event"].to_numpy() > 0).astype(float)
            ww = r["_w"].to_numpy(dtype=float)

            def per_time(v, inv=inv, size=u.size):
                return np.bincount(inv, weights=v, minlength=size).tolist()

            blocks.append({"group": str(g), "n": int(len(r)), "time": u.tolist(),
                           "events": np.bincount(inv, weights=ev, minlength=u.size).astype(int).tolist(),
                           "leaving": np.bincount(inv, minlength=u.size).astype(int).tolist(),
                           "w_event": per_time(ww * ev), "w2_event": per_time(ww * ww * ev),
                           "w_censor": per_time(ww * (1 - ev)), "w2_censor": per_time(ww * ww * (1 - ev))})
        km[ep] = blocks
    return {"n": require_count(len(d), k, "the complete cases of the propensity model"), "groups": groups,
            "balance": balance, "km": km}


def _complication_table(proto, cohort, binaries: list[str]) -> tuple[list[str], list[int]]:
    """The complications table as (layout, counts): per group, patients, per grade, per yes/no measure the
    patients with it and with it known."""
    from ..study.analyses.complications import GRADES

    parts = [("All", cohort)]
    if proto.exposure is not None:
        parts += [(g.name, cohort[cohort[C.GROUP] == g.name]) for g in proto.exposure.groups]
    layout, counts = [], []
    for name, part in parts:
        grade = part["worst_clavien_dindo"].astype(object)
        layout.append(f"{name}|n")
        counts.append(len(part))
        for gr in (*GRADES, "none"):
            layout.append(f"{name}|grades|{gr}")
            counts.append(int((grade == gr).sum()))
        layout.append(f"{name}|grades|unknown")
        counts.append(int(grade.isna().sum()))
        for col in binaries:
            v = part[col].astype("Float64")
            known = v.notna()
            layout += [f"{name}|{col}|n", f"{name}|{col}|n_known"]
            counts += [int((v[known] == 1).sum()), int(known.sum())]
    return layout, counts


def complication_counts(proto, cohort, flow, cfg, params) -> dict:
    """The complications table (``_complication_table``). With a ``ring`` and this node's federation key: the
    whole table as a secure-sum share (``masked``; see :mod:`.secure_sum`), so that the centre learns only
    the totals over the sites, exactly. Without: the counts in the clear, an item holding a count between 1
    and ``min_count - 1`` (a group's grade distribution, or one measure) withheld and named in ``suppressed``."""
    layout, counts = _complication_table(proto, cohort, params["binaries"])
    if params.get("ring"):
        if cfg.federation_key is None:
            raise NodeRefusal("a secure sum was requested; this node has no federation_key")
        from .secure_sum import mask

        return {"layout": layout, "masked": mask(counts, cfg.federation_key, params["nonce"], params["ring"],
                                                 cfg.site)}
    k = cfg.min_count
    flat = dict(zip(layout, counts))
    out, suppressed = {}, {}
    for name in dict.fromkeys(key.split("|")[0] for key in layout):
        e = {"n": require_count(flat[f"{name}|n"], k, f"group {name!r}")}
        grades = {key.split("|")[2]: v for key, v in flat.items() if key.startswith(f"{name}|grades|")}
        try:
            e["grades"] = {gr: require_count(v, k, f"grade {gr} in group {name!r}") for gr, v in grades.items()}
        except SmallCell as exc:
            suppressed[f"grades {name}"] = str(exc)
        for col in params["binaries"]:
            try:
                e[col] = {"n": require_count(flat[f"{name}|{col}|n"], k, f"{col} in group {name!r}"),
                          "n_known": require_count(flat[f"{name}|{col}|n_known"], k, f"known {col} in group {name!r}")}
            except SmallCell as exc:
                suppressed[f"{col} {name}"] = str(exc)
        out[name] = e
    return {"groups": out, "suppressed": suppressed}


def unflatten_complications(layout: list[str], totals: list[int]) -> dict:
    """The centre's totals back into the per-group structure of a clear-text message."""
    out: dict = {}
    for key, v in zip(layout, totals):
        parts = key.split("|")
        node = out.setdefault(parts[0], {})
        for p in parts[1:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return {"groups": out, "suppressed": {}}


def cox_robust_gram(proto, cohort, flow, cfg, params) -> dict:
    """Σ_j (w_j res_j)(w_j res_j)ᵀ over this site's rows: the middle of the sandwich (R's robust variance,
    ``Dᵀ D`` = V (Σ U_j U_jᵀ) V). p × p numbers; the residuals themselves stay here."""
    from ..survival._ties import merge_near_ties
    from .site import _cox_arrays

    t, ev, X, w = _cox_arrays(proto, cohort, params)
    require_count(len(t), cfg.min_count, "the complete cases of the Cox model")
    t = site_times(merge_near_ties(t), ev, cfg, params.get("exact", False), f"endpoint {params['endpoint']!r}")
    pc = params["pieces"]
    X = X - np.asarray(params["centre"], dtype=float)
    s = np.exp(X @ np.asarray(params["beta"], dtype=float))
    g = np.searchsorted(np.asarray(pc["time"], dtype=float), t, side="right") - 1   # -1: before any event
    p = X.shape[1]

    def at(name, width):
        v = np.asarray(pc[name], dtype=float).reshape(-1, width) if width else np.asarray(pc[name], dtype=float)
        pad = np.zeros((1, width)) if width else np.zeros(1)
        return np.concatenate([v, pad])[g]           # index -1 picks the zero row
    H, b, mbar, E, M = at("H", 0), at("b", 0), at("mbar", p), at("E", p), at("M", p)
    dl = ev[:, None]
    res = dl * (X - mbar) - s[:, None] * (X * H[:, None] - M) + dl * s[:, None] * (X * b[:, None] - E)
    res *= w[:, None]
    sets = _cox_sets(proto, cohort, params)
    if sets is not None:   # matching within the site: the residuals of a matched set are summed (cluster)
        own = sets < 0
        codes = np.unique(sets[~own], return_inverse=True)[1]
        res = np.vstack([res[own], np.stack([np.bincount(codes, weights=res[~own, j], minlength=codes.max() + 1)
                                             for j in range(p)], axis=1) if (~own).any() else np.zeros((0, p))])
    return {"gram": (res.T @ res).tolist()}


def _cox_sets(proto, cohort, params):
    """The matched-set id of each row of the Cox model (within-site matching), else None."""
    if not (params.get("weighting") or {}).get("match"):
        return None
    frame, _, _, wt = site_weights(cohort, params["weighting"])
    if params["weighting"]["match"].get("replace"):
        return None
    d = _endpoint_rows(proto, frame[wt > 0], params["endpoint"], list(params["levels"]) + ["_set"])
    return d["_set"].to_numpy(dtype=np.int64)


def outside_support(proto, cohort, flow, cfg, params) -> dict:
    """Patients whose score lies outside the pooled common support [lo, hi] (0 or >= the minimum count)."""
    _, _, e, _ = site_weights(cohort, params["weighting"])
    lo, hi = params["support"]
    outside = int(np.sum((e < lo) | (e > hi)))
    if params.get("ring"):   # a secure-sum share of (outside, n): exact whatever the count
        if cfg.federation_key is None:
            raise NodeRefusal("a secure sum was requested; this node has no federation_key")
        from .secure_sum import mask

        return {"masked": mask([outside, len(e)], cfg.federation_key, params["nonce"], params["ring"], cfg.site)}
    return {"n": int(len(e)), "count": require_count(outside, cfg.min_count, "patients outside the common support")}


PARTIALS["cox_robust"] = cox_robust_gram
PARTIALS["support"] = outside_support
PARTIALS["weighting"] = weighting_sums
PARTIALS["complications"] = complication_counts
