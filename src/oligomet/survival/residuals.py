"""Residuals of a fitted Cox model, as R's ``residuals.coxph`` (survival 3.5-3).

Types (R's names): ``martingale``, ``deviance``, ``score``, ``schoenfeld``, ``scaledsch``, ``dfbeta`` and
``dfbetas``, for right-censored and (start, stop] data, with strata, case weights, Efron or Breslow ties.

R's conventions, kept exactly:

* martingale, deviance, score and Schoenfeld residuals are **unweighted** by default (``weighted=False``);
  ``dfbeta`` and ``dfbetas`` are multiplied by the case weights (``weighted=True``), which is what the
  robust variance sums. The case weights always enter the risk sets.
* ``dfbeta = score %*% naive.var``; ``dfbetas = dfbeta / sqrt(diag(naive.var))`` (the model-based variance,
  also for robust fits).
* Schoenfeld residuals exist at the events only, ordered as R orders them: by stratum, time, and input
  order among tied events. ``scaledsch = schoenfeld %*% naive.var * (number of events) + coef``.
* one knowing departure: Schoenfeld residuals with ``weighted=True`` are multiplied by each event's own
  case weight. R 3.5-3 multiplies by ``weights[deaths]``, the weights in the data's order picked at the
  deaths' positions in the *sorted* order, so its weighted Schoenfeld residuals depend on the row order of
  the data (therneau/survival#339). The two agree when the data are sorted by (stratum, time, status).
* ``collapse``: the rows are summed within the groups of an id (R's ``rowsum``; groups in sorted order).
  Deviance residuals are formed after collapsing, from the summed martingale residuals and event counts.

Every type is computed from the fit's sorted problem (``_cox_core.CoxProblem``) at the fitted beta with one
pass over the design for the risk-set sums and, for the score types, one compiled pass for the rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import _cox_kernels as kernels
from ._blas_threads import single_threaded_blas
from ._cox_core import CoxProblem, GroupSums, _seg_cumsum, group_sums
from .._validation import require_choice

if TYPE_CHECKING:  # pragma: no cover
    from .cox import CoxResult

__all__ = ["cox_residuals", "RESIDUAL_TYPES"]

RESIDUAL_TYPES = ("martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas")


@dataclass
class _RowPieces:
    """Per-row and per-event-time quantities at one beta, rows in the problem's sorted order."""

    gs: GroupSums
    H: np.ndarray            # (K + 1,) cumulative Σ a per stratum (Efron hazard increments), 0 appended
    B: np.ndarray            # (K + 1,) Efron's b (the deaths' partial increment), 0 appended
    group: np.ndarray        # (n,) last event time at or before the row's time (K: none)
    entry: np.ndarray        # (n,) last event time at or before the row's entry (K: none / not counting process)
    martingale: np.ndarray   # (n,) δ − exp(η) Λ_j


def _row_pieces(pr: CoxProblem, coef: np.ndarray) -> _RowPieces:
    """The cumulative hazard each row has accrued and its martingale residual ``δ − exp(η) Λ``.

    Λ_j = H_g − δ_j b_g − H_e: the hazard increments from its entry to its time, where a death takes only
    Efron's share ``Σ_l (1 − f_l) w̄ / D_l`` of its own time's increment (R's ``coxmart``/``agmart``)."""
    gs = group_sums(pr, np.asarray(coef, dtype=float))  # X in the problem is centred, not scaled
    K = pr.K
    H = np.zeros(K + 1)
    H[:K] = _seg_cumsum(gs.a, pr.group_bounds)
    B = np.append(gs.b, 0.0)
    rg = pr.row_group
    entry = np.full(pr.n, K, dtype=np.int64) if pr.entry_group is None else pr.entry_group
    d, sc = pr.status, gs.score
    mart = d - sc * (H[rg] - d * B[rg] - H[entry])
    return _RowPieces(gs=gs, H=H, B=B, group=rg, entry=entry, martingale=mart)


def _deaths_mean(pr: CoxProblem, gs: GroupSums) -> np.ndarray:
    """(K, p) the risk-set mean of x at each event time, averaged over Efron's d steps:
    ``(1/d) Σ_l (S1 − f_l e1)/(S0 − f_l e) = (S1 a − e1 b) / deadwt`` (Breslow: S1/S0)."""
    return (gs.S1 * gs.a[:, None] - gs.e1 * gs.b[:, None]) / pr.gdw[:, None]


