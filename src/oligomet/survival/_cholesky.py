"""R's ``cholesky2`` / ``chsolve2`` / ``chinv2`` (survival's C code) with the same singularity rules.

LDLᵀ with a relative singularity tolerance. Written with NumPy row operations; p is small (tens), so a
Python loop over p pivots costs microseconds. We keep R's rules (which pivots count as singular, zero
rows/columns in the inverse) so that rank decisions match R.
"""
from __future__ import annotations

import numpy as np

TOLER_CHOL = float(np.finfo(float).eps) ** 0.75   # R: coxph.control(toler.chol) = .Machine$double.eps^0.75


def ldl_factor(a: np.ndarray, toler: float = TOLER_CHOL) -> tuple[np.ndarray, int]:
    """LDLᵀ of a symmetric matrix as R's ``cholesky2``: returns (packed factor, rank).

    The factor holds D on the diagonal and L (unit lower) below; a pivot smaller
    than ``toler × max(diag)`` (or non-finite) is set to 0 and that column is left
    out of the elimination (R's behaviour for a redundant column). A negative rank
    means the matrix is not non-negative definite.
    """
    m = np.array(a, dtype=float, copy=True)
    p = m.shape[0]
    m[np.tril_indices(p, -1)] = m.T[np.tril_indices(p, -1)]   # use the upper triangle, as R does
    diag = np.diag(m)
    big = np.max(diag[np.isfinite(diag)], initial=0.0)
    if big <= 0:
        np.fill_diagonal(m, 0.0)
        return m, 0
    tol = big * toler
    rank, nonneg = 0, 1
    for i in range(p):
        piv = m[i, i]
        if not np.isfinite(piv) or piv < tol:
            m[i, i] = 0.0
            if piv < -8 * tol:
                nonneg = -1
            continue
        rank += 1
        if i + 1 < p:
            col = m[i + 1:, i] / piv
            m[i + 1:, i] = col
            # lower triangle of the trailing block: m[k, j] -= col[k] * col[j] * piv  (k >= j)
            m[i + 1:, i + 1:] -= np.tril(np.outer(col, col * piv))
    return m, rank * nonneg


def ldl_solve(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Solve with a factor from :func:`ldl_factor` (R's ``chsolve2``; singular pivots give 0)."""
    y = np.array(y, dtype=float, copy=True)
    p = f.shape[0]
    for i in range(p):
        y[i] -= f[i, :i] @ y[:i]
    for i in range(p - 1, -1, -1):
        if f[i, i] == 0:
            y[i] = 0.0
        else:
            y[i] = y[i] / f[i, i] - f[i + 1:, i] @ y[i + 1:]
    return y


def ldl_inverse(f: np.ndarray) -> np.ndarray:
    """Inverse from a factor (R's ``chinv2``): rows/columns of singular pivots are 0."""
    p = f.shape[0]
    ok = np.diag(f) > 0
    out = np.zeros((p, p))
    if not ok.any():
        return out
    idx = np.flatnonzero(ok)
    # R's elimination skips singular columns entirely, so the factor restricted to the non-singular
    # columns is the LDLᵀ of the corresponding sub-matrix; invert that.
    low = np.tril(f[np.ix_(idx, idx)], -1) + np.eye(idx.size)
    d = np.diag(f)[idx]
    linv = np.linalg.solve(low, np.eye(idx.size))
    out[np.ix_(idx, idx)] = (linv.T / d) @ linv
    return out


def wald_statistic(var: np.ndarray, b: np.ndarray, toler: float = TOLER_CHOL) -> float:
    """R's ``coxph.wtest(var, b)$test``: ``bᵀ var⁻¹ b`` through the same Cholesky."""
    f, _ = ldl_factor(var, toler)
    return float(b @ ldl_solve(f, b))
