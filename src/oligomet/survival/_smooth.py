"""Scatterplot smoothers of R's residual plots: ``lowess`` (R's ``stats::lowess``, Cleveland 1979) and the
natural-spline regression that ``plot.cox.zph`` draws (``splines::ns(df = 4, intercept = TRUE)`` with a
pointwise ± 2 SE band). Written from the published algorithms and R's documented behaviour."""
from __future__ import annotations

import numba as nb
import numpy as np
from scipy import linalg
from scipy.interpolate import BSpline


@nb.njit(cache=True)
def _local_fit(x, y, xs, nleft, nright, w, use_rw, rw):  # pragma: no cover - compiled
    """Tricube-weighted local line at ``xs`` over rows nleft..nright (and ties beyond); NaN if all weights 0."""
    n = x.size
    span = x[n - 1] - x[0]
    h = max(xs - x[nleft], x[nright] - xs)
    h9, h1 = 0.999 * h, 0.001 * h
    a = 0.0
    j = nleft
    while j < n:
        w[j] = 0.0
        r = abs(x[j] - xs)
        if r <= h9:
            w[j] = 1.0 if r <= h1 else (1.0 - (r / h) ** 3) ** 3
            if use_rw:
                w[j] *= rw[j]
            a += w[j]
        elif x[j] > xs:
            break
        j += 1
    nrt = j - 1
    if a <= 0.0:
        return np.nan
    for j in range(nleft, nrt + 1):
        w[j] /= a
    if h > 0.0:
        a = 0.0
        for j in range(nleft, nrt + 1):
            a += w[j] * x[j]
        b = xs - a
        c = 0.0
        for j in range(nleft, nrt + 1):
            c += w[j] * (x[j] - a) ** 2
        if np.sqrt(c) > 0.001 * span:
            b /= c
            for j in range(nleft, nrt + 1):
                w[j] *= b * (x[j] - a) + 1.0
    ys = 0.0
    for j in range(nleft, nrt + 1):
        ys += w[j] * y[j]
    return ys


@nb.njit(cache=True)
def _lowess_sorted(x, y, f, iterations, delta):  # pragma: no cover - compiled
    n = x.size
    ns = max(min(int(f * n + 1e-7), n), 2)
    ys = np.empty(n)
    rw = np.ones(n)
    w = np.empty(n)
    res = np.empty(n)
    for it in range(iterations + 1):
        nleft, nright, last, i = 0, ns - 1, -1, 0
        while True:
            if nright < n - 1 and x[i] - x[nleft] > x[nright + 1] - x[i]:   # slide the window right
                nleft += 1
                nright += 1
                continue
            v = _local_fit(x, y, x[i], nleft, nright, w, it > 0, rw)
            ys[i] = y[i] if np.isnan(v) else v
            if last < i - 1:                                 # points skipped within delta: interpolate
                denom = x[i] - x[last]
                for j in range(last + 1, i):
                    alpha = (x[j] - x[last]) / denom
                    ys[j] = alpha * ys[i] + (1.0 - alpha) * ys[last]
            last = i
            cut = x[last] + delta
            i = last + 1
            while i < n:
                if x[i] > cut:
                    break
                if x[i] == x[last]:
                    ys[i] = ys[last]
                    last = i
                i += 1
            i = max(last + 1, i - 1)
            if last >= n - 1:
                break
        for k in range(n):
            res[k] = y[k] - ys[k]
        sc = np.mean(np.abs(res))
        if it == iterations:
            break
        r = np.sort(np.abs(res))
        m1 = n // 2
        cmad = 3.0 * (r[m1] + r[n - m1 - 1]) if n % 2 == 0 else 6.0 * r[m1]   # 6 × median |residual|
        if cmad < 1e-7 * sc:
            break
        c9, c1 = 0.999 * cmad, 0.001 * cmad
        for k in range(n):
            a = abs(res[k])
            rw[k] = 1.0 if a <= c1 else 0.0 if a > c9 else (1.0 - (a / cmad) ** 2) ** 2
    return ys


def lowess(x, y, f: float = 2 / 3, iterations: int = 3, delta: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """R's ``lowess(x, y, f, iter, delta)``: the sorted x and the smoothed values (ties in x kept).

    ``f`` is the share of points in each local fit, ``iterations`` the robustifying passes, ``delta``
    (default 1 % of the range of x) the distance within which the fit is interpolated instead of computed."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.size != y.size:
        raise ValueError(f"lowess: x has {x.size} values but y has {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.all():
        raise ValueError(f"lowess: {int((~ok).sum())} non-finite value(s) in x or y")
    o = np.argsort(x, kind="stable")
    xs, ysrc = x[o], y[o]
    if xs.size < 2:
        return xs, ysrc.copy()
    if delta is None:
        delta = 0.01 * (xs[-1] - xs[0])
    return xs, _lowess_sorted(xs, ysrc, float(f), int(iterations), float(delta))


def natural_spline_basis(x: np.ndarray, df: int) -> np.ndarray:
    """A basis of R's ``ns(x, df, intercept = TRUE)`` space: cubic splines with ``df − 2`` interior knots at
    the quantiles of x, linear beyond the boundary knots (second derivative 0 there). Spans the same space
    as R's basis, so fits and their standard errors agree with R's; the columns themselves differ."""
    x = np.asarray(x, dtype=float)
    lo, hi = float(x.min()), float(x.max())
    inner = np.quantile(x, np.linspace(0, 1, df)[1:-1])      # R: quantile(type 7) at 1/(df-1), ...
    knots = np.concatenate([[lo] * 4, inner, [hi] * 4])
    nb_ = knots.size - 4
    B = BSpline.design_matrix(np.clip(x, lo, hi), knots, 3).toarray()
    curv = BSpline(knots, np.eye(nb_), 3).derivative(2)(np.array([lo, hi]))    # (2, nb_)
    null = linalg.null_space(curv)                             # (nb_, df): the natural-spline subspace
    return B @ null


def spline_smooth(x, y, var: float, df: int = 4, nsmo: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``plot.cox.zph``'s smooth: least-squares natural spline of y on x at ``nsmo`` equally spaced points,
    and the half-width ``2 sqrt(var × p'(X'X)⁻¹p)`` of its band. Knots come from the grid and x together,
    as R's. Returns (grid, fit, half_width)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    grid = np.linspace(x.min(), x.max(), nsmo)
    basis = natural_spline_basis(np.concatenate([grid, x]), df)
    P, X = basis[:nsmo], basis[nsmo:]
    keep = np.isfinite(y)
    q, r = linalg.qr(X[keep], mode="economic")
    if np.linalg.matrix_rank(r) < df:
        raise ValueError(f"spline fit is singular (R: 'spline fit is singular'); try a smaller df than {df}")
    coef = linalg.solve_triangular(r, q.T @ y[keep])
    pr = linalg.solve_triangular(r, P.T, trans="T")          # R⁻ᵀ pᵀ: its column norms give p'(X'X)⁻¹p
    return grid, P @ coef, 2.0 * np.sqrt(var * np.sum(pr * pr, axis=0))
