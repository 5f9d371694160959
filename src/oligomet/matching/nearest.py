"""Public :func:`match`: greedy nearest-neighbour propensity-score matching (MatchIt parity)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .balance import balance_table, covariate_matrix
from .distance import fit_propensity, prepare, resolve_distance
from .greedy import REASON_DISCARDED, PairFilter, greedy_match, treated_order
from .mahalanobis import mahalanobis_coordinates, mahalanobis_match
from .optimal import optimal_match
from .subclass import subclassify
from .result import MatchResult
from .._validation import require_choice

_ORDERS = ("largest", "smallest", "random", "data", "closest", "farthest")
_DISCARD = ("none", "both", "control", "treated")
_METHODS = ("nearest", "subclass", "optimal")


# complexity: MatchIt's one front door: option checks, then dispatch by method
def match(data: pd.DataFrame, treatment: str, covariates, method: str = "nearest", distance="glm",  # noqa: C901
          caliper: float | dict | None = None, std_caliper: bool | dict = True, ratio: int = 1,
          replace: bool = False, order: str | None = None, exact=None, mahvars=None, antiexact=None,
          discard: str = "none",
          reuse_max: int | None = None, seed: int | None = None, link: str | None = None,
          compat: str | None = None, subclass: int = 6, min_n: int = 1, estimand: str = "ATT") -> MatchResult:
    """Greedy nearest-neighbour matching on the propensity score, as MatchIt 4.7.2.

    Reproduces ``MatchIt::matchit(treat ~ covariates, method = "nearest", distance = "glm",
    caliper = caliper, std.caliper = std_caliper, ratio = ratio, replace = replace,
    m.order = order, exact = ~ exact, antiexact = ~ antiexact, discard = discard,
    reuse.max = reuse_max)`` with estimand ATT: the same propensity scores (R's ``glm``, to
    ~1e-10), the same pairs in the same order (MatchIt's walk and tie rule, see
    :mod:`oligomet.matching.greedy`), the same weights and ``summary(standardize = TRUE)``
    balance statistics.

    Parameters
    ----------
    data : DataFrame
        One row per patient; the index labels identify rows in :attr:`MatchResult.pairs`.
    treatment : str
        Column coded 1 = treated, 0 = control (or True/False).
    covariates : list of str
        Propensity-model terms (numeric, bool, or categorical: R's treatment contrasts).
    method : "nearest" | "optimal" | "subclass"
        Greedy nearest-neighbour matching; optimal 1:``ratio`` matching that minimises the total
        distance (MatchIt's ``method = "optimal"``, see :mod:`oligomet.matching.optimal`); or
        subclassification on the distance (``method = "subclass"``, see
        :mod:`oligomet.matching.subclass`).
    distance : "glm" | "linear.logit" | array-like
        "glm": logistic regression. With ``link="linear.logit"`` (or
        ``distance="linear.logit"``) matching and the caliper use the logit of the score.
        An array aligned to ``data`` (or Series with its index) is used as the distance as is.
    caliper : float or dict, optional
        Maximum allowed |distance difference|. With ``std_caliper=True`` (MatchIt's default)
        it is in SD units of the distance: multiplied by ``sd(distance)`` over the analysed
        rows that are not discarded (R's ``sd``, n - 1; not a pooled SD). 0.2 with
        ``link="linear.logit"`` is Austin's "0.2 SD of the logit". A dict adds calipers on
        numeric covariates, as MatchIt's named caliper vector: ``{"distance": 0.2, "age": 5}``
        (a pair is allowed only if every named variable differs by at most its width).
    std_caliper : bool or dict
        Whether each caliper is in SD units (one value for all, or a dict keyed as ``caliper``).
    ratio : int
        Controls per treated unit (k rounds: every treated unit gets its 1st match, then 2nd...).
    replace : bool
        Match with replacement. As in MatchIt, the order then does not matter and
        ``order`` is ignored (MatchIt forces ``m.order = "data"``).
    order : "largest" | "smallest" | "random" | "data" | "closest" | "farthest"
        Order in which treated units choose (MatchIt's ``m.order``); ties in the distance
        keep the data order. "closest" takes the pairs with the smallest distance first
        (re-matching a unit whose nearest control was taken meanwhile), "farthest" the largest. "random" uses
        ``numpy.random.default_rng(seed)``, so the pairs cannot equal R's for the same seed (different generators).
    exact : str or list of str, optional
        Match only within strata of these columns.
    antiexact : str or list of str, optional
        Match only pairs that differ on each of these columns (MatchIt's ``antiexact``), e.g.
        never a control from the treated unit's own hospital.
    discard : "none" | "both" | "control" | "treated"
        Drop units outside the common support of the distance before matching (MatchIt's
        ``discard``): "both" keeps units within the overlap of the two groups' ranges,
        "control" drops controls outside the treated range, "treated" the reverse. Discarded
        units get weight 0 and are counted in :attr:`MatchResult.summary` as "Discarded".
    reuse_max : int, optional
        How often one control may be used (MatchIt's ``reuse.max``). Default 1 without
        replacement; ``replace=True`` means unlimited. Values from the number of treated units
        on are matching with replacement.
    seed : int, optional
        Seed for ``order="random"``.
    link : "logit" | "linear.logit", optional
        With ``distance="glm"``: match on the probability (default) or on its logit.
    subclass, min_n, estimand : int, int, "ATT" | "ATC" | "ATE"
        ``method="subclass"`` only: the number of subclasses, the minimum number of treated and
        of control units in each, and the estimand that sets the quantiles and the weights.
    compat : None | "matchit-4.5.1"
        ``None`` (default) gives MatchIt's documented algorithm, identical to MatchIt >= 4.5.4.
        ``"matchit-4.5.1"`` reproduces a bug of MatchIt 4.5.0-4.5.3 builds that call the C
        integer ``abs()`` on distance differences (MatchIt issue #163): the caliper on a
        propensity score is then ignored (differences < 1 truncate to 0) and each treated
        unit takes the nearest available control *below* it whenever one exists. Debian's
        MatchIt 4.5.1 package has this bug; use the option only to reproduce numbers produced
        with such a build, never for new analyses. (4.5.1's other
        nearest-neighbour bug, an off-by-one lookup with ``replace=True, ratio > 1``, is not
        reproduced.)

    Rows with a missing treatment, covariate or exact variable are dropped (complete cases;
    a :class:`~oligomet.CompleteCaseWarning` is issued and :attr:`MatchResult.dropped` says
    which). The treatment must be binary with both groups present. A constant covariate
    gets an NA coefficient (as R) and a warning; covariates that separate the groups, and
    fitted probabilities of 0 or 1, give a warning as R's ``glm`` does.
    """
    what = "match"
    require_choice("method", method, _METHODS)
    unsupported = {"subclass": dict(caliper=caliper, exact=exact, antiexact=antiexact, ratio=ratio != 1,
                                    replace=replace, reuse_max=reuse_max, compat=compat),
                   "optimal": dict(caliper=caliper, antiexact=antiexact, replace=replace, reuse_max=reuse_max,
                                   compat=compat)}.get(method, {})
    given = [k for k, v in unsupported.items() if v not in (None, False, [])]
    if given:
        raise ValueError(f"method={method!r} does not take {', '.join(given)} (as MatchIt)")
    if estimand not in ("ATT", "ATC", "ATE") or (estimand != "ATT" and method != "subclass"):
        raise ValueError(f"estimand {estimand!r}: nearest-neighbour and optimal matching estimate the ATT; "
                         f"method='subclass' also takes 'ATC' and 'ATE'")
    kind = resolve_distance(distance, link)
    full_mahalanobis = kind == "mahalanobis"
    if order is None:  # MatchIt's default: by the propensity score, largest first; in data order without one
        order = "data" if full_mahalanobis else "largest"
    mah_cols = [mahvars] if isinstance(mahvars, str) else list(mahvars or [])
    if full_mahalanobis or mah_cols:
        _check_mahalanobis(method, order, discard, caliper, full_mahalanobis, mah_cols)
    require_choice("order", order, _ORDERS)
    if isinstance(ratio, bool) or int(ratio) != ratio or ratio < 1:
        raise ValueError(f"ratio must be a positive integer; got {ratio!r}")
    ratio = int(ratio)
    if compat not in (None, "matchit-4.5.1"):
        raise ValueError(f"compat must be None or 'matchit-4.5.1'; got {compat!r}")
    if compat is not None and (order in ("closest", "farthest") or reuse_max is not None or antiexact is not None
                               or discard != "none" or isinstance(caliper, dict)):
        raise ValueError("compat='matchit-4.5.1' reproduces that release's plain nearest-neighbour walk only; "
                         "order 'closest'/'farthest', reuse_max, antiexact, discard and covariate calipers came later")
    require_choice("discard", discard, _DISCARD)
    if reuse_max is not None and (isinstance(reuse_max, bool) or int(reuse_max) != reuse_max or reuse_max < 1):
        raise ValueError(f"reuse_max must be a positive integer (or None); got {reuse_max!r}")
    dist_caliper, cov_calipers = _split_calipers(caliper)
    std_dist, std_cov = _split_std(std_caliper, cov_calipers)
    exact_cols = [exact] if isinstance(exact, str) else list(exact or [])
    anti_cols = [antiexact] if isinstance(antiexact, str) else list(antiexact or [])
    frame, t, dropped, covariates = prepare(data, treatment, covariates,
                                            [*exact_cols, *anti_cols, *cov_calipers, *mah_cols], what)

    if full_mahalanobis:  # no propensity model, as MatchIt's distance = "mahalanobis"
        fit, ps, dist = None, np.full(len(t), np.nan), np.full(len(t), np.nan)
    else:
        fit = fit_propensity(frame, t, covariates)
        ps = fit.fitted
        dist = (_user_distance(distance, data, frame) if kind == "user" else
                fit.linear_predictor if kind == "linear.logit" else ps)

    n1 = int(t.sum())
    if reuse_max is None:
        reuse_max = n1 if replace else 1
    with_replacement = reuse_max >= n1  # MatchIt then matches in data order
    eligible = _common_support(dist, t, discard)
    settings = dict(method=method, distance=distance if isinstance(distance, str) else "user", link=kind,
                    caliper=caliper, std_caliper=std_caliper, ratio=ratio, replace=with_replacement, order=order,
                    exact=exact_cols, antiexact=anti_cols, discard=discard, reuse_max=int(reuse_max), seed=seed,
                    compat=compat, estimand=estimand)
    if method == "subclass":
        sub, w, cuts = subclassify(dist, t, eligible, int(subclass), int(min_n), estimand)
        settings.update(subclass=int(subclass), min_n=int(min_n), cuts=cuts.tolist())
        reasons = {int(p): (REASON_DISCARDED if not eligible[p] else "subclass without controls")
                   for p in np.flatnonzero((t == 1) & (w == 0))}
        empty = pd.DataFrame({"treated": frame.index[:0], "control": frame.index[:0],
                              "subclass": np.zeros(0, np.int64), "round": np.zeros(0, np.int64)})
        return assemble(frame, t, covariates, [*exact_cols, *anti_cols], ps, dist, w, sub, empty, reasons, None,
                        fit, dropped, treatment, settings, ~eligible, {}, estimand)
    cal = None
    if dist_caliper is not None and len(np.unique(dist)) > 1:  # MatchIt ignores a caliper on a constant distance
        cal = float(dist_caliper) * (float(np.std(dist[eligible], ddof=1)) if std_dist else 1.0)
    pair_filter = _pair_filter(frame, anti_cols, cov_calipers, std_cov, eligible)

    strata = None
    if exact_cols:
        strata = frame[exact_cols].astype(str).agg("\x1f".join, axis=1).to_numpy() if len(exact_cols) > 1 \
            else frame[exact_cols[0]].astype(str).to_numpy()
        _warn_small_strata(strata, t, ratio, with_replacement)
    elif not with_replacement:
        n1, n0 = int(t.sum()), int(len(t) - t.sum())
        if n0 < n1:
            warnings.warn("Fewer control units than treated units; not all treated units will get a match.",
                          UserWarning, stacklevel=2)
        elif n0 < ratio * n1:
            warnings.warn(f"Not all treated units will get {ratio} matches.", UserWarning, stacklevel=2)

    if method == "optimal":
        mm, reasons = optimal_match(dist, t, ratio, strata, eligible)
        return _build_result(frame, t, covariates, exact_cols, ps, dist, mm, reasons, None, fit, dropped, treatment,
                             settings, ~eligible, {})
    rng = np.random.default_rng(seed) if order == "random" else None
    t_order = treated_order(dist, t, "data" if with_replacement else order, rng)
    if full_mahalanobis or mah_cols:
        coords = mahalanobis_coordinates(frame, mah_cols or covariates, t, ~eligible)
        mm, reasons = mahalanobis_match(coords, t, t_order, ratio, reuse_max, eligible, strata,
                                        None if full_mahalanobis else dist, cal, pair_filter)
        settings["mahvars"] = mah_cols or covariates
        return _build_result(frame, t, covariates, [*exact_cols, *mah_cols, *cov_calipers, *anti_cols], ps,
                             None if full_mahalanobis else dist, mm, reasons, cal, fit, dropped, treatment, settings,
                             ~eligible, {} if pair_filter is None or pair_filter.caliper_x is None else
                             dict(zip(cov_calipers, pair_filter.caliper_width.tolist())))
    mm, reasons = greedy_match(dist, t, t_order, ratio, with_replacement, cal, strata,
                               int_abs=compat == "matchit-4.5.1", reuse_max=reuse_max, eligible=eligible,
                               pair_filter=pair_filter, order=order)
    balance_vars = [*exact_cols, *cov_calipers, *anti_cols]  # MatchIt's X: covs, exact, caliper, antiexact
    return _build_result(frame, t, covariates, balance_vars, ps, dist, mm, reasons, cal, fit, dropped, treatment,
                         settings, ~eligible,
                         {} if pair_filter is None or pair_filter.caliper_x is None else
                         dict(zip(cov_calipers, pair_filter.caliper_width.tolist())))


def _check_mahalanobis(method, order, discard, caliper, full, mah_cols) -> None:
    if method != "nearest":
        raise ValueError(f"Mahalanobis matching (distance='mahalanobis' or mahvars=) is nearest-neighbour only; "
                         f"got method={method!r}")
    if full and mah_cols:
        raise ValueError("give either distance='mahalanobis' (all covariates) or mahvars= with a propensity score")
    if order in ("closest", "farthest"):
        raise ValueError(f"order={order!r} is not available with Mahalanobis matching")
    if full and order in ("largest", "smallest"):
        raise ValueError(f"order={order!r} needs a propensity score; distance='mahalanobis' has none (use 'data' "
                         f"or 'random')")
    if full and discard != "none":
        raise ValueError("discard needs a propensity score; distance='mahalanobis' has none")
    if full and caliper is not None and not isinstance(caliper, dict):
        raise ValueError("distance='mahalanobis' has no propensity score to put a caliper on; give calipers on "
                         "covariates as a dict, or use mahvars= with distance='glm'")


def _split_calipers(caliper) -> tuple[float | None, dict[str, float]]:
    """A number, or MatchIt's named caliper vector as a dict ("distance" = the distance's caliper)."""
    if caliper is None:
        return None, {}
    items = dict(caliper) if isinstance(caliper, (dict, pd.Series)) else {"distance": caliper}
    for name, width in items.items():
        if isinstance(width, bool) or not isinstance(width, (int, float, np.integer, np.floating)) or \
                not np.isfinite(width) or width <= 0:
            raise ValueError(f"caliper must be a positive number (for {name!r}); got {width!r}")
    dist_cal = items.pop("distance", None)
    return (None if dist_cal is None else float(dist_cal)), {k: float(v) for k, v in items.items()}


def _split_std(std_caliper, cov_calipers: dict[str, float]) -> tuple[bool, dict[str, bool]]:
    if isinstance(std_caliper, dict):
        unknown = set(std_caliper) - {"distance", *cov_calipers}
        if unknown:
            raise ValueError(f"std_caliper names {sorted(unknown)} that have no caliper")
        return bool(std_caliper.get("distance", True)), {k: bool(std_caliper.get(k, True)) for k in cov_calipers}
    return bool(std_caliper), {k: bool(std_caliper) for k in cov_calipers}


def _common_support(dist: np.ndarray, t: np.ndarray, discard: str) -> np.ndarray:
    """MatchIt's ``discard``: the rows kept (True) for matching."""
    if discard == "none":
        return np.ones(len(dist), dtype=bool)
    d1, d0 = dist[t == 1], dist[t == 0]
    if discard == "both":
        out = (dist < max(d0.min(), d1.min())) | (dist > min(d0.max(), d1.max()))
    elif discard == "control":
        out = (t == 0) & ((dist < d1.min()) | (dist > d1.max()))
    else:
        out = (t == 1) & ((dist < d0.min()) | (dist > d0.max()))
    keep = ~out
    if not keep[t == 1].any() or not keep[t == 0].any():
        raise ValueError(f"discard={discard!r} leaves no treated or no control unit: the groups' distances do "
                         f"not overlap")
    return keep


def _pair_filter(frame, anti_cols, cov_calipers, std_cov, eligible) -> PairFilter | None:
    if not anti_cols and not cov_calipers:
        return None
    anti = None
    if anti_cols:
        for c in anti_cols:
            if frame[c].nunique() < 2:
                raise ValueError(f"antiexact: column {c!r} has a single value, so no pair can differ on it")
        anti = np.column_stack([pd.factorize(frame[c])[0] for c in anti_cols])
    cx = widths = None
    if cov_calipers:
        cols = []
        for c in cov_calipers:
            s = frame[c]
            if not pd.api.types.is_numeric_dtype(s) or s.dtype == bool:
                raise ValueError(f"caliper on {c!r}: calipers need a numeric variable (MatchIt refuses factor or "
                                 f"character ones); use exact= for categories")
            cols.append(s.to_numpy(dtype=float))
        cx = np.column_stack(cols)
        widths = np.array([w * (float(np.std(cx[eligible, j], ddof=1)) if std_cov[c] else 1.0)
                           for j, (c, w) in enumerate(cov_calipers.items())])
    return PairFilter(anti, cx, widths)


def _user_distance(distance, data: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    if isinstance(distance, pd.Series):
        d = distance.reindex(frame.index)
    else:
        arr = np.asarray(distance, dtype=float)
        if arr.shape != (len(data),):
            raise ValueError(f"distance array has shape {arr.shape}; expected ({len(data)},), one value per row")
        d = pd.Series(arr, index=data.index).reindex(frame.index)
    v = d.to_numpy(dtype=float)
    if not np.isfinite(v).all():
        raise ValueError("user-supplied distance has missing or non-finite values at the analysed rows")
    return v


def _warn_small_strata(strata, t, ratio, replace):
    if replace:
        return
    df = pd.DataFrame({"s": strata, "t": t})
    counts = df.groupby("s")["t"].agg(["sum", "count"])
    n1, n0 = counts["sum"], counts["count"] - counts["sum"]
    has_t = n1 > 0
    if not (n0[has_t] > 0).any():
        raise ValueError("exact: no stratum holds both treated and control rows; no matches are possible")
    if (n0[has_t] < n1[has_t]).any():
        warnings.warn("Fewer control units than treated units in some 'exact' strata; not all treated units "
                      "will get a match.", UserWarning, stacklevel=3)
    if ratio > 1 and (n0[has_t] < ratio * n1[has_t]).any():
        warnings.warn(f"Not all treated units will get {ratio} matches.", UserWarning, stacklevel=3)


def _build_result(frame, t, covariates, balance_vars, ps, dist, mm, reasons, cal, fit, dropped, treatment, settings,
                  discarded, covariate_calipers):
    idx = frame.index
    n = len(frame)
    t_pos = np.flatnonzero(t == 1)
    n_matches = (mm[t_pos] >= 0).sum(axis=1)
    # MatchIt's weights_matrixC: treated 1; each control gets 1/k_i from every treated i it serves,
    # then controls are rescaled to sum to the number of distinct matched controls.
    w = np.zeros(n)
    matched_t = t_pos[n_matches > 0]
    w[matched_t] = 1.0
    rows_r, cols_r = np.nonzero(mm[t_pos] >= 0)
    ctrl = mm[t_pos][rows_r, cols_r]
    np.add.at(w, ctrl, 1.0 / n_matches[rows_r])
    cw = w[t == 0]
    if cw.sum() > 0:
        w[t == 0] = cw * (cw > 0).sum() / cw.sum()
    if not matched_t.size:
        raise ValueError("match: no treated unit could be matched (check the caliper and exact variables)")

    # subclass = matched set of each treated unit, numbered in data order of the treated rows
    sub_of_t = np.zeros(n, dtype=np.int64)
    sub_of_t[matched_t] = np.arange(1, len(matched_t) + 1)
    treated_pos = t_pos[rows_r]
    pairs = pd.DataFrame({"treated": idx[treated_pos], "control": idx[ctrl],
                          "subclass": sub_of_t[treated_pos], "round": cols_r + 1})
    pairs = pairs.sort_values(["subclass", "round"], kind="stable").reset_index(drop=True)
    if settings["reuse_max"] > 1:  # MatchIt: no matched sets once a control can serve several
        sub = None
    else:
        sub = sub_of_t.copy()
        sub[ctrl] = sub_of_t[treated_pos]
    unmatched_pos = t_pos[n_matches == 0]
    return assemble(frame, t, covariates, balance_vars, ps, dist, w, sub, pairs,
                    {int(p): reasons.get(int(p), "no match") for p in unmatched_pos}, cal, fit, dropped, treatment,
                    settings, discarded, covariate_calipers, "ATT")


def assemble(frame, t, covariates, balance_vars, ps, dist, w, sub, pairs, reasons, cal, fit, dropped, treatment,
             settings, discarded, covariate_calipers, estimand) -> MatchResult:
    """The :class:`MatchResult` of any method, from its weights and subclasses (``sub``: 0 = none, or None)."""
    idx = frame.index
    md = frame.loc[w > 0].copy()
    md["subclass"] = pd.array([pd.NA] * len(md), dtype="Int64") if sub is None else \
        pd.array(np.where(sub[w > 0] > 0, sub[w > 0], 0), dtype="Int64")
    md["weights"] = w[w > 0]
    unmatched_pos = sorted(reasons)
    unmatched = pd.DataFrame({"propensity": ps[unmatched_pos], "reason": [reasons[p] for p in unmatched_pos]},
                             index=idx[unmatched_pos])
    X = covariate_matrix(frame, list(dict.fromkeys([*covariates, *balance_vars])))
    bal = balance_table(X, t, w, estimand, distance=dist)
    return MatchResult(propensity=pd.Series(ps, index=idx, name="propensity"),
                       distance=pd.Series(np.full(len(idx), np.nan) if dist is None else dist, index=idx,
                                          name="distance"), pairs=pairs, matched_data=md,
                       weights=pd.Series(w, index=idx, name="weights"), balance=bal, unmatched=unmatched,
                       summary=_sample_sizes(t, w, discarded), caliper=cal, model=fit, dropped=dropped,
                       treatment=treatment, settings=settings, covariate_calipers=covariate_calipers)


def _ess(w: np.ndarray) -> float:
    s2 = np.sum(w ** 2)
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


def _sample_sizes(t: np.ndarray, w: np.ndarray, discarded: np.ndarray) -> pd.DataFrame:
    """MatchIt's ``summary(m)$nn`` ("Sample Sizes")."""
    rows = {}
    for g, name in ((0, "control"), (1, "treated")):
        wg, dg = w[t == g], discarded[t == g]
        rows[name] = {"All": float((t == g).sum()), "Matched (ESS)": _ess(wg), "Matched": float((wg > 0).sum()),
                      "Unmatched": float(((wg == 0) & ~dg).sum()), "Discarded": float(dg.sum())}
    out = pd.DataFrame(rows)
    out.index.name = "sample"
    return out
