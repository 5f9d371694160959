"""Robust (sandwich) variance for the Cox model, as R's ``coxph(..., robust = TRUE)`` / ``cluster()``.

R computes ``D = residuals(fit, type = "dfbeta", weighted = TRUE, collapse = cluster)``,
i.e. case-weighted score residuals times the model-based variance, summed within
clusters, and uses ``Dᵀ D``. Without a cluster each row is its own cluster. The
robust score test (``fit$rscore``, printed by ``summary`` as "Robust") uses the
weighted score residuals at beta = 0, collapsed the same way.
"""
from __future__ import annotations

import numpy as np

from . import _cox_kernels as kernels
from ._cholesky import wald_statistic
from ._cox_core import CoxProblem, _seg_cumsum, group_sums


def _collapsed_gram(rows: np.ndarray, cluster_sorted: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``Dᵀ D`` and the column sums of D, with D the rows summed within clusters (or the rows themselves)."""
    if cluster_sorted is not None:
        g = int(cluster_sorted.max()) + 1 if cluster_sorted.size else 0
        sums = np.zeros((g, rows.shape[1]))
        kernels.sum_rows_by_code(rows, np.ascontiguousarray(cluster_sorted, dtype=np.int64), sums)
        rows = sums
    return rows.T @ rows, rows.sum(axis=0)


def _sorted_codes(pr: CoxProblem, cluster: np.ndarray | None) -> np.ndarray | None:
    return None if cluster is None else np.asarray(cluster)[pr.order]


def weighted_score_residuals(pr: CoxProblem, coef: np.ndarray) -> np.ndarray:
    """Case-weighted score residuals in original row order (R's ``weighted = TRUE``)."""
    res = score_residuals_sorted(pr, coef, weighted=True)
    out = np.empty_like(res)
    out[pr.order] = res
    return out


def robust_variance(pr: CoxProblem, coef: np.ndarray, var: np.ndarray,
                    cluster: np.ndarray | None = None) -> np.ndarray:
    """``Dᵀ D`` with D the (cluster-collapsed) weighted dfbeta residuals ``U var``: ``var (Uᵀ U) var``.

    ``cluster`` holds integer codes in the original row order (the problem's rows are sorted).
    """
    gram, _ = _collapsed_gram(score_residuals_sorted(pr, coef, weighted=True), _sorted_codes(pr, cluster))
    return var @ gram @ var


def robust_score_test(pr: CoxProblem, cluster: np.ndarray | None = None) -> float:
    """R's ``fit$rscore``: the score test at beta = 0 with the robust (sandwich) variance of the score."""
    gram, u = _collapsed_gram(score_residuals_sorted(pr, np.zeros(pr.p), weighted=True), _sorted_codes(pr, cluster))
    return wald_statistic(gram, u)


def score_residuals_sorted(pr: CoxProblem, coef: np.ndarray, weighted: bool = False) -> np.ndarray:
    """Score residuals (R's ``residuals(fit, type = "score")``, coxscore2.c), rows in the problem's sorted order.

    ``coef`` is on the original covariate scale; the result is (n, p) on the original scale, multiplied by the
    case weights when ``weighted``. For row j (δ_j = death, g = its last event time, s_j = exp(η_j)):

        res_j = δ_j (x_j − m̄_g) − s_j (x_j H_j − M_j) + δ_j s_j (x_j b_g − E_g)

    with H the cumulative Σ a_k, M the cumulative Σ (S1 q0 − e1 q1) (for (start, stop] rows, from the row's
    entry on: H_j − H_entry, M_j − M_entry), m̄_g = (S1 a − e1 b)/deadwt the
    deaths' own mean and E_g = S1 q1 − e1 q2 Efron's partial removal of the deaths from later terms. That is
    ``x_j α_j + s_j (M_j − δ_j E_g) − δ_j m̄_g`` with one scalar α_j per row, formed row by row in one compiled pass.
    """
    gs = group_sums(pr, np.asarray(coef, dtype=float))  # X in the problem is centred, not scaled
    p, K = pr.p, pr.K
    H = np.zeros(K + 1)
    H[:K] = _seg_cumsum(gs.a, pr.group_bounds)
    B = np.append(gs.b, 0.0)
    M = np.zeros((K + 1, p))
    M[:K] = _seg_cumsum(gs.S1 * gs.q0[:, None] - gs.e1 * gs.q1[:, None], pr.group_bounds)
    E = np.zeros((K + 1, p))
    E[:K] = gs.S1 * gs.q1[:, None] - gs.e1 * gs.q2[:, None]
    own = np.zeros((K + 1, p))
    own[:K] = (gs.S1 * gs.a[:, None] - gs.e1 * gs.b[:, None]) / pr.gdw[:, None]
    rg, d, sc = pr.row_group, pr.status, gs.score
    # (start, stop] rows: only the events after entry count, so the cumulative sums are differences
    entry = np.full(pr.n, K, dtype=np.int64) if pr.entry_group is None else pr.entry_group
    alpha = d * (1.0 + sc * B[rg]) - sc * (H[rg] - H[entry])
    out = np.empty_like(pr.X)
    kernels.score_residual_rows(pr.X, alpha, sc, d, pr.w if weighted else np.ones(pr.n), rg, entry, M, E, own, out)
    return out
