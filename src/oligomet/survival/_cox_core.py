"""Array-level Cox partial-likelihood fit (Newton–Raphson), following R's ``coxfit6.c``.

R's algorithm, kept step for step where it decides the numbers: covariates
centred by their weighted means and scaled by ``sum(w) / sum(w |x - mean|)``;
initial beta 0; one Cholesky (R's ``cholesky2``, LDLᵀ with the same singularity
tolerance) per iteration; step-halving when the log-likelihood gets worse;
convergence when ``|1 - loglik_old / loglik_new| <= eps`` (1e-9), at most 20
iterations; Efron's tie correction with the death weights averaged
(``wtave = deadwt / ndead``) and the tied deaths removed in ``1/ndead`` steps.

What differs is how one evaluation (loglik, score, information) is computed.
R walks the rows backwards accumulating p×p second moments at every event
time. Here, with rows sorted by (stratum, time, deaths first):

* risk-set sums S0, S1 at each event time are reverse cumulative sums of
  per-segment sums (a segment is a tie block, split after its deaths), so only
  ``n_segments × p`` numbers are kept;
* the second-moment term ``Σ_k Σ_l w̄_k S2_kl / D_kl`` is rewritten as one
  weighted product ``Xᵀ diag(c) X`` with a per-row weight
  ``c_j = r_j (Σ_{k: t_k <= t_j} a_k − δ_j b_{k(j)})``; Efron's correction only
  changes ``a_k = Σ_l w̄/D_kl`` and ``b_k = Σ_l w̄ f_l / D_kl``;
* the factor of ``r_j`` in ``c_j`` is the same for every row of a segment, so with
  few long segments (integer-day times, many ties) the product is
  ``Σ_seg h_seg Σ_{j∈seg} r_j x_j x_jᵀ`` and the per-segment moments come out of the
  same single pass over X as the risk-set sums; with short segments a second,
  BLAS pass forms ``Xᵀ diag(c) X`` instead;
* the mean outer products ``Σ_l w̄ m_kl m_klᵀ`` expand into three rank-one terms
  per event time (in S1_k and the deaths' sum e1_k), i.e. ``K × p × p`` work.

The same per-row weight gives the score ``U = Σ_deaths w x − Xᵀ c``. All of this
is exact algebra, not an approximation. The passes over rows are compiled loops
(``_cox_kernels``); a 10⁶ × 10 fit with heavy ties takes about 0.2 s.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _cox_kernels as kernels
from ._cholesky import TOLER_CHOL, ldl_factor, ldl_inverse, ldl_solve  # noqa: F401 (re-exported)
from ._fitted_arrays import last_at_or_before
from .._validation import TIES, require_choice


EPS = 1e-9                    # R: coxph.control(eps)
TOLER_INF = EPS ** 0.5        # R: coxph.control(toler.inf) = sqrt(eps)
ITER_MAX = 20                 # R: coxph.control(iter.max)


# ----------------------------------------------------------------------------------------------------------------
# Segmented cumulative sums. NumPy has no segmented cumsum; "global cumsum minus the value at the segment start"
# loses precision when one stratum's sums dwarf another's, so we cumsum each stratum on its own: a loop for a
# few strata, a padded 2-D array for many (the arrays here are block- or event-level, i.e. small).
# ----------------------------------------------------------------------------------------------------------------
def _seg_cumsum(a: np.ndarray, bounds: np.ndarray, reverse: bool = False) -> np.ndarray:
    """Cumulative sums restarting at each segment ``[bounds[i], bounds[i+1])`` (reverse: from the end)."""
    nseg = bounds.size - 1
    lens = np.diff(bounds)
    if nseg > 32 and a.shape[0] and nseg * lens.max() <= 4 * a.shape[0] + 4096:
        # Many strata (e.g. matched sets): lay the segments out as rows of a padded array and cumsum along
        # the rows. Exact (no subtraction of global sums) and no Python loop over strata.
        row = np.repeat(np.arange(nseg), lens)
        col = np.arange(a.shape[0]) - np.repeat(bounds[:-1], lens)
        if reverse:
            col = lens[row] - 1 - col
        pad = np.zeros((nseg, lens.max()) + a.shape[1:])
        pad[row, col] = a
        np.cumsum(pad, axis=1, out=pad)
        return pad[row, col]
    out = np.empty_like(a)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        if reverse:
            out[lo:hi] = np.cumsum(a[lo:hi][::-1], axis=0)[::-1]
        else:
            np.cumsum(a[lo:hi], axis=0, out=out[lo:hi])
    return out


@dataclass
class GroupSums:
    """Per-event-time quantities at one beta (on the centred, unscaled covariates)."""

    S0: np.ndarray       # (K,) risk-set sums of r at each event time
    S1: np.ndarray       # (K, p) risk-set sums of r x
    e: np.ndarray        # (K,) sums of r over the tied deaths
    e1: np.ndarray       # (K, p) sums of r x over the tied deaths
    a: np.ndarray        # (K,) Σ_l w̄ / D_l
    b: np.ndarray        # (K,) Σ_l w̄ f_l / D_l
    q0: np.ndarray       # (K,) Σ_l w̄ / D_l²
    q1: np.ndarray       # (K,) Σ_l w̄ f_l / D_l²
    q2: np.ndarray       # (K,) Σ_l w̄ f_l² / D_l²
    sum_mw_logD: float
    seg_r: np.ndarray = field(repr=False, default=None)    # (n_seg,) Σ r per row segment
    seg_rx: np.ndarray = field(repr=False, default=None)   # (n_seg, p) Σ r x per row segment
    seg_w: np.ndarray = field(repr=False, default=None)    # (n_seg, p(p+1)/2) packed lower triangle of Σ r x xᵀ
    r: np.ndarray = field(repr=False, default=None)        # w exp(eta) per sorted row (a reused buffer in fits)
    score: np.ndarray = field(repr=False, default=None)    # exp(eta) per sorted row, when asked for


@dataclass
class CoxProblem:
    """Data sorted once by (stratum, time, deaths first) plus the index arrays every evaluation reuses.

    ``X`` is the centred design (not scaled: R's scaling is applied to the p-vectors and p×p matrices
    instead, which is the same arithmetic up to rounding and saves two passes over n × p numbers).
    Rows are grouped into *segments*: each (stratum, time) tie block, split after its deaths. Every row of
    a segment gets the same weight in the information matrix, which is what lets one evaluation work on
    per-segment sums.
    """

    order: np.ndarray          # sorted position -> original row
    X: np.ndarray              # (n, p) centred, sorted, C-contiguous
    w: np.ndarray
    status: np.ndarray
    time: np.ndarray
    means: np.ndarray
    scale: np.ndarray
    efron: bool
    weighted: bool             # False when all case weights are 1 (r = exp(eta) needs no product)
    moments: bool              # information from per-segment second moments (few, long segments)
    seg_bounds: np.ndarray     # (n_seg + 1,) row-segment starts and n
    strata_bounds: np.ndarray  # stratum boundaries in segment index space
    death_pos: np.ndarray      # (K,) segment of each event time's deaths (the first segment of its tie block)
    group_bounds: np.ndarray   # stratum boundaries in event-time index space
    gd: np.ndarray             # (K,) number of deaths
    gdw: np.ndarray            # (K,) sum of death weights
    term_start: np.ndarray     # (K,) first Efron term of each event time (terms of one event time contiguous)
    n_terms: int               # Σ gd (Efron) or K (Breslow)
    mw: np.ndarray             # (K,) weight of each term: w̄ = deadwt/ndead for Efron, deadwt for Breslow
    seg_group: np.ndarray      # (n_seg,) last event time <= the segment's time in its stratum; K if none
    seg_dead: np.ndarray       # (n_seg,) True for the deaths' segment of an event time
    u_dead: np.ndarray         # Σ_deaths w x (centred)
    absdev: np.ndarray         # Σ w |x − mean| per column (0 for a constant column)
    entry_group: np.ndarray | None = None   # (n,) counting-process data: last event time <= the row's start
    _buf: dict = field(default_factory=dict, repr=False)   # work arrays reused across evaluations

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def K(self) -> int:
        return self.gd.size

    @property
    def seg(self) -> np.ndarray:
        return self.seg_bounds[:-1]

    @property
    def row_group(self) -> np.ndarray:
        """(n,) each row's last event time at or before its own time, in its stratum (K if none)."""
        return np.repeat(self.seg_group, np.diff(self.seg_bounds))


