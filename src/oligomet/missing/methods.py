"""Univariate imputation methods, the algorithms of R's mice 3.15 (``mice.impute.pmm``, ``.logreg``, ``.polyreg``).

Each method receives the target ``y`` (float values, or integer level codes 0..K-1 for a factor), the rows
``ry`` whose value is observed and usable for fitting, the rows ``wy`` to impute, the predictor matrix ``x``
(all rows, no intercept column; its columns already screened by :func:`remove_lindep`) and a NumPy
``Generator``, and returns the imputed values for the ``wy`` rows.

What mice does, step for step (the random number streams differ from R's, so single draws are not R's):

* ``pmm``: mice's ``.norm.draw`` draws (beta*, sigma*) from the posterior of a Bayesian linear regression
  with a flat prior (least squares by QR; sigma* = sqrt(RSS / chi2(df)), df = max(n_obs - p, 1);
  beta* = beta_hat + chol((X'X)^-1)' z sigma*), then type-1 matching: observed rows are predicted with
  beta_hat, missing rows with beta*, and each missing row takes the observed value of one of its
  ``donors`` (5) nearest donors, drawn at random (``matchindex``: ties among donors broken by a random
  shuffle).
* ``logreg``: the data are augmented (mice's ``augment``: 2 p K pseudo-rows at each predictor's mean
  +- half its SD, weight (p + 1) / (2 p K) in total, against perfect prediction), a weighted logistic
  regression is fitted by R's ``glm.fit`` (:func:`oligomet.matching.propensity.fit_logistic`), beta* is
  drawn from N(beta_hat, (X'WX)^-1) and y = 1 where a uniform draw is <= expit(x beta*).
* ``polyreg``: the same augmentation, then a multinomial logit fitted by maximum likelihood (mice calls
  ``nnet::multinom``; here Newton-Raphson), and each missing row is drawn from its predicted category
  probabilities. As in mice, no parameter draw is made for ``polyreg``.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from ..matching.propensity import PropensityWarning, fit_logistic

DONORS = 5
RIDGE = 1e-5
LINDEP_EPS = 1e-4       # remove.lindep's eps
LINDEP_MAXCOR = 0.99    # remove.lindep's maxcor
MAX_CATEGORIES = 50     # augment's maxcat


class ImputationWarning(UserWarning):
    """An imputation model was degenerate (e.g. a ridge penalty was needed, or the logistic fit separated)."""


# ---------------------------------------------------------------- predictor screening (mice's remove.lindep)

def remove_lindep(xobs: np.ndarray, yobs: np.ndarray) -> tuple[np.ndarray, str]:
    """Columns of ``xobs`` kept for the imputation model, and why others were removed ('' if none).

    mice's ``remove.lindep``: if the observed target hardly varies (variance < 1e-4) no predictor is
    used; otherwise predictors with variance <= 1e-4 or a correlation >= 0.99 with the target are
    dropped, then, while the smallest eigenvalue of the predictors' correlation matrix is below 1e-4
    times the largest, the predictor loading most on the smallest eigenvector is dropped.
    """
    p = xobs.shape[1]
    if p == 0 or xobs.shape[0] == 0:
        return np.ones(p, dtype=bool), ""
    if _var(yobs) < LINDEP_EPS:
        return np.zeros(p, dtype=bool), "the observed values hardly vary (variance < 1e-4): no predictors used"
    xvar = _var_columns(xobs)
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = xobs - xobs.mean(axis=0)
        yc = yobs - yobs.mean()
        cor = (xc.T @ yc) / np.sqrt((xc * xc).sum(axis=0) * (yc @ yc))
    keep = (xvar > LINDEP_EPS) & (cor < LINDEP_MAXCOR)   # NaN comparisons are False, as R's NA -> FALSE
    reasons = []
    if (xvar <= LINDEP_EPS).any():
        reasons.append("constant (variance <= 1e-4)")
    if (cor >= LINDEP_MAXCOR).any():
        reasons.append("correlation >= 0.99 with the target")
    k = int(keep.sum())
    if k > 1:
        kept = np.flatnonzero(keep)
        cx = np.corrcoef(xobs[:, kept], rowvar=False)
        vals, vecs = np.linalg.eigh(cx)            # ascending; R's eigen() is descending
        active = list(range(k))
        while k > 1 and vals[0] / vals[-1] < LINDEP_EPS:
            drop = int(np.argmax(np.abs(vecs[:, 0])))
            keep[kept[active[drop]]] = False
            del active[drop]
            k -= 1
            vals, vecs = np.linalg.eigh(cx[np.ix_(active, active)])
            reasons.append("linearly dependent on other predictors")
    return keep, "; ".join(dict.fromkeys(reasons))


def _var(v: np.ndarray) -> float:
    return float(np.var(v, ddof=1)) if v.size > 1 else float("nan")


def _var_columns(x: np.ndarray) -> np.ndarray:
    return np.var(x, axis=0, ddof=1) if x.shape[0] > 1 else np.full(x.shape[1], np.nan)


# ---------------------------------------------------------------- pmm

def norm_draw(x1: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """mice's ``.norm.draw`` on the fitting rows: (beta_hat, beta*, ridge_used). ``x1`` has the intercept.

    Least squares by QR as ``lm.fit``; an aliased column (mice: NA coefficient) gets coefficient 0, and
    when X'X cannot be inverted mice's ridge (1e-5 times its diagonal) is added, as ``estimice`` does.
    """
    n, p = x1.shape
    df = max(n - p, 1)
    q, r = np.linalg.qr(x1)
    diag = np.abs(np.diag(r))
    norms = np.linalg.norm(x1, axis=0)
    ok = diag >= 1e-7 * np.where(norms > 0, norms, 1.0)
    ridge = False
    if ok.all():
        rinv = _triangular_inverse(r)
        coef = rinv @ (q.T @ y)
        v = rinv @ rinv.T
    else:
        coef = np.zeros(p)
        coef[ok] = np.linalg.lstsq(x1[:, ok], y, rcond=None)[0]
        xtx = x1.T @ x1
        v = np.linalg.inv(xtx + np.diag(np.diag(xtx) * RIDGE))
        ridge = True
    resid = y - x1 @ coef
    sigma = np.sqrt(resid @ resid / rng.chisquare(df))
    try:
        chol = np.linalg.cholesky((v + v.T) / 2)
    except np.linalg.LinAlgError:
        xtx = x1.T @ x1
        v = np.linalg.inv(xtx + np.diag(np.diag(xtx) * RIDGE))
        chol = np.linalg.cholesky((v + v.T) / 2)
        ridge = True
    beta = coef + chol @ rng.standard_normal(p) * sigma
    return coef, beta, ridge


def _triangular_inverse(r: np.ndarray) -> np.ndarray:
    """R^-1 of an upper-triangular R by LAPACK's dtrtri: on these small matrices a triangular solve with a
    matrix right-hand side (trsm) costs milliseconds in OpenBLAS thread wake-ups, dtrtri microseconds."""
    rinv, info = scipy.linalg.lapack.dtrtri(r, lower=0)
    if info != 0:
        raise np.linalg.LinAlgError("singular triangular factor")
    return rinv


def match_index(donor: np.ndarray, target: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """For each target value, the index (into ``donor``) of one of its ``k`` nearest donors, drawn at random.

    mice's ``matchindex``: donors are shuffled (so that tied donors are picked at random), sorted
    stably, and the h-th nearest (h uniform on 1..k) is found by walking outwards from the target's
    insertion point, taking the left neighbour only when strictly closer. That walk is a stable merge of
    the right run (ascending) and the left run (descending), so it equals a stable sort by distance of
    the 2k candidates listed right run first.
    """
    n1 = donor.size
    k = max(1, min(k, n1))
    shuffle = rng.permutation(n1)
    order = shuffle[np.argsort(donor[shuffle], kind="stable")]
    ysort = donor[order]
    h = rng.integers(0, k, size=target.size)
    r = np.searchsorted(ysort, target, side="left")
    steps = np.arange(k)
    cand = np.concatenate([r[:, None] + steps, r[:, None] - 1 - steps], axis=1)
    valid = (cand >= 0) & (cand < n1)
    safe = np.clip(cand, 0, n1 - 1)
    right = np.arange(2 * k) < k
    dist = np.where(right, ysort[safe] - target[:, None], target[:, None] - ysort[safe])
    dist = np.where(valid, dist, np.inf)
    pick = np.argsort(dist, axis=1, kind="stable")[np.arange(target.size), h]
    return order[safe[np.arange(target.size), pick]]


def pmm(y: np.ndarray, ry: np.ndarray, wy: np.ndarray, x: np.ndarray, rng: np.random.Generator,
        donors: int = DONORS) -> tuple[np.ndarray, bool]:
    """``mice.impute.pmm`` (type-1 matching). Returns the imputed values and whether the ridge was used."""
    x1 = np.column_stack([np.ones(y.size), x])
    yobs = y[ry]
    coef, beta, ridge = norm_draw(x1[ry], yobs, rng)
    idx = match_index(x1[ry] @ coef, x1[wy] @ beta, donors, rng)
    return yobs[idx], ridge


# ---------------------------------------------------------------- logreg / polyreg

def augment(codes: np.ndarray, ry: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mice's ``augment``: pseudo-rows against perfect prediction. Returns (x_fit, y_fit, w_fit) for the fit.

    For each predictor and each category present in ``codes`` (observed and currently imputed values),
    two rows at the predictor's mean +- 0.5 SD (clipped to its range; other predictors at their means)
    carrying that category, each with weight (p + 1) / (2 p K). mice skips the augmentation when exactly
    one row is missing, and so do we.
    """
    p = x.shape[1]
    fit_x, fit_y = x[ry], codes[ry]
    if p == 0 or int((~ry).sum()) == 1:
        return fit_x, fit_y, np.ones(fit_y.size)
    icod = np.unique(codes)
    k = icod.size
    nr = 2 * p * k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # an all-NaN column has no mean; it was screened out
        mean, sd = np.nanmean(x, axis=0), np.nanstd(x, axis=0, ddof=1)
        lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    pattern = np.concatenate([np.tile([0.5, -0.5], k), np.zeros(nr)])
    b = np.resize(pattern, nr * p).reshape(p, nr).T      # R fills the matrix by column, recycling the pattern
    d = np.clip(mean + b * sd, lo, hi)
    e = np.tile(np.repeat(icod, 2), p)
    w = np.concatenate([np.ones(fit_y.size), np.full(nr, (p + 1) / nr)])
    return np.vstack([fit_x, d]), np.concatenate([fit_y, e]), w


