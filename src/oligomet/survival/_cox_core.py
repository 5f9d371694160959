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

* risk-set sums S0, S1 at each event time are reverse cumulative sums of tie-block
  sums, taken in the same cached pass as the linear predictor, so only ``n_blocks × p``
  numbers are kept;
* the second-moment term ``Σ_k Σ_l w̄_k S2_kl / D_kl`` is rewritten as one
  weighted product ``Xᵀ diag(c) X`` with a per-row weight
  ``c_j = r_j (Σ_{k: t_k <= t_j} a_k − δ_j b_{k(j)})``; Efron's correction only
  changes ``a_k = Σ_l w̄/D_kl`` and ``b_k = Σ_l w̄ f_l / D_kl``;
* the mean outer products ``Σ_l w̄ m_kl m_klᵀ`` expand into three rank-one terms
  per event time (in S1_k and the deaths' sum e1_k), i.e. ``K × p × p`` work.

The same per-row weight gives the score ``U = Σ_deaths w x − Xᵀ c``. All of this
is exact algebra, not an approximation; it is what makes a 10⁶ × 10 fit with
heavy ties take about half a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

try:  # CSR × dense kernel without building a sparse matrix per chunk; see _risk_and_segment_sums
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - private SciPy API; the public sparse product below is the fallback
    _csr_matvecs = None


class single_threaded_blas:
    """Context manager: OpenBLAS runs single-threaded in this thread while the Cox fit runs.

    The fit makes hundreds of small BLAS calls on cache-sized chunks. With OpenBLAS's worker threads
    each call pays a wake-up, and the workers' spin-waiting competes with the memory-bound NumPy work
    for the same cores: measured here (2 cores, 10⁶ × 10), the whole fit takes ~0.65 s with the default
    threads and ~0.48 s with one. ``openblas_set_num_threads_local`` (OpenBLAS >= 0.3.27) changes only
    the calling thread's setting and returns the previous one, so other threads are unaffected. Without
    that symbol (another BLAS, or an older OpenBLAS) this does nothing.
    """

    _setter = None
    _looked = False

    @classmethod
    def _find(cls):
        if cls._looked:
            return cls._setter
        cls._looked = True
        try:
            import ctypes
            import re
            with open("/proc/self/maps") as fh:
                paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", fh.read())))
            for path in paths:
                fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                    cls._setter = fn
                    break
        except Exception:  # pragma: no cover - non-Linux or unusual builds: keep the default threading
            cls._setter = None
        return cls._setter

    def __enter__(self):
        fn = self._find()
        self._previous = fn(1) if fn is not None else None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            self._find()(self._previous)
        return False


EPS = 1e-9                    # R: coxph.control(eps)
TOLER_CHOL = float(np.finfo(float).eps) ** 0.75   # R: coxph.control(toler.chol) = .Machine$double.eps^0.75
TOLER_INF = EPS ** 0.5        # R: coxph.control(toler.inf) = sqrt(eps)
ITER_MAX = 20                 # R: coxph.control(iter.max)


# ----------------------------------------------------------------------------------------------------------------
# R's cholesky2 / chsolve2 / chinv2 semantics (LDLᵀ with a relative singularity tolerance). Written with NumPy
# row operations; p is small (tens), so a Python loop over p pivots costs microseconds. We keep R's rules
# (which pivots count as singular, zero rows/columns in the inverse) so that rank decisions match R.
# ----------------------------------------------------------------------------------------------------------------
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

    r: np.ndarray        # w * exp(eta) per sorted row
    score: np.ndarray    # exp(eta) per sorted row
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


@dataclass
class CoxProblem:
    """Data sorted once by (stratum, time, deaths first) plus the index arrays every evaluation reuses.

    ``X`` is the centred design (not scaled: R's scaling is applied to the p-vectors and p×p matrices
    instead, which is the same arithmetic up to rounding and saves two passes over n × p numbers).
    """

    order: np.ndarray          # sorted position -> original row
    X: np.ndarray              # (n, p) centred, sorted, C-contiguous
    w: np.ndarray
    status: np.ndarray
    time: np.ndarray
    means: np.ndarray
    scale: np.ndarray
    efron: bool
    seg_matrix: sparse.csr_matrix | None  # (n_seg, n) 0/1 rows summing each segment (fallback path only)
    pieces: tuple              # chunked layout of the segments for the fused pass (see _chunk_pieces)
    seg: np.ndarray            # row-segment starts (tie blocks split after their deaths)
    block_pos: np.ndarray      # position in seg of each tie block's start
    block_bounds: np.ndarray   # stratum boundaries in block index space
    gblock: np.ndarray         # (K,) block index of each event time
    death_pos: np.ndarray      # (K,) position in seg of each event time's death segment
    group_bounds: np.ndarray   # stratum boundaries in event-time index space
    gd: np.ndarray             # (K,) number of deaths
    gdw: np.ndarray            # (K,) sum of death weights
    term_group: np.ndarray     # (T,) event time of each Efron term (terms of one event time are contiguous)
    term_start: np.ndarray     # (K,) first term of each event time (for np.add.reduceat)
    term_f: np.ndarray         # (T,) fraction of the tied deaths removed in that term
    mw: np.ndarray             # (K,) weight of each term: w̄ = deadwt/ndead for Efron, deadwt for Breslow
    row_group: np.ndarray      # (n,) last event time <= row's time in its stratum; K if none
    u_dead: np.ndarray         # Σ_deaths w x (centred)
    absdev: np.ndarray         # Σ w |x − mean| per column (0 for a constant column)
    _buf: np.ndarray = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def K(self) -> int:
        return self.gd.size


_CHUNK = 4096  # rows per block in the X'diag(c)X product: 4096 × p doubles stay in cache
_FUSE_CHUNK = 8192  # rows per block in the fused linear-predictor / segment-sum pass


def _chunk_pieces(seg: np.ndarray, n: int):
    """Split the row segments at chunk boundaries so a chunk's segment sums can be taken while it is in cache.

    Returns (chunk starts, per-chunk local CSR row pointers, position of each chunk's first piece,
    first piece of each segment, number of pieces).
    """
    chunk_starts = np.arange(0, n, _FUSE_CHUNK)
    piece_starts = np.union1d(seg, chunk_starts)
    ps = np.append(np.searchsorted(piece_starts, chunk_starts), piece_starts.size)
    local = []
    for i, lo in enumerate(chunk_starts):
        hi = min(lo + _FUSE_CHUNK, n)
        local.append(np.append(piece_starts[ps[i]:ps[i + 1]] - lo, hi - lo).astype(np.int32))
    seg_first = np.searchsorted(piece_starts, seg)
    return chunk_starts, local, ps, seg_first, piece_starts.size


def prepare(time, status, X, strata=None, weights=None, ties: str = "efron") -> CoxProblem:
    """Sort once and build the index structure. ``time`` should already have near-ties merged."""
    time = np.asarray(time, dtype=float)
    status = np.asarray(status, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, p = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)

    # Sort: by time (quicksort; rows with equal keys are exchangeable), then stably by stratum, then stably
    # put deaths first within each (stratum, time) block. The later stable sorts run on nearly sorted keys.
    if n and time.max() < 2 ** 15 and np.all(time == np.floor(time)):
        order = np.argsort(time.astype(np.int16), kind="stable")   # integer days: NumPy's O(n) radix sort
    else:
        order = np.argsort(time)
    if strata is not None:
        s_codes = np.asarray(strata)
        codes = s_codes[order]
        small = codes.astype(np.int16) if codes.size and codes.max() < 2 ** 15 and codes.min() >= 0 else codes
        order = order[np.argsort(small, kind="stable")]
    t_s = time[order]
    newblock = np.empty(n, dtype=bool)
    newblock[0] = True
    np.not_equal(t_s[1:], t_s[:-1], out=newblock[1:])
    if strata is not None:
        st = s_codes[order]
        newstrat = np.empty(n, dtype=bool)
        newstrat[0] = True
        np.not_equal(st[1:], st[:-1], out=newstrat[1:])
        newblock |= newstrat
    block_id = np.cumsum(newblock) - 1
    key = block_id * 2
    key += status[order] == 0
    if key[-1] < 2 ** 15:
        key = key.astype(np.int16)                 # radix sort again; otherwise timsort on near-sorted keys
    order = order[np.argsort(key, kind="stable")]
    # The last sort only permutes rows inside their block, so block_id and the block starts are unchanged.

    t_s = time[order]
    d_s = status[order]
    w_s = w[order]
    wsum = w_s.sum()
    dw_s = d_s * w_s
    means = (w @ X) / wsum                         # on the unsorted rows: the gather below can then centre too
    # One pass, chunk by chunk so each block stays in cache: gather the rows into sorted order, centre them,
    # and accumulate R's scale denominator and the deaths' score term. Every later pass over X is sequential.
    Xs = np.empty((n, p))
    absdev = np.zeros(p)
    u_dead = np.zeros(p)                           # Σ_deaths w (x − mean)
    for lo in range(0, n, _CHUNK):
        xc = Xs[lo:lo + _CHUNK]
        np.take(X, order[lo:lo + _CHUNK], axis=0, out=xc, mode="clip")  # valid indices; "raise" buffers
        xc -= means
        # einsum's own loop, not BLAS: a multithreaded BLAS call per small chunk costs more than it saves
        absdev += np.einsum("i,ij->j", w_s[lo:lo + _CHUNK], np.abs(xc))
        u_dead += dw_s[lo:lo + _CHUNK] @ xc
    scale = np.where(absdev > 0, wsum / np.where(absdev > 0, absdev, 1.0), 1.0)

    block_start = np.flatnonzero(newblock)
    nb = block_start.size
    if strata is not None:
        bstrat = s_codes[order][block_start]
        block_bounds = np.concatenate(([0], np.flatnonzero(np.diff(bstrat)) + 1, [nb]))
    else:
        bstrat = np.zeros(nb, dtype=np.int64)
        block_bounds = np.array([0, nb])
    nd_b = np.add.reduceat(d_s, block_start)
    dw_b = np.add.reduceat(dw_s, block_start)
    is_ev = nd_b > 0
    gblock = np.flatnonzero(is_ev)
    K = gblock.size
    gd = nd_b[gblock].astype(np.int64)
    gdw = dw_b[gblock]
    gstart = block_start[gblock]
    death_end = gstart + gd
    seg = np.union1d(block_start, death_end[death_end < n])
    block_pos = np.searchsorted(seg, block_start)
    death_pos = np.searchsorted(seg, gstart)
    gstrat = bstrat[gblock]
    if strata is not None:
        group_bounds = np.concatenate(([0], np.flatnonzero(np.diff(gstrat)) + 1, [K]))
    else:
        group_bounds = np.array([0, K])
    # Segment sums of r·x: chunk-local CSR row pointers for the fused pass, or (fallback) one sparse
    # (n_seg × n) product; both are much faster than np.add.reduceat along the rows of a C-ordered array.
    if _csr_matvecs is not None:
        seg_matrix, pieces = None, _chunk_pieces(seg, n)
    else:
        seg_matrix = sparse.csr_matrix((np.ones(n), np.arange(n), np.append(seg, n)), shape=(seg.size, n))
        pieces = ()

    # Efron expansion: one term per tied death (f = 0, 1/d, ..., (d-1)/d). Breslow: one term per event time.
    if ties == "efron":
        term_start = np.cumsum(gd) - gd
        term_group = np.repeat(np.arange(K), gd)
        term_f = (np.arange(term_group.size) - term_start[term_group]) / gd[term_group]
        mw = gdw / gd
    elif ties == "breslow":
        term_start = np.arange(K)
        term_group = np.arange(K)
        term_f = np.zeros(K)
        mw = gdw.copy()
    else:
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")

    # Each row's last event time at or before its own time, in its own stratum (K = none).
    last_ev = np.cumsum(is_ev) - 1                 # per block, global event-time index
    ok = last_ev >= 0
    ok[ok] &= gstrat[last_ev[ok]] == bstrat[ok]
    blk_group = np.where(ok, last_ev, K)
    row_group = blk_group[block_id]

    return CoxProblem(order=order, X=Xs, w=w_s, status=d_s, time=t_s, means=means, scale=scale,
                      efron=(ties == "efron"), seg_matrix=seg_matrix, pieces=pieces, seg=seg, block_pos=block_pos,
                      block_bounds=block_bounds, gblock=gblock, death_pos=death_pos, group_bounds=group_bounds,
                      gd=gd, gdw=gdw, term_group=term_group, term_start=term_start, term_f=term_f, mw=mw,
                      row_group=row_group, u_dead=u_dead, absdev=absdev)


def _risk_and_segment_sums(pr: CoxProblem, beta: np.ndarray):
    """exp(x·beta), r = w·exp(x·beta) and the per-segment sums of r·x.

    Fused over cache-sized chunks: each chunk's linear predictor and its segment sums are computed while
    the chunk is in cache (one pass over X instead of two). The segment sums use SciPy's CSR kernel
    directly, with the chunk's local row pointers, so no sparse matrix is built per chunk.
    """
    X, n, p = pr.X, pr.n, pr.p
    if not pr.pieces:
        score = np.exp(X @ beta)
        r = score * pr.w
        M = pr.seg_matrix
        M.data = r
        return score, r, M @ X
    chunk_starts, local, ps, seg_first, npieces = pr.pieces
    score = np.empty(n)
    pieces = np.zeros((npieces, p))
    cols = np.arange(_FUSE_CHUNK, dtype=np.int32)
    for i, lo in enumerate(chunk_starts):
        xc = X[lo:lo + _FUSE_CHUNK]
        m = xc.shape[0]
        sc = score[lo:lo + m]
        np.dot(xc, beta, out=sc)
        np.exp(sc, out=sc)
        ip = local[i]
        rc = sc * pr.w[lo:lo + m]
        _csr_matvecs(ip.size - 1, m, p, ip, cols[:m], rc, xc.ravel(), pieces[ps[i]:ps[i + 1]].ravel())
    r = score * pr.w
    return score, r, np.add.reduceat(pieces, seg_first, axis=0)


def group_sums(pr: CoxProblem, beta: np.ndarray) -> GroupSums:
    """Risk-set sums and the Efron/Breslow per-event-time scalars at ``beta`` (centred, unscaled coordinates)."""
    score, r, seg_rX = _risk_and_segment_sums(pr, beta)
    seg_r = np.add.reduceat(r, pr.seg)
    blk_r = np.add.reduceat(seg_r, pr.block_pos)
    blk_rX = np.add.reduceat(seg_rX, pr.block_pos, axis=0)
    S0 = _seg_cumsum(blk_r, pr.block_bounds, reverse=True)[pr.gblock]
    S1 = _seg_cumsum(blk_rX, pr.block_bounds, reverse=True)[pr.gblock]
    e = seg_r[pr.death_pos]
    e1 = seg_rX[pr.death_pos]

    mw = pr.mw
    if not pr.efron:   # one term per event time, f = 0
        inv = 1.0 / S0
        zero = np.zeros_like(S0)
        return GroupSums(r=r, score=score, S0=S0, S1=S1, e=e, e1=e1, a=mw * inv, b=zero, q0=mw * inv * inv,
                         q1=zero, q2=zero, sum_mw_logD=float(mw @ np.log(S0)))
    # Efron: the terms of one event time are contiguous, so per-event sums are sequential np.add.reduceat
    # calls (much cheaper than scatter-adds); w̄ is constant within an event time and multiplies the sums.
    g, f, ts = pr.term_group, pr.term_f, pr.term_start
    D = S0[g]
    D -= f * e[g]
    inv = np.divide(1.0, D)
    fi = f * inv
    red = np.add.reduceat
    return GroupSums(
        r=r, score=score, S0=S0, S1=S1, e=e, e1=e1,
        a=mw * red(inv, ts), b=mw * red(fi, ts),
        q0=mw * red(inv * inv, ts), q1=mw * red(fi * inv, ts), q2=mw * red(fi * fi, ts),
        sum_mw_logD=float(mw @ red(np.log(D), ts)),
    )


def _row_hazard(pr: CoxProblem, gs: GroupSums) -> np.ndarray:
    """Per row: Σ_{event times <= t_j, same stratum} a_k  −  δ_j b_{own event time}."""
    A = np.empty(pr.K + 1)
    A[:-1] = _seg_cumsum(gs.a, pr.group_bounds)
    A[-1] = 0.0
    B = np.append(gs.b, 0.0)
    h = A[pr.row_group]
    h -= pr.status * B[pr.row_group]
    return h


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
    gs = group_sums(pr, bc)
    loglik = float(bc @ pr.u_dead) - gs.sum_mw_logD
    c = gs.r * _row_hazard(pr, gs)
    if pr._buf is None:
        pr._buf = np.empty((_CHUNK, pr.p))
    gram, xtc = _weighted_gram(pr.X, c, pr._buf)
    u = (pr.u_dead - xtc) * s
    if not info:
        return loglik, u, None
    S1, e1 = gs.S1, gs.e1
    t1 = (S1 * gs.q1[:, None]).T @ e1
    imat = gram - ((S1 * gs.q0[:, None]).T @ S1 - t1 - t1.T + (e1 * gs.q2[:, None]).T @ e1)
    imat = (imat + imat.T) / 2 * np.outer(s, s)
    return loglik, u, imat


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
        init: np.ndarray | None = None) -> CoxFit:
    """Newton–Raphson exactly as R's coxfit6 (including step-halving and its convergence test)."""
    p = pr.p
    scale = pr.scale
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float) / scale
    ll0, u, imat = evaluate(pr, beta)
    fac, rank = ldl_factor(imat, toler)
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
        fac, rank = ldl_factor(imat, toler)
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
        fac, rank = ldl_factor(imat, toler)
    return CoxFit(coef=beta * scale, var=unscale(fac), loglik=np.array([ll0, best]), score_test=sctest,
                  u=u / scale, iterations=max_iter, converged=False, rank=rank, singular=singular0, means=pr.means)