_CHUNK = 4096         # rows per block in the X'diag(c)X product: 4096 × p doubles stay in cache
_SCATTER_CHUNK = 8192  # rows per chunk copied from the data's columns before they are scattered


def _as_columns(X) -> list[np.ndarray]:
    """The design as a list of 1-D float columns (views where possible: no n × p copy is made here)."""
    if isinstance(X, (list, tuple)):
        cols = [np.asarray(c, dtype=float) for c in X]
    else:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        cols = [X[:, k] for k in range(X.shape[1])]
    if not cols:
        raise ValueError("the design has no columns")
    return cols


def _sort_order(time: np.ndarray, status: np.ndarray, strata) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row order by (stratum, time, deaths first), and the sorted times and statuses.

    Rows tied on all three keys keep their input order."""
    n = time.size
    if n and time.max() < 2 ** 15 and np.all(time == np.floor(time)):
        # Integer days (the usual registry case): time and death flag fit one 16-bit key, and NumPy's stable
        # sort of 16-bit integers is an O(n) radix sort. Censored after deaths: key = 2 t + (status == 0).
        # The sorted key also gives the sorted times and statuses without gathering two float arrays.
        key = time.astype(np.uint16)
        key <<= 1
        key += status == 0
        order = np.argsort(key, kind="stable")
    else:
        key = None
        order = np.argsort(time, kind="stable")
        t_s = time[order]
        block_id = np.cumsum(np.concatenate(([True], t_s[1:] != t_s[:-1]))) if n else np.zeros(0, np.int64)
        order = order[np.argsort(block_id * 2 + (status[order] == 0), kind="stable")]
    if strata is not None:
        codes = np.asarray(strata)[order]
        if codes.size and codes.min() >= 0 and codes.max() < 2 ** 15:
            codes = codes.astype(np.int16)           # radix sort again
        order = order[np.argsort(codes, kind="stable")]
    if key is None:
        return order, time[order], status[order]
    key_s = key[order]
    return order, (key_s >> 1).astype(float), ((key_s & 1) == 0).astype(float)


class NonFiniteDesign(ValueError):
    """The design holds NaN or infinite values (the caller decides how to report or drop them)."""


def _scatter_design(cols, order, w, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted copy of the design and its weighted column sums.

    The data's columns are copied chunk by chunk into a small column buffer (a DataFrame built from a 2-D
    array stores its columns interleaved, so reading them one by one over all rows would fetch every cache
    line p times) and each chunk's rows are written to their sorted positions by a compiled kernel: one pass,
    and the only n × p array allocated.
    """
    p = len(cols)
    dest = np.empty(n, dtype=np.int64)
    dest[order] = np.arange(n)
    Xs = np.empty((n, p))
    wsums = np.zeros(p)
    buf = np.empty((p, min(_SCATTER_CHUNK, max(n, 1))))
    for lo in range(0, n, _SCATTER_CHUNK):
        hi = min(lo + _SCATTER_CHUNK, n)
        # a short last chunk gets its own C-contiguous buffer: a strided slice would compile a second kernel
        src = buf if hi - lo == buf.shape[1] else np.empty((p, hi - lo))
        for k, col in enumerate(cols):
            src[k] = col[lo:hi]
        kernels.scatter_rows(src, dest[lo:hi], w[lo:hi], Xs, wsums)
        if not np.isfinite(wsums).all():           # NaN and ±inf propagate into the sums: stop early
            bad = [k for k in range(p) if not np.isfinite(wsums[k])]
            raise NonFiniteDesign(f"design column(s) {bad} hold NaN or infinite values")
    return Xs, wsums