def logreg(codes: np.ndarray, ry: np.ndarray, wy: np.ndarray, x: np.ndarray, rng: np.random.Generator,
           variable: str) -> np.ndarray:
    """``mice.impute.logreg`` for a two-level target coded 0/1. Returns 0/1 codes for the ``wy`` rows."""
    xa, ya, w = augment(codes, ry, x)
    xa1 = np.column_stack([np.ones(ya.size), xa])
    names = ["(Intercept)"] + [f"x{j}" for j in range(x.shape[1])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PropensityWarning)
        fit = fit_logistic(xa1, ya.astype(float), names, weights=w)
    for wmsg in caught:
        if issubclass(wmsg.category, PropensityWarning):
            warnings.warn(f"imputation model of {variable!r} (logreg): "
                          f"{str(wmsg.message).replace('propensity model: ', '')}", ImputationWarning, stacklevel=4)
    beta = fit.coef.to_numpy()
    ok = np.isfinite(beta)
    xo = xa1[:, ok]
    cov = _inverse_crossprod(xo * np.sqrt(fit.working_weights)[:, None])
    draw = np.zeros_like(beta)
    draw[ok] = beta[ok] + np.linalg.cholesky(cov) @ rng.standard_normal(int(ok.sum()))
    x1 = np.column_stack([np.ones(int(wy.sum())), x[wy]])
    prob = 1.0 / (1.0 + np.exp(-(x1 @ draw)))
    return (rng.random(prob.size) <= prob).astype(np.int64)


