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
from ._cox_core import CoxProblem
from .residuals import score_residuals_sorted  # the score residuals are shared with residuals(fit)


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