def _moments_pay(n: int, p: int, n_seg: int) -> bool:
    """Whether the per-segment second moments beat the second (BLAS) pass over X for the information.

    The moments cost p(p+1)/2 scalar products per row inside the single pass and n_seg × p² numbers of
    memory; the row route re-reads X once per evaluation. Measured here (2-core VM; evaluation times):
    10⁶ × 10 with 3,600 segments 40 vs 54 ms, 10⁶ × 5 21 vs 34 ms, 3·10⁵ × 10 13.5 vs 16.4 ms, but
    10⁶ × 20 77 vs 74 ms, 10⁵ × 10 5.1 vs 4.3 ms (X still in cache, so the second pass is cheap) and
    10⁵ × 40 31 vs 20 ms. Hence: segments of 2p rows or more (which also keeps the moments under half the
    size of X), p <= 16, and X larger than the caches (16 MB).
    """
    return n_seg * 2 * p <= n and p <= 16 and n * p >= 2_000_000


@dataclass(frozen=True, eq=False)
class RiskSets:
    """What a fit needs from the times, statuses, strata, case weights and entry times alone: the sort order
    by (stratum, time, deaths first) and the segment and event-time bookkeeping. The covariates do not enter,
    so one ``RiskSets`` serves every design on the same rows (e.g. the completed datasets of an imputation):
    :func:`problem` adds a design to it."""

    order: np.ndarray
    w: np.ndarray              # case weights, sorted (ones when unweighted)
    w_rows: np.ndarray         # case weights in the rows' own order
    wsum: float
    status: np.ndarray
    time: np.ndarray
    efron: bool
    weighted: bool
    seg_bounds: np.ndarray
    strata_bounds: np.ndarray
    death_pos: np.ndarray
    group_bounds: np.ndarray
    gd: np.ndarray
    gdw: np.ndarray
    term_start: np.ndarray
    n_terms: int
    mw: np.ndarray
    seg_group: np.ndarray
    seg_dead: np.ndarray
    entry_group: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.order.size