def score_residuals_sorted(pr: CoxProblem, coef: np.ndarray, weighted: bool = False) -> np.ndarray:
    """Score residuals (R's ``residuals(fit, type = "score")``, coxscore2.c), rows in the problem's sorted order.

    ``coef`` is on the original covariate scale; the result is (n, p) on the original scale, multiplied by the
    case weights when ``weighted``. For row j (δ_j = death, g = its last event time, s_j = exp(η_j)):

        res_j = δ_j (x_j − m̄_g) − s_j (x_j H_j − M_j) + δ_j s_j (x_j b_g − E_g)

    with H the cumulative Σ a_k, M the cumulative Σ (S1 q0 − e1 q1), m̄_g = (S1 a − e1 b)/deadwt the
    deaths' own mean and E_g = S1 q1 − e1 q2 Efron's partial removal of the deaths from later terms. That is
    ``x_j α_j + s_j (M_j − δ_j E_g) − δ_j m̄_g`` with one scalar α_j per row, computed chunk by chunk.
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
    alpha = d * (1.0 + sc * B[rg]) - sc * H[rg]
    out = np.empty_like(pr.X)
    for lo in range(0, pr.n, _CHUNK):
        hi = min(lo + _CHUNK, pr.n)
        g, dc, scc = rg[lo:hi], d[lo:hi, None], sc[lo:hi, None]
        res = pr.X[lo:hi] * alpha[lo:hi, None]
        res += scc * (M[g] - dc * E[g])
        res -= dc * own[g]
        if weighted:
            res *= pr.w[lo:hi, None]
        out[lo:hi] = res
    return out


def score_residuals(pr: CoxProblem, coef: np.ndarray) -> np.ndarray:
    """Unweighted score residuals in original row order (see :func:`score_residuals_sorted`)."""
    res = score_residuals_sorted(pr, coef)
    out = np.empty_like(res)
    out[pr.order] = res
    return out