def _inverse_crossprod(a: np.ndarray) -> np.ndarray:
    """(A'A)^-1 from A's QR, as ``summary.glm``'s ``chol2inv(qr.R)``."""
    rinv = _triangular_inverse(np.linalg.qr(a, mode="r"))
    cov = rinv @ rinv.T
    return (cov + cov.T) / 2


def polyreg(codes: np.ndarray, ry: np.ndarray, wy: np.ndarray, x: np.ndarray, rng: np.random.Generator,
            n_levels: int) -> np.ndarray:
    """``mice.impute.polyreg``: multinomial logit on the augmented data; draws from the predicted probabilities."""
    xa, ya, w = augment(codes, ry, x)
    present = np.unique(ya)
    observed = np.unique(codes[ry])
    if observed.size == 1:          # mice: a category holding every observed row is imputed everywhere
        return np.full(int(wy.sum()), observed[0], dtype=np.int64)
    # categories absent from the fitting rows get probability 0 (nnet drops empty response levels too)
    y_local = np.searchsorted(present, ya)
    xa1 = np.column_stack([np.ones(ya.size), xa])
    beta = multinomial_logit(xa1, y_local, w, present.size)
    x1 = np.column_stack([np.ones(int(wy.sum())), x[wy]])
    prob = _softmax(x1, beta)
    u = rng.random(prob.shape[0])
    idx = (np.cumsum(prob, axis=1) < u[:, None]).sum(axis=1)
    return present[np.minimum(idx, present.size - 1)]