def prepare(time, status, X, strata=None, weights=None, ties: str = "efron",
            moments: bool | None = None, start=None) -> CoxProblem:
    """Sort once and build the index structure. ``time`` should already have near-ties merged.

    ``X`` is an (n, p) array or a list of p columns (e.g. views of a DataFrame's columns; only the sorted,
    centred copy is materialised). ``moments`` forces (True) or forbids (False) the per-segment
    second-moment route to the information matrix; by default :func:`_moments_pay` decides.
    ``start``: entry times for counting-process data (R's ``Surv(start, stop, event)``, rows at risk on
    ``(start, time]``); the rows of one segment then differ in their risk sets, so the row route is used.

    The same as ``problem(risk_sets(time, status, strata, weights, ties, start), X, moments)``.
    """
    require_choice("ties", ties, TIES)
    cols = _as_columns(X)       # a design without columns is refused before any sorting
    return problem(risk_sets(time, status, strata=strata, weights=weights, ties=ties, start=start), cols, moments)


def risk_sets(time, status, strata=None, weights=None, ties: str = "efron", start=None) -> RiskSets:
    """The sort order and the segment / event-time structure of :func:`prepare` (no covariates needed)."""
    require_choice("ties", ties, TIES)
    time = np.asarray(time, dtype=float)
    status = np.asarray(status, dtype=float)
    n = time.size
    weighted = weights is not None
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    wsum = float(w.sum())

    order, t_s, d_s = _sort_order(time, status, strata)
    w_s = w[order] if weighted else w

    # Segments: each (stratum, time) tie block, split after its deaths (deaths come first in a block). Built
    # from row flags in O(n): no set operations or searches over n-sized arrays (continuous times give ~n segments).
    dead = d_s > 0
    newblock = np.empty(n, dtype=bool)
    newblock[:1] = True
    np.not_equal(t_s[1:], t_s[:-1], out=newblock[1:])
    if strata is not None:
        st = np.asarray(strata)[order]
        newstrat = np.empty(n, dtype=bool)
        newstrat[:1] = True
        np.not_equal(st[1:], st[:-1], out=newstrat[1:])
        newblock |= newstrat
    newseg = newblock.copy()
    newseg[1:] |= dead[:-1] & ~dead[1:]
    seg = np.flatnonzero(newseg)
    seg_bounds = np.append(seg, n).astype(np.int64)
    seg_dead = dead[seg]
    death_pos = np.flatnonzero(seg_dead)            # (K,) the deaths' segment of each event time
    K = death_pos.size
    gd = np.diff(seg_bounds)[death_pos]
    gdw = np.add.reduceat(w_s, seg)[death_pos] if weighted else gd.astype(float)
    if strata is not None:
        strata_bounds = np.append(np.flatnonzero(newstrat[seg]), seg.size).astype(np.int64)
        seg_strat = np.cumsum(newstrat[seg]) - 1
        gstrat = seg_strat[death_pos]
        group_bounds = np.concatenate(([0], np.flatnonzero(np.diff(gstrat)) + 1, [K]))
    else:
        strata_bounds = np.array([0, seg.size], dtype=np.int64)
        group_bounds = np.array([0, K])
    # Each segment's last event time at or before its own time, in its own stratum (K = none).
    last_ev = np.cumsum(seg_dead) - 1
    ok = last_ev >= 0
    if strata is not None:
        ok[ok] &= gstrat[last_ev[ok]] == seg_strat[ok]
    seg_group = np.where(ok, last_ev, K)

    if ties == "efron":
        term_start = np.cumsum(gd) - gd
        n_terms = int(gd.sum())
        mw = gdw / gd
    else:
        term_start = np.arange(K)
        n_terms = K
        mw = gdw.astype(float, copy=True)
    entry_group = None
    if start is not None:
        ev_time = t_s[seg[death_pos]]
        entry_group = _entry_groups(np.asarray(start, dtype=float)[order], ev_time,
                                    None if strata is None else st, None if strata is None else gstrat)
    return RiskSets(order=order, w=w_s, w_rows=w, wsum=wsum, status=d_s, time=t_s, efron=(ties == "efron"),
                    weighted=weighted, seg_bounds=seg_bounds, strata_bounds=strata_bounds, death_pos=death_pos,
                    group_bounds=group_bounds, gd=gd, gdw=gdw, term_start=term_start, n_terms=n_terms, mw=mw,
                    seg_group=seg_group, seg_dead=seg_dead, entry_group=entry_group)


