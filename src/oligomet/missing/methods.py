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
  regression is fitted by maximum likelihood (mice: ``glm.fit``), beta* is drawn from
  N(beta_hat, (X'WX)^-1) and y = 1 where a uniform draw is <= expit(x beta*).
* ``polyreg``: the same augmentation, then a multinomial logit fitted by maximum likelihood (mice calls
  ``nnet::multinom``), and each missing row is drawn from its predicted category probabilities. As in
  mice, no parameter draw is made for ``polyreg``.

Implementation choices that change no distribution: the regressions are computed with the predictors
centred (an affine reparametrisation: the same fitted values, and the same posterior of the predictions);
the logistic and multinomial fits are one Newton-Raphson routine (the logistic model is the two-category
multinomial one) that starts from the chain's previous estimate for the same model, since the maximum of
a concave likelihood does not depend on the starting point.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import scipy.linalg

from ._pmm_kernel import (bucket_starts, bucketed_insertion_points, bucketed_nth_nearest, insertion_points,
                          nth_nearest, order_ties)

DONORS = 5
RIDGE = 1e-5
LINDEP_EPS = 1e-4       # remove.lindep's eps
LINDEP_MAXCOR = 0.99    # remove.lindep's maxcor
MAX_CATEGORIES = 50     # augment's maxcat


class ImputationWarning(UserWarning):
    """An imputation model was degenerate (e.g. a ridge penalty was needed, or the logistic fit separated)."""


# ---------------------------------------------------------------- predictor screening (mice's remove.lindep)

class Moments:
    """Centred cross-products of the fitting rows, shared by the screening and the linear regression."""

    def __init__(self, xobs: np.ndarray, yobs: np.ndarray):
        self.n = yobs.size
        self.xmean = xobs.mean(axis=0)
        self.ymean = float(yobs.mean())
        self.xc = xobs - self.xmean
        self.yc = yobs - self.ymean
        self.gram = self.xc.T @ self.xc
        self.xy = self.xc.T @ self.yc
        self.yy = float(self.yc @ self.yc)

    def subset(self, keep: np.ndarray) -> "Moments":
        out = object.__new__(Moments)
        out.n, out.ymean, out.yc, out.yy = self.n, self.ymean, self.yc, self.yy
        out.xmean, out.xc = self.xmean[keep], self.xc[:, keep]
        out.gram, out.xy = self.gram[np.ix_(keep, keep)], self.xy[keep]
        return out


def remove_lindep(mom: Moments) -> tuple[np.ndarray, str]:
    """Predictors kept for the imputation model, and why others were removed ('' if none).

    mice's ``remove.lindep``: if the observed target hardly varies (variance < 1e-4) no predictor is
    used; otherwise predictors with variance <= 1e-4 or a correlation >= 0.99 with the target are
    dropped, then, while the smallest eigenvalue of the predictors' correlation matrix is below 1e-4
    times the largest, the predictor loading most on the smallest eigenvector is dropped (mice then
    re-examines the original matrix's next eigenvalue, an indexing slip; here the reduced matrix is).
    """
    p = mom.xmean.size
    if p == 0 or mom.n < 2:
        return np.ones(p, dtype=bool), ""
    if mom.yy / (mom.n - 1) < LINDEP_EPS:
        return np.zeros(p, dtype=bool), "the observed values hardly vary (variance < 1e-4): no predictors used"
    ss = np.diag(mom.gram)
    with np.errstate(invalid="ignore", divide="ignore"):
        cor = mom.xy / np.sqrt(ss * mom.yy)
    small = ss / (mom.n - 1) <= LINDEP_EPS
    high = cor >= LINDEP_MAXCOR
    keep = ~small & ~high & np.isfinite(cor)       # R: NA comparisons are FALSE
    reasons = ["constant (variance <= 1e-4)"] * bool(small.any()) + ["correlation >= 0.99 with the target"] * bool(
        high.any())
    active = list(np.flatnonzero(keep))
    while len(active) > 1:
        sd = np.sqrt(ss[active])
        cx = mom.gram[np.ix_(active, active)] / np.outer(sd, sd)
        vals, vecs = np.linalg.eigh(cx)            # ascending; R's eigen() is descending
        if vals[0] / vals[-1] >= LINDEP_EPS:
            break
        keep[active.pop(int(np.argmax(np.abs(vecs[:, 0]))))] = False
        reasons.append("linearly dependent on other predictors")
    return keep, "; ".join(dict.fromkeys(reasons))


# ---------------------------------------------------------------- pmm

class LeastSquares:
    """The deterministic half of mice's ``.norm.draw``: the least-squares fit in the centred basis.

    In the centred basis X'X is block-diagonal (n for the intercept, the centred Gram G for the slopes).
    When G cannot be factored mice's ridge (1e-5 times its diagonal) is added, as ``estimice`` (the slopes
    are then the ridge estimate; mice keeps least squares with aliased coefficients set to 0).
    """

    def __init__(self, mom: Moments):
        p = mom.xmean.size
        # R's solve() refuses a matrix whose reciprocal condition number is below machine epsilon
        ridge = p > 0 and not 1 / np.linalg.cond(mom.gram, 1) >= np.finfo(float).eps
        if not ridge:
            try:
                chol = np.linalg.cholesky(mom.gram)
            except np.linalg.LinAlgError:
                ridge = True
        if ridge:
            chol = np.linalg.cholesky(mom.gram + np.diag(np.diag(mom.gram) * RIDGE))
        ginv = scipy.linalg.cho_solve((chol, True), np.eye(p), check_finite=False) if p else np.zeros((0, 0))
        self.n, self.p, self.ybar, self.ridge = mom.n, p, mom.ymean, bool(ridge)
        self.slopes = ginv @ mom.xy
        resid = mom.yc - mom.xc @ self.slopes
        self.rss = resid @ resid
        self.df = max(mom.n - p - 1, 1)
        self.chol_ginv = np.linalg.cholesky((ginv + ginv.T) / 2) if p else None

    def draw(self, rng: np.random.Generator) -> tuple[float, np.ndarray]:
        """One draw (intercept*, slopes*) from the flat-prior posterior: sigma* = sqrt(RSS / chi2(df)),
        intercept* = ybar + z0 sigma*/sqrt(n), slopes* = b + chol(G^-1) z sigma*."""
        sigma = np.sqrt(self.rss / rng.chisquare(self.df))
        z = rng.standard_normal(self.p + 1)
        intercept_star = self.ybar + z[0] * sigma / np.sqrt(self.n)
        slopes_star = self.slopes + (self.chol_ginv @ z[1:] if self.p else 0.0) * sigma
        return intercept_star, slopes_star


def norm_draw(mom: Moments, rng: np.random.Generator) -> tuple[float, np.ndarray, float, np.ndarray, bool]:
    """mice's ``.norm.draw``: least squares and one draw from the flat-prior posterior of the regression,
    with sigma* = sqrt(RSS / chi2(df)), df = max(n - p - 1, 1) (:class:`LeastSquares`).
    Returns (ybar, b, intercept*, slopes*, ridge_used)."""
    fit = LeastSquares(mom)
    intercept_star, slopes_star = fit.draw(rng)
    return fit.ybar, fit.slopes, intercept_star, slopes_star, fit.ridge


class SortedDonors(NamedTuple):
    """The donors' ascending order and their runs of equal values (:func:`sorted_donors`)."""

    order: np.ndarray               # donor positions in ascending order of value (equal values in any order)
    distinct: bool                  # every value differs: ``order`` is the only ascending order
    group: np.ndarray | None = None   # per donor, its run of equal values (0, 1, ... ascending); None if distinct
    starts: np.ndarray | None = None  # first sorted position of each run
    values: np.ndarray | None = None  # the donors' values in ascending order (the same whatever the ties' order)
    buckets: tuple | None = None      # (starts, n_finite, lo, scale): :func:`insertion_points`' index; None if unusable


def sorted_donors(donor: np.ndarray) -> SortedDonors:
    """The donors sorted, and whether their values are all distinct (then every shuffle of
    :func:`match_index` sorts to this same order; otherwise only the order within each run of equal
    values depends on the shuffle, and ``group``/``starts`` let it be set without sorting again)."""
    order = np.argsort(donor)          # not stable: only the runs of equal values matter
    ys = donor[order]
    new = np.empty(ys.size, dtype=bool)
    new[:1] = True
    np.not_equal(ys[1:], ys[:-1], out=new[1:])
    nan = np.isnan(ys)
    new[1:] &= ~(nan[1:] & nan[:-1])   # NaNs sort last and tie with each other, as in a stable sort
    buckets = _buckets(ys, int(ys.size - nan.sum()))
    if new.all():
        return SortedDonors(order, True, values=ys, buckets=buckets)
    group = np.empty(ys.size, dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    return SortedDonors(order, False, group, np.flatnonzero(new), ys, buckets)


def _buckets(ys: np.ndarray, n_finite: int) -> tuple | None:
    """Equal-width buckets over the sorted donors' range, about one donor each, for
    :func:`~._pmm_kernel.bucketed_insertion_points`; None when the range is empty or not finite."""
    if n_finite < 2:
        return None
    lo, hi = float(ys[0]), float(ys[n_finite - 1])
    scale = n_finite / (hi - lo) if np.isfinite(lo) and np.isfinite(hi) and hi > lo else 0.0
    if not (np.isfinite(scale) and scale > 0):
        return None
    return bucket_starts(ys, n_finite, lo, scale, n_finite), n_finite, lo, scale


def _insertion_points(ysort: np.ndarray, target: np.ndarray, s: SortedDonors) -> np.ndarray:
    """``np.searchsorted(ysort, target, side="left")`` for the sorted donors ``ysort`` of ``s``."""
    if s.buckets is not None:
        return bucketed_insertion_points(ysort, target, *s.buckets)
    return insertion_points(ysort, target, np.argsort(target))


def match_index(donor: np.ndarray, target: np.ndarray, k: int, rng: np.random.Generator,
                presorted: SortedDonors | None = None) -> np.ndarray:
    """For each target value, the index (into ``donor``) of one of its ``k`` nearest donors, drawn at random.

    mice's ``matchindex``: donors are shuffled (so that tied donors are picked at random), sorted
    stably, and the h-th nearest (h uniform on 1..k) is found by walking outwards from the target's
    insertion point, taking the left neighbour only when strictly closer. That walk is a stable merge of
    the right run (ascending) and the left run (descending), so it equals a stable sort by distance of
    the 2k candidates listed right run first.

    The stable sort of the shuffled donors is the donors' sorted runs of equal values, each run in shuffle
    order: :func:`~._pmm_kernel.order_ties` lays it out in one pass from :func:`sorted_donors`.
    ``presorted``: :func:`sorted_donors` of ``donor``, when the caller reuses the same donors.
    """
    n1 = donor.size
    k = max(1, min(k, n1))
    shuffle = rng.permutation(n1)      # drawn also when unused, so the random stream is the same either way
    s = sorted_donors(donor) if presorted is None else presorted
    order = s.order if s.distinct else order_ties(shuffle, s.group, s.starts)
    ysort = donor[order] if s.values is None else s.values   # ties' order aside, the same values
    h = rng.integers(0, k, size=target.size)
    target = np.asarray(target, dtype=float)
    if s.buckets is not None:           # insertion points and the walk in one pass
        return order[bucketed_nth_nearest(ysort, target, h, *s.buckets)]
    return order[nth_nearest(ysort, target, _insertion_points(ysort, target, s), h)]


class PMMModel:
    """Everything of one ``pmm`` step that depends only on the predictors and the observed rows.

    In a chain whose target's predictors are never imputed (e.g. one incomplete variable) these are the
    same at every iteration of every imputation, so :mod:`.mice` builds the model once and only draws;
    the draws, and so the imputations, are the same as rebuilding it each time.
    """

    def __init__(self, y: np.ndarray, ry: np.ndarray, wy: np.ndarray, x: np.ndarray, mom: Moments | None = None):
        mom = Moments(x[ry], y[ry]) if mom is None else mom
        self.fit = LeastSquares(mom)
        self.donor_values = y[ry]
        self.yhat_obs = self.fit.ybar + mom.xc @ self.fit.slopes
        self.x_mis = x[wy] - mom.xmean
        self._sorted: SortedDonors | None = None

    def draw(self, rng: np.random.Generator, donors: int = DONORS, reuse_sort: bool = False) -> np.ndarray:
        a_star, b_star = self.fit.draw(rng)
        yhat_mis = a_star + self.x_mis @ b_star
        if reuse_sort and self._sorted is None:
            self._sorted = sorted_donors(self.yhat_obs)
        return self.donor_values[match_index(self.yhat_obs, yhat_mis, donors, rng, self._sorted)]


def pmm(y: np.ndarray, ry: np.ndarray, wy: np.ndarray, x: np.ndarray, rng: np.random.Generator,
        donors: int = DONORS, mom: Moments | None = None) -> tuple[np.ndarray, bool]:
    """``mice.impute.pmm`` (type-1 matching). Returns the imputed values and whether the ridge was used.

    ``mom``: the moments of ``x[ry]``, ``y[ry]`` when the caller has them (after screening)."""
    model = PMMModel(y, ry, wy, x, mom)
    return model.draw(rng, donors), model.fit.ridge


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
    if np.isnan(x).any():    # rows blocked by a missing non-imputed predictor: R's na.rm = TRUE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, sd = np.nanmean(x, axis=0), np.nanstd(x, axis=0, ddof=1)
            lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    else:
        mean, sd, lo, hi = x.mean(axis=0), x.std(axis=0, ddof=1), x.min(axis=0), x.max(axis=0)
    pattern = np.concatenate([np.tile([0.5, -0.5], k), np.zeros(nr)])
    b = np.resize(pattern, nr * p).reshape(p, nr).T      # R fills the matrix by column, recycling the pattern
    d = np.clip(mean + b * sd, lo, hi)
    e = np.tile(np.repeat(icod, 2), p)
    w = np.concatenate([np.ones(fit_y.size), np.full(nr, (p + 1) / nr)])
    return np.vstack([fit_x, d]), np.concatenate([fit_y, e]), w


def _categorical_fit(codes, ry, wy, x, cache):
    """Augment, centre, fit the multinomial logit; returns (present categories, beta, information, x_mis)."""
    xa, ya, w = augment(codes, ry, x)
    present = np.unique(ya)
    centre = xa.mean(axis=0)
    xa1 = np.column_stack([np.ones(ya.size), xa - centre])
    start = cache.get("beta") if cache is not None else None
    beta, info = multinomial_logit(xa1, np.searchsorted(present, ya), w, present.size, start=start)
    if cache is not None:
        cache["beta"] = beta
    x_mis = np.column_stack([np.ones(int(wy.sum())), x[wy] - centre])
    return present, beta, info, x_mis


def logreg(codes: np.ndarray, ry: np.ndarray, wy: np.ndarray, x: np.ndarray, rng: np.random.Generator,
           cache: dict | None = None) -> np.ndarray:
    """``mice.impute.logreg`` for a two-level target coded 0/1. Returns 0/1 codes for the ``wy`` rows.

    ``cache``: a dict kept by the caller per chain and variable (the previous estimate, a starting value)."""
    present, beta, info, x_mis = _categorical_fit(codes, ry, wy, x, cache)
    if present.size < 2:
        return np.full(x_mis.shape[0], present[0], dtype=np.int64)
    cov = np.linalg.inv(info)
    draw = beta.ravel() + np.linalg.cholesky((cov + cov.T) / 2) @ rng.standard_normal(beta.size)
    prob = 1.0 / (1.0 + np.exp(-(x_mis @ draw)))
    return np.where(rng.random(prob.size) <= prob, present[-1], present[0]).astype(np.int64)


def polyreg(codes: np.ndarray, ry: np.ndarray, wy: np.ndarray, x: np.ndarray, rng: np.random.Generator,
            cache: dict | None = None) -> np.ndarray:
    """``mice.impute.polyreg``: multinomial logit on the augmented data; draws from the predicted probabilities."""
    observed = np.unique(codes[ry])
    if observed.size == 1:          # mice: a category holding every observed row is imputed everywhere
        return np.full(int(wy.sum()), observed[0], dtype=np.int64)
    present, beta, _info, x_mis = _categorical_fit(codes, ry, wy, x, cache)
    prob = _softmax(x_mis @ beta.T)
    u = rng.random(prob.shape[0])
    idx = (np.cumsum(prob, axis=1) < u[:, None]).sum(axis=1)
    return present[np.minimum(idx, present.size - 1)]


def _softmax(eta: np.ndarray) -> np.ndarray:
    """Category probabilities from the (n, K-1) linear predictors of categories 1..K-1 (category 0 the reference)."""
    full = np.column_stack([np.zeros(eta.shape[0]), eta])
    full -= full.max(axis=1, keepdims=True)
    e = np.exp(full)
    return e / e.sum(axis=1, keepdims=True)


def _information(x1: np.ndarray, w: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Fisher information of the multinomial logit, blocks (a, b) = X' diag(w p_a (1[a=b] - p_b)) X."""
    q, p = prob.shape[1] - 1, x1.shape[1]
    info = np.empty((q * p, q * p))
    wp = prob[:, 1:] * w[:, None]
    for a in range(q):
        for b in range(a, q):
            block = (x1 * (wp[:, a] * ((a == b) - prob[:, 1 + b]))[:, None]).T @ x1
            info[a * p:(a + 1) * p, b * p:(b + 1) * p] = block
            info[b * p:(b + 1) * p, a * p:(a + 1) * p] = block.T
    return info


def multinomial_logit(x1: np.ndarray, y: np.ndarray, w: np.ndarray, k: int, start: np.ndarray | None = None,
                      max_iter: int = 100, tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Weighted maximum-likelihood multinomial logit, category 0 the reference, by Newton-Raphson.

    Returns the (K-1, p) coefficients and the Fisher information. With K = 2 this is logistic regression:
    ``glm.fit``'s IRLS is Newton's method for the logit link, and as there the iterations stop when the
    deviance changes by less than ``tol`` relative (|dev - dev_old| / (|dev| + 0.1) < 1e-8; nnet's BFGS
    in ``multinom`` uses the same relative tolerance), and the information returned is the one of the
    last step's starting point (``summary.glm`` takes its covariance from the last IRLS weights).
    Step halving keeps the log-likelihood from decreasing.
    """
    n, p = x1.shape
    q = k - 1
    beta = start.copy() if start is not None and start.shape == (q, p) else np.zeros((q, p))
    rows = np.arange(n)
    onehot = np.zeros((n, k))
    onehot[rows, y] = 1.0

    def evaluate(b):
        prob = _softmax(x1 @ b.T)
        with np.errstate(divide="ignore"):
            return prob, float(w @ np.log(prob[rows, y]))

    prob, ll = evaluate(beta)
    for _ in range(max_iter):
        grad = (((onehot - prob)[:, 1:] * w[:, None]).T @ x1).ravel()
        info = _information(x1, w, prob)
        try:
            step = scipy.linalg.solve(info, grad, assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        step = step.reshape(q, p)
        for _halving in range(30):
            new = beta + step
            prob_new, ll_new = evaluate(new)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        converged = abs(ll_new - ll) < tol * (abs(ll_new) + 0.05)     # deviance = -2 loglik
        beta, prob, ll = new, prob_new, ll_new
        if converged:
            break
    return beta, info