def _softmax(x1: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Category probabilities; ``beta`` is (K-1, p), the first category the reference."""
    eta = np.column_stack([np.zeros(x1.shape[0]), x1 @ beta.T])
    eta -= eta.max(axis=1, keepdims=True)
    e = np.exp(eta)
    return e / e.sum(axis=1, keepdims=True)


def multinomial_logit(x1: np.ndarray, y: np.ndarray, w: np.ndarray, k: int, max_iter: int = 100,
                      tol: float = 1e-10) -> np.ndarray:
    """Weighted maximum-likelihood multinomial logit (reference = category 0) by Newton-Raphson with step halving.

    The model ``nnet::multinom`` fits (no weight decay); nnet stops its BFGS at a relative tolerance of
    1e-8, here Newton runs to convergence, so the two agree to that tolerance.
    """
    n, p = x1.shape
    q = k - 1
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    beta = np.zeros((q, p))

    def loglik(b):
        eta = np.column_stack([np.zeros(n), x1 @ b.T])
        mx = eta.max(axis=1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(eta - mx).sum(axis=1))
        return float(w @ (eta[np.arange(n), y] - lse))

    ll = loglik(beta)
    for _ in range(max_iter):
        prob = _softmax(x1, beta)
        resid = (onehot - prob)[:, 1:] * w[:, None]
        grad = (resid.T @ x1).ravel()
        info = np.empty((q * p, q * p))
        wp = prob[:, 1:] * w[:, None]
        for a in range(q):
            for b in range(a, q):
                wab = wp[:, a] * ((a == b) - prob[:, 1 + b])
                block = (x1 * wab[:, None]).T @ x1
                info[a * p:(a + 1) * p, b * p:(b + 1) * p] = block
                info[b * p:(b + 1) * p, a * p:(a + 1) * p] = block.T
        try:
            step = scipy.linalg.solve(info, grad, assume_a="pos", check_finite=False).reshape(q, p)
        except (np.linalg.LinAlgError, ValueError):
            step = np.linalg.lstsq(info, grad, rcond=None)[0].reshape(q, p)
        for _halving in range(30):
            new = beta + step
            ll_new = loglik(new)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        converged = abs(ll_new - ll) <= tol * (abs(ll) + tol)
        beta, ll = new, ll_new
        if converged:
            break
    return beta