def problem(rs: RiskSets, X, moments: bool | None = None) -> CoxProblem:
    """The fit's problem: the design ``X`` ((n, p) array or list of p columns, rows in the data's order) sorted
    by ``rs`` and centred. Everything else is shared with ``rs`` (read-only: fits never write to it)."""
    cols = _as_columns(X)
    n, p = rs.n, len(cols)
    Xs, wsums = _scatter_design(cols, rs.order, rs.w_rows, n)
    means = wsums / rs.wsum
    absdev = np.zeros(p)
    u_dead = np.zeros(p)                           # Σ_deaths w (x − mean)
    kernels.centre_rows(Xs, means, rs.w, rs.status * rs.w if rs.weighted else rs.status, absdev, u_dead)
    scale = np.where(absdev > 0, rs.wsum / np.where(absdev > 0, absdev, 1.0), 1.0)
    if rs.entry_group is not None:
        moments = False
    elif moments is None:
        moments = _moments_pay(n, p, rs.seg_bounds.size - 1)
    return CoxProblem(order=rs.order, X=Xs, w=rs.w, status=rs.status, time=rs.time, means=means, scale=scale,
                      efron=rs.efron, weighted=rs.weighted, moments=bool(moments), seg_bounds=rs.seg_bounds,
                      strata_bounds=rs.strata_bounds, death_pos=rs.death_pos, group_bounds=rs.group_bounds,
                      gd=rs.gd, gdw=rs.gdw, term_start=rs.term_start, n_terms=rs.n_terms, mw=rs.mw,
                      seg_group=rs.seg_group, seg_dead=rs.seg_dead, u_dead=u_dead, absdev=absdev,
                      entry_group=rs.entry_group)


def _entry_groups(start_s, ev_time, row_strata, ev_strata) -> np.ndarray:
    """Per sorted row: the last event time at or before its entry (start) time, in its stratum; K if none.

    A row is at risk at event time t only when start < t <= stop, so it leaves the risk sets of the
    events up to and including this one (R's agreg: ``start >= t`` is not at risk)."""
    K = ev_time.size
    if row_strata is None:
        row_strata = np.zeros(start_s.size, dtype=np.int64)
        ev_strata = np.zeros(K, dtype=np.int64)
    idx = last_at_or_before(ev_strata, ev_time, row_strata, start_s)
    return np.where(idx >= 0, idx, K)