def score_residuals_sorted(pr: CoxProblem, coef: np.ndarray, weighted: bool = False,
                           pieces: _RowPieces | None = None) -> np.ndarray:
    """Score residuals (R's ``residuals(fit, type = "score")``, coxscore2.c / agscore2.c), sorted rows.

    ``coef`` is on the original covariate scale; the result is (n, p) on the original scale, multiplied by the
    case weights when ``weighted``. For row j (δ_j = death, g = its last event time, s_j = exp(η_j)):

        res_j = δ_j (x_j − m̄_g) − s_j (x_j H_j − M_j) + δ_j s_j (x_j b_g − E_g)

    with H the cumulative Σ a_k, M the cumulative Σ (S1 q0 − e1 q1) (for (start, stop] rows, from the row's
    entry on: H_j − H_entry, M_j − M_entry), m̄_g = (S1 a − e1 b)/deadwt the
    deaths' own mean and E_g = S1 q1 − e1 q2 Efron's partial removal of the deaths from later terms. That is
    ``x_j m_j + s_j (M_j − δ_j E_g) − δ_j m̄_g`` with m_j the row's martingale residual, formed row by row in
    one compiled pass.
    """
    pc = _row_pieces(pr, coef) if pieces is None else pieces
    gs = pc.gs
    p, K = pr.p, pr.K
    M = np.zeros((K + 1, p))
    M[:K] = _seg_cumsum(gs.S1 * gs.q0[:, None] - gs.e1 * gs.q1[:, None], pr.group_bounds)
    E = np.zeros((K + 1, p))
    E[:K] = gs.S1 * gs.q1[:, None] - gs.e1 * gs.q2[:, None]
    own = np.zeros((K + 1, p))
    own[:K] = _deaths_mean(pr, gs)
    out = np.empty_like(pr.X)
    kernels.score_residual_rows(pr.X, pc.martingale, gs.score, pr.status, pr.w if weighted else np.ones(pr.n),
                                pc.group, pc.entry, M, E, own, out)
    return out


