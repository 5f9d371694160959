"""Robust (sandwich) variance for the Cox model, as R's ``coxph(..., robust = TRUE)`` / ``cluster()``.

R computes ``D = residuals(fit, type = "dfbeta", weighted = TRUE, collapse = cluster)``,
i.e. case-weighted score residuals times the model-based variance, summed within
clusters, and uses ``Dᵀ D``. Without a cluster each row is its own cluster. The
robust score test (``fit$rscore``, printed by ``summary`` as "Robust") uses the
weighted score residuals at beta = 0, collapsed the same way.
"""
from __future__ import annotations

import numpy as np

from ._cox_core import CoxProblem, score_residuals, wald_statistic


def _weights_original_order(pr: CoxProblem) -> np.ndarray:
    w = np.empty_like(pr.w)
    w[pr.order] = pr.w
    return w


def _collapse(rows: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    if cluster is None:
        return rows
    codes = np.asarray(cluster)
    g = int(codes.max()) + 1 if codes.size else 0
    # one bincount per column: p passes over n, no Python loop over rows
    return np.column_stack([np.bincount(codes, rows[:, j], g) for j in range(rows.shape[1])])


def weighted_score_residuals(pr: CoxProblem, coef: np.ndarray) -> np.ndarray:
    return score_residuals(pr, coef) * _weights_original_order(pr)[:, None]


def robust_variance(pr: CoxProblem, coef: np.ndarray, var: np.ndarray,
                    cluster: np.ndarray | None = None) -> np.ndarray:
    """``Dᵀ D`` with D the (cluster-collapsed) weighted dfbeta residuals; rows in original order."""
    dfbeta = _collapse(weighted_score_residuals(pr, coef), cluster) @ var
    return dfbeta.T @ dfbeta


def robust_score_test(pr: CoxProblem, cluster: np.ndarray | None = None) -> float:
    """R's ``fit$rscore``: the score test at beta = 0 with the robust (sandwich) variance of the score."""
    t0 = _collapse(weighted_score_residuals(pr, np.zeros(pr.p)), cluster)
    u = t0.sum(axis=0)
    return wald_statistic(t0.T @ t0, u)