def _linear_predictor(X: np.ndarray, beta: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``X @ beta`` into ``out``. One column is a plain product: NumPy hands an (n, 1) × (1,) product to BLAS
    as an axpy over n numbers, which OpenBLAS may spread over its threads (measured: ~10 ms instead of
    ~0.02 ms at n = 15,000 on a loaded 2-core machine). The numbers are the same: a dot product of length one
    is one rounded product."""
    if X.shape[1] == 1:
        return np.multiply(X[:, 0], beta[0], out=out)
    return np.dot(X, beta, out=out)


def _risk(pr: CoxProblem, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(score, r)``: exp(x·beta) and w·exp(x·beta) per sorted row (the same array when unweighted)."""
    score = _linear_predictor(pr.X, beta, np.empty(pr.n))
    np.exp(score, out=score)
    return score, (score * pr.w if pr.weighted else score)


def _work(pr: CoxProblem, name: str, shape) -> np.ndarray:
    """A work array kept on the problem and reused by every evaluation (no fresh n- or K-sized arrays per
    Newton step; with continuous times K is close to n)."""
    buf = pr._buf.get(name)
    if buf is None or buf.shape != shape:
        buf = pr._buf[name] = np.empty(shape)
    return buf


def _event_sums(pr: CoxProblem, r: np.ndarray, moments: bool, reuse: bool = False) -> GroupSums:
    """Risk-set sums and the Efron/Breslow per-event-time scalars from the rows' risk weights ``r``.

    With ``reuse`` the arrays are the problem's work arrays, valid until the next evaluation."""
    nseg, p, K = pr.seg_bounds.size - 1, pr.p, pr.K
    new = (lambda name, shape: _work(pr, name, shape)) if reuse else (lambda name, shape: np.empty(shape))
    seg_r = new("seg_r", (nseg,))
    seg_rx = new("seg_rx", (nseg, p))
    seg_w = None
    if moments:
        seg_w = new("seg_w", (nseg, p * (p + 1) // 2))
        kernels.segment_moments(pr.X, r, pr.seg_bounds, seg_r, seg_rx, seg_w)
    else:
        kernels.segment_sums(pr.X, r, pr.seg_bounds, seg_r, seg_rx)
    S0 = new("S0", (K,))
    S1 = new("S1", (K, p))
    kernels.risk_set_sums(seg_r, seg_rx, pr.strata_bounds, pr.death_pos, S0, S1)
    if pr.entry_group is not None:
        # (start, stop] data: rows that enter at or after t_k are not at risk at t_k. Each row's r and r·x
        # sit at its entry event; reverse cumulative sums over the events remove them from earlier risk sets.
        B0 = np.zeros(K + 1)
        B1 = np.zeros((K + 1, p))
        kernels.sum_rows_by_code_weighted(pr.X, r, pr.entry_group, B0, B1)
        S0 -= _seg_cumsum(B0[:K], pr.group_bounds, reverse=True)
        S1 -= _seg_cumsum(B1[:K], pr.group_bounds, reverse=True)
    e = seg_r[pr.death_pos]
    e1 = seg_rx[pr.death_pos]
    a, b, q0, q1, q2 = (new(name, (K,)) for name in ("a", "b", "q0", "q1", "q2"))
    D = new("D", (pr.n_terms,))
    kernels.efron_terms(S0, e, pr.gd, pr.mw, pr.efron, a, b, q0, q1, q2, D)
    logD = np.log(D, out=D)
    sum_log = np.add.reduceat(logD, pr.term_start) if pr.efron and K else logD
    return GroupSums(S0=S0, S1=S1, e=e, e1=e1, a=a, b=b, q0=q0, q1=q1, q2=q2,
                     sum_mw_logD=float(pr.mw @ sum_log), seg_r=seg_r, seg_rx=seg_rx, seg_w=seg_w, r=r)


def group_sums(pr: CoxProblem, beta: np.ndarray) -> GroupSums:
    """Risk-set sums and per-event scalars at ``beta`` (centred, unscaled coordinates), with fresh per-row
    ``score`` and ``r`` arrays (for residuals)."""
    score, r = _risk(pr, np.asarray(beta, dtype=float))
    gs = _event_sums(pr, r, moments=False)
    gs.score = score
    return gs


def _segment_hazard(pr: CoxProblem, gs: GroupSums) -> np.ndarray:
    """Per segment: Σ_{event times <= its time, same stratum} a_k  −  [deaths' segment] b_{own event time}.

    Every row j of the segment enters the information as ``c_j = r_j × this`` (see the module notes)."""
    b = np.append(gs.b, 0.0)
    h = np.empty(pr.seg_group.size)
    kernels.segment_hazard(_cumulative_a(pr, gs), b, pr.seg_group, pr.seg_dead, h)
    return h


def _cumulative_a(pr: CoxProblem, gs: GroupSums) -> np.ndarray:
    """(K + 1,) Σ_{events <= k, same stratum} a, with 0 appended for rows before any event."""
    A = np.empty(pr.K + 1)
    A[:-1] = _seg_cumsum(gs.a, pr.group_bounds)
    A[-1] = 0.0
    return A


def _rank_one_sums(S1: np.ndarray, e1: np.ndarray, q0, q1, q2, efron: bool) -> np.ndarray:
    """``Σ_k q0 S1 S1ᵀ − q1 (S1 e1ᵀ + e1 S1ᵀ) + q2 e1 e1ᵀ`` = ``S1ᵀ T + e1ᵀ U`` with T = q0 S1 − q1 e1 and
    U = q2 e1 − q1 S1, over chunks of event times so that no K × p temporary is made (K ~ n without ties)."""
    p = S1.shape[1]
    out = np.zeros((p, p))
    for lo in range(0, S1.shape[0], _CHUNK):
        s1, f1 = S1[lo:lo + _CHUNK], e1[lo:lo + _CHUNK]
        T = s1 * q0[lo:lo + _CHUNK, None]
        if efron:
            T -= f1 * q1[lo:lo + _CHUNK, None]
            U = f1 * q2[lo:lo + _CHUNK, None]
            U -= s1 * q1[lo:lo + _CHUNK, None]
            out += f1.T @ U
        out += s1.T @ T
    return out


def _weighted_gram(X: np.ndarray, c: np.ndarray, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Xᵀ diag(c) X`` and ``Xᵀ c`` in one pass, chunk by chunk so the scaled copy stays in cache."""
    p = X.shape[1]
    gram = np.zeros((p, p))
    xtc = np.zeros(p)
    for lo in range(0, X.shape[0], _CHUNK):
        xc = X[lo:lo + _CHUNK]
        cc = c[lo:lo + _CHUNK]
        cx = np.multiply(xc, cc[:, None], out=buf[:xc.shape[0]])
        gram += cx.T @ xc          # this operand order maps onto a faster BLAS call than xc.T @ cx
        xtc += cc @ xc
    return gram, xtc


def evaluate(pr: CoxProblem, beta: np.ndarray, info: bool = True):
    """loglik, score and information at ``beta``, all in R's scaled coordinates, as ``coxfit6_iter``."""
    s = pr.scale
    bc = beta * s                                  # the same linear predictor on the centred, unscaled X
    if bc.any():
        r = _linear_predictor(pr.X, bc, _work(pr, "eta", (pr.n,)))
        np.exp(r, out=r)
        if pr.weighted:
            r *= pr.w                              # r = w exp(eta), in place: exp(eta) itself is not needed here
    else:
        r = pr.w                                   # beta = 0: exp(0) = 1, no pass over X needed
    moments = pr.moments and info
    gs = _event_sums(pr, r, moments, reuse=True)
    loglik = float(bc @ pr.u_dead) - gs.sum_mw_logD
    h = _segment_hazard(pr, gs)
    if pr.entry_group is not None:
        c = _work(pr, "c", (pr.n,))
        kernels.row_weights_entry(h, pr.seg_bounds, r, _cumulative_a(pr, gs), pr.entry_group, c)
        gram, xtc = _weighted_gram(pr.X, c, _work(pr, "gram", (_CHUNK, pr.p)))
    elif moments:
        # Σ_j c_j x_j x_jᵀ = Σ_seg h_seg Σ_{j in seg} r_j x_j x_jᵀ: the per-segment moments replace a pass over X
        gram = np.empty((pr.p, pr.p))
        rows, cols = np.tril_indices(pr.p)
        gram[rows, cols] = h @ gs.seg_w
        gram[cols, rows] = gram[rows, cols]
        xtc = h @ gs.seg_rx
    elif info:
        c = _work(pr, "c", (pr.n,))
        kernels.row_weights(h, pr.seg_bounds, r, c)
        gram, xtc = _weighted_gram(pr.X, c, _work(pr, "gram", (_CHUNK, pr.p)))
    else:
        xtc = h @ gs.seg_rx
    u = (pr.u_dead - xtc) * s
    if not info:
        return loglik, u, None
    imat = gram - _rank_one_sums(gs.S1, gs.e1, gs.q0, gs.q1, gs.q2, pr.efron)
    imat = (imat + imat.T) / 2 * np.outer(s, s)
    return loglik, u, imat


_evaluate_problem = evaluate


def _factor(a: np.ndarray, toler: float = TOLER_CHOL) -> tuple[np.ndarray, int]:
    """:func:`~._cholesky.ldl_factor` (R's ``cholesky2``) by the compiled kernel: the same factor and rank, to
    the bit (the same operations in the same order), without a NumPy call per pivot."""
    m = np.array(a, dtype=float, order="C")
    return m, int(kernels.ldl_factor(m, float(toler)))


def wald_statistic(var: np.ndarray, b: np.ndarray, toler: float = TOLER_CHOL) -> float:
    """R's ``coxph.wtest(var, b)$test``: ``bᵀ var⁻¹ b`` through the same Cholesky (as
    :func:`~._cholesky.wald_statistic`, with the compiled factor)."""
    f, _ = _factor(var, toler)
    return float(b @ ldl_solve(f, b))


@dataclass
class CoxFit:
    """Raw fit on the original covariate scale (R's ``coxfit6`` outputs)."""

    coef: np.ndarray
    var: np.ndarray          # inverse information at the final beta (0 rows/cols for singular columns)
    loglik: np.ndarray       # [at init, final]
    score_test: float        # R's sctest: score test at the initial beta
    u: np.ndarray            # score at the final beta (original scale)
    iterations: int
    converged: bool
    rank: int                # rank of the information at the last step (R's flag), p when full
    singular: np.ndarray     # bool per column: pivot deemed singular by cholesky2 at init
    means: np.ndarray


def fit(pr: CoxProblem, max_iter: int = ITER_MAX, eps: float = EPS, toler: float = TOLER_CHOL,
        init: np.ndarray | None = None, evaluator=None) -> CoxFit:
    """Newton–Raphson exactly as R's coxfit6 (including step-halving and its convergence test).

    ``evaluator(beta) -> (loglik, score, information)`` replaces :func:`evaluate` (the federated fit sums
    the sites' contributions there); ``pr`` then needs only ``p``, ``scale`` and ``means``."""
    if evaluator is not None:
        evaluate = lambda _pr, b: evaluator(b)  # noqa: E731 (shadows the module function in this call only)
    else:
        evaluate = _evaluate_problem
    p = pr.p
    scale = pr.scale
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float) / scale
    ll0, u, imat = evaluate(pr, beta)
    fac, rank = _factor(imat, toler)
    singular0 = np.diag(fac) == 0
    step = ldl_solve(fac, u)
    sctest = float(u @ step)

    def unscale(fac_):
        var = ldl_inverse(fac_) * np.outer(scale, scale)
        return var

    if max_iter == 0 or not np.isfinite(ll0):
        return CoxFit(coef=beta * scale, var=unscale(fac), loglik=np.array([ll0, ll0]), score_test=sctest,
                      u=u / scale, iterations=0, converged=True, rank=rank, singular=singular0, means=pr.means)

    best = ll0
    newbeta = beta + step
    halving = 0
    it = 0
    for it in range(1, max_iter + 1):
        newlk, u, imat = evaluate(pr, newbeta)
        fac, rank = _factor(imat, toler)
        notfinite = (not np.all(np.isfinite(u))) or (not np.all(np.isfinite(imat))) or (not np.isfinite(newlk))
        if not notfinite and abs(1 - best / newlk) <= eps:
            return CoxFit(coef=newbeta * scale, var=unscale(fac), loglik=np.array([ll0, newlk]),
                          score_test=sctest, u=u / scale, iterations=it, converged=True, rank=rank,
                          singular=singular0, means=pr.means)
        if notfinite or newlk < best:
            halving += 1
            newbeta = (newbeta + halving * beta) / (halving + 1.0)
        else:
            halving = 0
            best = newlk
            beta = newbeta
            newbeta = newbeta + ldl_solve(fac, u)

    # Out of iterations: R recomputes at the last good beta.
    if max_iter > 1:
        best, u, imat = evaluate(pr, beta)
        fac, rank = _factor(imat, toler)
    return CoxFit(coef=beta * scale, var=unscale(fac), loglik=np.array([ll0, best]), score_test=sctest,
                  u=u / scale, iterations=max_iter, converged=False, rank=rank, singular=singular0, means=pr.means)