def schoenfeld_sorted(pr: CoxProblem, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Schoenfeld residuals ``x_j − x̄(t_j)`` of the deaths (R's coxscho.c), in sorted order.

    Returns the deaths' sorted positions and the residuals transposed, (p, n_events) C-contiguous (the
    layout of a DataFrame's columns). The sorted order is R's: (stratum, time, deaths first), input order
    kept among ties."""
    gs = group_sums(pr, np.asarray(coef, dtype=float))
    rows = np.flatnonzero(pr.status > 0)
    out_t = np.empty((pr.p, rows.size))
    kernels.rows_minus_group_transposed(pr.X, rows, _deaths_mean(pr, gs), pr.row_group[rows], out_t)
    return rows, out_t


def _unsort(pr: CoxProblem, values: np.ndarray) -> np.ndarray:
    """Sorted per-row values back in the analysed order; (n, p) rows come back transposed, (p, n)."""
    if values.ndim == 1:
        out = np.empty_like(values)
        out[pr.order] = values
        return out
    pos = np.empty(pr.n, dtype=np.int64)
    pos[pr.order] = np.arange(pr.n)
    out_t = np.empty((values.shape[1], pr.n))
    kernels.gather_rows_transposed(values, pos, out_t)
    return out_t


def _strata_labels(fit: "CoxResult") -> np.ndarray:
    """R's labels of the strata, ``"sex=1"`` or ``"sex=1, ecog=0"``, indexed by the fit's stratum codes."""
    def value(key):
        kind, v = key
        if kind == "n":
            return str(int(v)) if float(v).is_integer() else repr(v)
        return str(v).upper() if kind == "b" else v

    labels = [", ".join(f"{col}={value(k)}" for col, k in zip(fit.strata_columns, keys))
              for keys in fit._strata_levels]
    return np.asarray(labels, dtype=object)


def _collapse_codes(collapse, index: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Integer group codes per analysed row (in the analysed order) and the sorted group labels.

    A Series is aligned on the data's index (so ``data["id"]`` works when rows were dropped); anything else
    must have one value per analysed row, as R requires."""
    n = len(index)
    if isinstance(collapse, pd.Series):
        missing = ~index.isin(collapse.index)
        if missing.any():
            raise ValueError(f"collapse: the Series has no value for {int(missing.sum())} analysed row(s), "
                             f"e.g. index {index[missing][0]!r}; pass the id column of the fitted data")
        values = collapse.loc[index]
        name = collapse.name
    else:
        values = pd.Series(np.asarray(collapse).ravel())
        name = None
        if len(values) != n:
            raise ValueError(f"collapse has {len(values)} values but the model analysed {n} rows "
                             "(R: \"Wrong length for 'collapse'\"); pass one id per analysed row or a Series "
                             "indexed like the data")
    if values.isna().any():
        raise ValueError(f"collapse has missing ids at {int(values.isna().sum())} analysed row(s)")
    codes, labels = pd.factorize(values.to_numpy(), sort=True)
    return codes, pd.Index(labels, name=name if name is not None else "collapse")


def _sum_by(codes: np.ndarray, values: np.ndarray, groups: int) -> np.ndarray:
    """R's ``rowsum``: values (n,) or (n, p) summed per group code."""
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=groups)
    out = np.zeros((groups, values.shape[1]))
    kernels.sum_rows_by_code(np.ascontiguousarray(values), codes.astype(np.int64), out)
    return out


def _deviance(mart: np.ndarray, status: np.ndarray) -> np.ndarray:
    """``sign(m) sqrt(−2 (m + δ log(δ − m)))``; δ may be a count after collapsing."""
    with np.errstate(divide="ignore", invalid="ignore"):   # NaN where R gives NaN (collapsed counts > 1)
        log_term = np.where(status == 0, 0.0, status * np.log(np.where(status == 0, 1.0, status - mart)))
        return np.sign(mart) * np.sqrt(-2.0 * (mart + log_term))


def cox_residuals(fit: "CoxResult", type: str = "martingale", collapse=None,
                  weighted: bool | None = None) -> pd.DataFrame:
    """Residuals of a fitted Cox model as a tidy DataFrame (R's ``residuals(fit, type=, collapse=, weighted=)``).

    Rows are keyed by the data's index of the analysed rows (or by the sorted ``collapse`` ids). Columns:
    the type's name for ``martingale``/``deviance``; one column per term for ``score``/``dfbeta``/``dfbetas``.
    ``schoenfeld``/``scaledsch``: one row per event, ordered as R's (stratum, time, input order), indexed by
    the event row's label, with columns ``time``, ``strata`` (stratified fits only) and one per term;
    ``collapse`` does not apply to them (as R).
    """
    require_choice("type", type, RESIDUAL_TYPES)
    if weighted is None:
        weighted = type in ("dfbeta", "dfbetas")
    pr = fit._residual_problem()
    with single_threaded_blas():   # small products on n-sized arrays: worker threads only contend (see fit)
        return _residual_frame(fit, pr, type, collapse, weighted)


def _residual_frame(fit: "CoxResult", pr: CoxProblem, type: str, collapse, weighted: bool) -> pd.DataFrame:
    coef = fit.coef
    names = pd.Index(fit.terms)
    index = fit._row_index if fit._row_index is not None else pd.RangeIndex(fit.n)
    w = pr.w                                     # sorted case weights (ones when unweighted)

    if type in ("schoenfeld", "scaledsch"):
        if collapse is not None:
            raise ValueError("collapse does not apply to Schoenfeld residuals (one row per event, as R)")
        rows, res_t = schoenfeld_sorted(pr, coef)
        if weighted:
            res_t *= w[rows]
        if type == "scaledsch":
            res_t = fit.naive_var.to_numpy().T @ res_t
            res_t *= rows.size
            res_t += coef[:, None]
        original = pr.order[rows]
        out = pd.DataFrame(res_t.T, columns=names, index=index[original], copy=False)
        out.insert(0, "time", pr.time[rows])
        if fit._strata is not None:
            out.insert(1, "strata", _strata_labels(fit)[fit._strata[original]])
        return out

    if type in ("martingale", "deviance"):
        values = _unsort(pr, _row_pieces(pr, coef).martingale)
        if weighted:
            values = values * _unsort(pr, w)
    else:
        res = score_residuals_sorted(pr, coef, weighted=weighted)
        if type != "score":
            vv = fit.naive_var.to_numpy()
            res = res @ vv
            if type == "dfbetas":
                res /= np.sqrt(np.diag(vv))
        values = _unsort(pr, res).T                  # (n, p) view of column-contiguous data

    row_index = index
    status = fit._event
    if collapse is not None:
        codes, row_index = _collapse_codes(collapse, index)
        values = _sum_by(codes, values, len(row_index))
        status = _sum_by(codes, np.asarray(status, dtype=float), len(row_index))
    if type == "deviance":
        values = _deviance(values, np.asarray(status, dtype=float))
    if values.ndim == 1:
        return pd.DataFrame({type: values}, index=row_index)
    return pd.DataFrame(values, index=row_index, columns=names, copy=False)
