"""Array core of the Kaplan-Meier estimator and the G-rho log-rank tests.

Everything here works on plain NumPy arrays that the public functions have
already validated. The layout is one sort, then counts: rows are mapped to
*cells* (block, distinct time) ordered by block then time, where a block is a
KM group or a log-rank stratum, and every per-time quantity is a ``bincount``
over cells followed by (reverse) cumulative sums within blocks. There is no
Python loop over times, which is what keeps 10^6 rows well under a second.

The formulas follow R's survival 3.5-3 (``survfitkm.c``, ``survdiff2.c``);
the docstrings say where.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._fitted_arrays import last_at_or_before
from ._ties import TOLERANCE, merge_near_ties


@dataclass(frozen=True)
class Cells:
    """Rows mapped to (block, distinct time) cells, ordered by block then time."""

    time: np.ndarray      # time of each cell
    block: np.ndarray     # block code of each cell
    of_row: np.ndarray    # cell index of each row
    starts: np.ndarray    # first cell of each block (len nblock + 1, last = ncells)


def tied_times(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct times after R's near-tie merging (aeqSurv), and each row's code.

    ``merge_near_ties`` looks only at the distinct values (it calls np.unique
    itself), so applying it to the distinct values gives the same mapping as
    applying it to the rows, and saves a second sort of the full vector.
    """
    utime, code = _distinct_integer_times(time)
    if utime is None:
        utime, code = np.unique(time, return_inverse=True)
    if utime.size < 2:
        return utime, code.astype(np.int64, copy=False)
    # merge_near_ties merges gaps <= tol or <= tol * mean|t|; both imply gap <= tol * max(1, mean|t|),
    # so when no gap is that small there is nothing to merge and its extra sort is skipped.
    if np.min(np.diff(utime)) > TOLERANCE * max(1.0, float(np.mean(np.abs(utime)))):
        return utime, code.astype(np.int64, copy=False)
    merged = merge_near_ties(utime)
    if np.any(merged[1:] == merged[:-1]):
        utime, remap = np.unique(merged, return_inverse=True)
        code = remap[code]
    return utime, code.astype(np.int64, copy=False)


def _distinct_integer_times(time: np.ndarray):
    """np.unique for whole-number times (days, months) by counting instead of sorting: O(n).

    Registry times are nearly always integer days; a bincount over their range is several
    times faster than the sort inside np.unique at 10^6 rows. Returns (None, None) when
    the times are not whole numbers or their range is much wider than the row count.
    """
    if time.size == 0 or not np.array_equal(time[:64], np.floor(time[:64])):  # cheap early exit for real-valued times
        return None, None
    lo, hi = float(time.min()), float(time.max())
    if hi - lo > 4 * time.size + 100_000 or hi > 2 ** 52:
        return None, None
    t = time - lo
    ti = t.astype(np.int64)
    if not np.array_equal(ti, t):
        return None, None
    present = np.bincount(ti, minlength=int(hi - lo) + 1) > 0
    code = (np.cumsum(present) - 1)[ti]
    return np.flatnonzero(present) + lo, code


def make_cells(time: np.ndarray, block: np.ndarray | None, nblock: int) -> Cells:
    utime, tcode = tied_times(time)
    ntime = utime.size
    key = tcode if block is None else block.astype(np.int64) * ntime + tcode
    if nblock * ntime <= max(4 * key.size, 1 << 20):
        # Dense (block x time) grid: a bincount replaces a second sort.
        present = np.bincount(key, minlength=nblock * ntime) > 0
        cellkey = np.flatnonzero(present)
        of_row = (np.cumsum(present) - 1)[key]
    else:
        cellkey, of_row = np.unique(key, return_inverse=True)
    cblock = cellkey // ntime
    starts = np.searchsorted(cblock, np.arange(nblock + 1), side="left")
    return Cells(time=utime[cellkey % ntime], block=cblock, of_row=of_row.astype(np.int64, copy=False),
                 starts=starts)


def cell_sums(cells: Cells, values: np.ndarray | None = None, column: np.ndarray | None = None,
              ncol: int = 1) -> np.ndarray:
    """Sum ``values`` (1 when None) per cell, optionally split by an integer ``column``: shape (ncells, ncol)."""
    n = cells.time.size
    if column is None:
        return np.bincount(cells.of_row, weights=values, minlength=n).astype(float).reshape(n, 1)
    return np.bincount(cells.of_row * ncol + column, weights=values, minlength=n * ncol).astype(float).reshape(n, ncol)


def reverse_cumsum_within(cells: Cells, x: np.ndarray) -> np.ndarray:
    """Sum of ``x`` over the cells at or after each cell, within its block (the risk set)."""
    rc = np.cumsum(x[::-1], axis=0)[::-1]
    rc = np.concatenate([rc, np.zeros((1,) + x.shape[1:])], axis=0)
    end = cells.starts[cells.block + 1]
    return rc[:-1] - rc[end]


def cumsum_within(cells: Cells, x: np.ndarray) -> np.ndarray:
    """Running sum of ``x`` up to and including each cell, within its block."""
    c = np.cumsum(x, axis=0)
    c0 = np.concatenate([np.zeros((1,) + x.shape[1:]), c], axis=0)
    return c - c0[cells.starts[cells.block]]


def cumprod_within(cells: Cells, factor: np.ndarray) -> np.ndarray:
    """Running product within blocks. One ``np.cumprod`` per block (blocks are few; times are not looped)."""
    out = np.empty_like(factor)
    s = cells.starts
    for b in range(s.size - 1):
        out[s[b]:s[b + 1]] = np.cumprod(factor[s[b]:s[b + 1]])
    return out


# --------------------------------------------------------------------------- Kaplan-Meier

def _at_entry(cells: Cells, entry: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per cell: the sum of ``values`` over the rows whose last cell at or before their entry is this one,
    i.e. the rows that are not yet at risk at this cell and at the ones before it."""
    return np.bincount(entry[entry >= 0], weights=values[entry >= 0], minlength=cells.time.size).astype(float)


def _still_at_risk(cells: Cells, entry: np.ndarray | None, values: np.ndarray) -> np.ndarray:
    """Per cell: the sum of ``values`` over the rows that are at risk just after it (time > the cell's and,
    for (start, stop] rows, entered before it)."""
    per_cell = cell_sums(cells, values)[:, 0]
    later = reverse_cumsum_within(cells, per_cell) - per_cell
    if entry is not None:
        later -= reverse_cumsum_within(cells, _at_entry(cells, entry, values))
    return later


@dataclass(frozen=True)
class RiskSets:
    """Rows mapped to cells, with the weighted counts per cell that every curve here is built from.

    ``n`` is the weight at risk at the cell (stop >= time, and for (start, stop] rows entered before it),
    ``d`` the weighted events, ``surviving`` the weight still at risk just after the cell (n - d, built
    without a subtraction so that it is exactly 0 where everybody left dies), ``m`` the unweighted
    number of events. Per row: ``weight``, ``event`` and ``entry`` (the last cell of its group at or
    before its entry time, -1 when none; None without entry times).
    """

    cells: Cells
    weight: np.ndarray
    event: np.ndarray
    entry: np.ndarray | None
    n_rows: np.ndarray
    total: np.ndarray
    n: np.ndarray
    d: np.ndarray
    m: np.ndarray
    surviving: np.ndarray


def risk_sets(time: np.ndarray, event: np.ndarray, group: np.ndarray | None, ngroup: int,
              weights: np.ndarray | None = None, start: np.ndarray | None = None) -> RiskSets:
    """The one risk-set computation behind the Kaplan-Meier, cumulative-hazard and RMST cores.

    ``start`` (entry times; ``time`` are then the stops, R's ``Surv(start, stop, event)``): a row is at
    risk at t when start < t <= stop, so the number at risk loses the rows entering at or after t.
    """
    w = np.ones_like(time) if weights is None else weights
    cells = make_cells(time, group, ngroup)
    tot = cell_sums(cells, w)[:, 0]
    d = cell_sums(cells, w * event)[:, 0]
    n = reverse_cumsum_within(cells, tot)
    entry = None
    if start is not None:
        g = np.zeros(start.size, dtype=np.int64) if group is None else group
        entry = last_at_or_before(cells.block, cells.time, g, start)     # last cell at or before entry, -1: none
        n = n - reverse_cumsum_within(cells, _at_entry(cells, entry, w))
    # n - d, the weight surviving the cell, is built as (weight of later cells) + (censored
    # here) rather than by subtraction: with fractional weights n - d would otherwise come
    # out as +-1e-17 instead of 0 where everybody left dies, and S could dip below 0.
    later = np.maximum(n - tot, 0.0)
    later[cells.starts[1:][np.diff(cells.starts) > 0] - 1] = 0.0   # last cell of each block: nobody later
    surviving = later + cell_sums(cells, w * (1.0 - event))[:, 0]
    return RiskSets(cells=cells, weight=w, event=event, entry=entry, n_rows=cell_sums(cells)[:, 0], total=tot,
                    n=n, d=d, m=cell_sums(cells, event)[:, 0], surviving=surviving)


def km_curve(rs: RiskSets) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier S per cell and the Greenwood increment d / (n (n - d)) (0 where n == d)."""
    d, n, surviving = rs.d, rs.n, rs.surviving
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(d > 0, surviving / np.where(n > 0, n, 1.0), 1.0)
        # surviving == 0 only at the last cell of a block (nobody left after it): keep that
        # infinite term out of the running sum so it cannot leak into the next block.
        inc = np.where((d > 0) & (surviving > 0), d / (n * surviving), 0.0)
    return cumprod_within(rs.cells, factor), inc


def row_influence(rs: RiskSets, a: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Influence of each row on a running sum of hazard-like increments, once past its stop time.

    The quantity is sum over cells s of [dN(s) a(s) - Y(s) r(s)] per unit of weight: an event row
    adds ``a`` at its own cell, and every row at risk at s (entered before s, stop >= s) takes ``r(s)``
    off. For the Kaplan-Meier log S (negated) a = 1/(n - d), r = d/(n (n - d)); for the Nelson-Aalen
    hazard a = 1/n, r = d/n^2 (R's survfitkm.c). Returns (per-row final influence times the weight,
    R = running sum of r per cell, R at each row's entry).
    """
    cells = rs.cells
    R = cumsum_within(cells, r)
    Re = np.zeros(rs.weight.size) if rs.entry is None else np.where(rs.entry >= 0, R[np.maximum(rs.entry, 0)], 0.0)
    final = rs.weight * (rs.event * a[cells.of_row] - (R[cells.of_row] - Re))
    return final, R, Re


def influence_variance(rs: RiskSets, a: np.ndarray, r: np.ndarray, cluster: np.ndarray | None = None) -> np.ndarray:
    """Infinitesimal-jackknife variance per cell: sum over clusters of U_c(t)^2 (see ``row_influence``).

    Without ``cluster`` every row is its own cluster. Its influence is final once t passes its stop
    (a running sum), and while at risk it is w (R(entry) - R(t)), so the sum over the rows still at
    risk is R(t)^2 sum w^2 - 2 R(t) sum w^2 R(entry) + sum w^2 R(entry)^2: O(n), no loop over times.

    With ``cluster`` (integer codes, R's ``id=``), U_c(t) = K_c(t) - R(t) Y_c(t), where Y_c is the
    cluster's weight at risk and K_c collects its finished rows and the R(entry) offsets of its rows at
    risk. K_c and Y_c change only where one of its rows enters or leaves, so sum_c K_c^2, sum_c K_c Y_c
    and sum_c Y_c^2 are running sums of their changes at those cells: one sort of 2n change points.

    Variances change only at event cells; the value of the last event cell is carried over the
    censoring-only cells (there the sums trade terms and agree only up to rounding, which depends on
    row order and could move a flat CI band by an ulp).
    """
    cells = rs.cells
    final, R, Re = row_influence(rs, a, r)
    w = rs.weight
    if cluster is None:
        done = cumsum_within(cells, cell_sums(cells, final ** 2)[:, 0])
        w2 = w * w
        later = [_still_at_risk(cells, rs.entry, v) for v in (w2, w2 * Re, w2 * Re * Re)]
        var = done + R ** 2 * later[0] - 2 * R * later[1] + later[2]
    else:
        row_block = cells.block[cells.of_row]
        first = cells.starts[row_block]
        joins = first if rs.entry is None else np.where(rs.entry >= 0, rs.entry + 1, first)
        key = np.concatenate([row_block, row_block]) * (int(cluster.max()) + 1) + np.concatenate([cluster, cluster])
        at = np.concatenate([joins, cells.of_row])
        dk = np.concatenate([w * Re, final - w * Re])
        dy = np.concatenate([w, -w])
        point = key * cells.time.size + at                 # (cluster, cell) in one int64: one argsort, no lexsort
        order = np.argsort(point)
        point, key, at, dk, dy = point[order], key[order], at[order], dk[order], dy[order]
        run = np.flatnonzero(np.concatenate([[True], point[1:] != point[:-1]]))
        key, at = key[run], at[run]
        dk, dy = np.add.reduceat(dk, run), np.add.reduceat(dy, run)
        new = np.concatenate([[True], key[1:] != key[:-1]])          # first change point of a cluster
        k_after, y_after = _cumsum_runs(dk, new), _cumsum_runs(dy, new)
        k_before, y_before = k_after - dk, y_after - dy
        k_before[new], y_before[new] = 0.0, 0.0
        sums = [cumsum_within(cells, np.bincount(at, weights=v, minlength=cells.time.size))
                for v in (k_after ** 2 - k_before ** 2, k_after * y_after - k_before * y_before,
                          y_after ** 2 - y_before ** 2)]
        var = sums[0] - 2 * R * sums[1] + R ** 2 * sums[2]
    cell = np.arange(cells.time.size)
    last = np.maximum.accumulate(np.where((rs.d > 0) | (cell == cells.starts[cells.block]), cell, 0))
    return np.maximum(var[last], 0.0)


def _cumsum_runs(x: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Running sum of x restarting where ``new`` is True."""
    c = np.cumsum(x)
    return c - (c - x)[np.maximum.accumulate(np.where(new, np.arange(x.size), 0))]


def run_ends(cluster: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """For (start, stop] rows with an id: True for a row that ends its subject's run of contiguous rows.

    R's ``survflag``: a row whose stop is the next row's start (same id, ordered by stop) continues
    the run, so its censoring is not counted in ``n.censor`` (the subject is still followed).
    """
    order = np.lexsort((stop, cluster))
    c, s0, s1 = cluster[order], start[order], stop[order]
    ends = np.ones(c.size, dtype=bool)
    ends[:-1] = (c[1:] != c[:-1]) | (s1[:-1] < s0[1:])
    out = np.empty_like(ends)
    out[order] = ends
    return out


@dataclass(frozen=True)
class KMArrays:
    """Per-cell KM quantities; ``std_err`` is on the cumulative-hazard scale unless ``logse`` is False."""

    cells: Cells
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    n_rows: np.ndarray      # unweighted number of rows per cell
    survival: np.ndarray
    std_err: np.ndarray
    logse: bool


def km_fit(time: np.ndarray, event: np.ndarray, group: np.ndarray | None, ngroup: int,
           weights: np.ndarray | None = None, robust: bool = False, start: np.ndarray | None = None,
           cluster: np.ndarray | None = None) -> KMArrays:
    """Kaplan-Meier per group, as R's ``survfit`` (survfitkm.c, type 1).

    * survival: product over event times of (1 - d/n), with weighted d and n.
    * std_err (``robust=False``): Greenwood, sqrt(sum d / (n (n - d))) with weighted
      sums; this is the SE of the cumulative hazard, R's ``survfit()$std.err``. Where S
      reaches 0 (n == d) it is NaN (R's object holds Inf; its summary and JSON exports NaN).
    * std_err (``robust=True``): R's infinitesimal-jackknife SE of S itself (R's
      default when weights are not integers). The influence of row i (per unit of
      weight) on log S(t) is -sum_{s<=t} (dN_i(s) - Y_i(s) d(s)/n(s)) / (n(s) - d(s)),
      so Var S(t) = S(t)^2 sum_i w_i^2 [delta_i 1{T_i<=t} / (n - d)(T_i) - B(min(T_i, t))]^2
      with B(u) = sum_{s<=u} d / (n (n - d)) (``influence_variance``). Where S = 0, R reports 0;
      so do we. With ``cluster`` (R's ``id=``) the influences of a cluster's rows are summed
      before squaring: the grouped robust variance of ``survfit(..., id=, robust=TRUE)``.
    * ``start``: see ``risk_sets``. The curve has rows at the stop times only, as R's. In the robust
      SE a row carries only the hazard increments after its entry, and counts among those still at
      risk only once it has entered.
    """
    rs = risk_sets(time, event, group, ngroup, weights, start)
    surv, inc = km_curve(rs)
    if not robust:
        # R's survfit object holds Inf where S reaches 0 (n == d); its summary() and
        # the shared reference (JSON) hold NaN there. We report NaN: undefined, not a number.
        with np.errstate(invalid="ignore"):
            se = np.where(surv > 0, np.sqrt(cumsum_within(rs.cells, inc)), np.nan)
    else:
        with np.errstate(divide="ignore"):
            a = np.where(rs.surviving > 0, 1.0 / rs.surviving, 0.0)
        var = surv ** 2 * influence_variance(rs, a, inc, cluster)
        se = np.where(surv > 0, np.sqrt(var), 0.0)
    return KMArrays(cells=rs.cells, n_risk=rs.n, n_event=rs.d, n_censor=rs.total - rs.d, n_rows=rs.n_rows,
                    survival=surv, std_err=se, logse=not robust)


def confidence_band(surv: np.ndarray, se: np.ndarray, conf_type: str, conf_level: float,
                    logse: bool = True, ulimit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S as R's ``survival:::survfit_confint`` (conf.lower = "usual").

    * log:     S exp(+-z se), upper clipped at 1; NaN where S = 0.
    * log-log: exp(-exp(log(-log S) -+ z se / log S)); NaN where S is 0 or 1.
    * plain:   S +- z se S, clipped to [0, 1]; NaN where S = 0 and se = Inf (0 * Inf).
    * logit:   on log(S / (1 - S)) with half-width z se / (1 - S); NaN where S = 0, and where S = 1
      with se = 0 (R computes 0 * Inf there).
    * arcsin:  on asin(sqrt(S)) with half-width z se sqrt(S / (1 - S)) / 2, kept in [0, pi/2]; NaN
      where S = 0 or (S = 1, se = 0), as R.
    * none:    NaN.
    ``se`` is the SE of the cumulative hazard (``logse``) or of S (robust fits), in
    which case it is first divided by S, with 0 kept as 0 as R does. ``ulimit=False`` drops the
    upper bound 1 of the plain and log bands (R's ``ulimit``, used for a cumulative hazard).
    """
    nan = np.full_like(surv, np.nan)
    if conf_type == "none":
        return nan, nan.copy()
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if not logse:
            se = np.where(se == 0, 0.0, se / surv)
        if conf_type == "plain":
            half = se * surv * z
            return np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0) if ulimit else surv + half
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            lo = np.exp(np.log(xx) - z * se)
            hi = np.exp(np.log(xx) + z * se)
            hi = np.minimum(hi, 1.0) if ulimit else hi
            return lo, np.where(np.isnan(xx), np.nan, hi)
        if conf_type == "log-log":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            s2 = z * se / np.log(xx)
            return np.exp(-np.exp(np.log(-np.log(xx)) - s2)), np.exp(-np.exp(np.log(-np.log(xx)) + s2))
        if conf_type == "logit":
            xx = np.where(surv == 0, np.nan, surv)
            s2 = z * se * (1 + xx / (1 - xx))
            logit = np.log(surv / (1 - surv))
            return 1 - 1 / (1 + np.exp(logit - s2)), 1 - 1 / (1 + np.exp(logit + s2))
        if conf_type == "arcsin":
            xx = np.where(surv == 0, np.nan, surv)
            s2 = 0.5 * z * se * np.sqrt(xx / (1 - xx))
            angle = np.arcsin(np.sqrt(xx))
            # R's pmax/pmin drop NaN in favour of the bound only when na.rm; NaN stays NaN here as there
            return np.sin(_nan_max(angle - s2, 0.0)) ** 2, np.sin(_nan_min(angle + s2, np.pi / 2)) ** 2
    raise ValueError(f"conf_type must be one of {', '.join(map(repr, CONF_TYPES))}; got {conf_type!r}")


CONF_TYPES = ("log", "log-log", "plain", "logit", "arcsin", "none")


def _nan_max(a: np.ndarray, bound: float) -> np.ndarray:
    return np.where(np.isnan(a), np.nan, np.maximum(a, bound))


def _nan_min(a: np.ndarray, bound: float) -> np.ndarray:
    return np.where(np.isnan(a), np.nan, np.minimum(a, bound))


def find_quantile(x: np.ndarray, y: np.ndarray, p: np.ndarray, tol: float) -> np.ndarray:
    """R's ``survival:::findq``: the x where the step function y (= 1 - S) reaches p.

    ``x`` starts with the start time (0) and ``y`` with 0. Where 1 - S equals p on a
    flat stretch (within ``tol``), the answer is the midpoint of the stretch; if the
    curve ends on that stretch, the midpoint with the last time. NaN when not reached.
    """
    p = np.asarray(p, dtype=float)
    if np.all(np.isnan(y)) or np.nanmax(y) < p.min():
        return np.full(p.shape, np.nan)
    xmax = x[-1]
    # duplicated(): keep the first occurrence of each value (NaN counts as a value).
    key = np.where(np.isnan(y), np.inf, y)
    if np.all(key[1:] >= key[:-1]):
        # 1 - S and 1 - band are non-decreasing in practice: duplicates are then neighbours (no sort)
        keep = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    else:
        _, first = np.unique(key, return_index=True)
        keep = np.sort(first)
    x, y = x[keep], y[keep]
    idx = np.arange(y.size)

    def step_right(knots: np.ndarray) -> np.ndarray:
        # approx(knots, idx, p, method="constant", f=1): NaN outside the knots, the knot's
        # own index at a knot, the right neighbour's index strictly between knots.
        ok = ~np.isnan(knots)
        kx, ki = knots[ok], idx[ok]
        order = np.argsort(kx, kind="stable")
        kx, ki = kx[order], ki[order]
        pos = np.searchsorted(kx, p, side="left")
        inside = (p >= kx[0]) & (p <= kx[-1])
        out = np.full(p.shape, -1)
        out[inside] = ki[np.minimum(pos[inside], kx.size - 1)]
        return out

    i1, i2 = step_right(y + tol), step_right(y - tol)
    valid = (i1 >= 0) & (i2 >= 0)
    q = np.full(p.shape, np.nan)
    q[valid] = (x[i1[valid]] + x[i2[valid]]) / 2
    q[p == 0] = x[0]
    if not np.isnan(y[-1]):
        last = np.abs(p - y[-1]) < tol
        if last.any():
            q[last] = np.where(i1[last] >= 0, (x[np.maximum(i1[last], 0)] + xmax) / 2, np.nan)
    return q


# --------------------------------------------------------------------------- log-rank

@dataclass(frozen=True)
class LogrankArrays:
    observed: np.ndarray   # (ngroup,) summed over strata
    expected: np.ndarray
    variance: np.ndarray   # (ngroup, ngroup)
    observed_by_stratum: np.ndarray  # (nstrata, ngroup)
    expected_by_stratum: np.ndarray
    n: np.ndarray          # rows per group


def logrank_fit(time: np.ndarray, event: np.ndarray, group: np.ndarray, ngroup: int,
                stratum: np.ndarray | None, nstrata: int, rho: float = 0.0) -> LogrankArrays:
    """O, E and V of the G-rho test, as R's ``survdiff`` (survdiff2.c).

    At each event time of a stratum, with the weight w = S(t-)^rho where S is the
    Kaplan-Meier of the pooled stratum (left-continuous, unweighted counts):
    O_g += w d_g, E_g += w d n_g / n, and, when n > 1,
    V += w^2 d (n - d) / (n (n - 1)) (diag(n_g) - n_g n_g' / n).
    """
    cells = make_cells(time, stratum, nstrata)
    by_group = cell_sums(cells, None, group, ngroup)
    d_g = cell_sums(cells, event, group, ngroup)
    n_g = reverse_cumsum_within(cells, by_group)
    n = n_g.sum(axis=1)
    d = d_g.sum(axis=1)
    if rho != 0:
        factor = (n - d) / n
        km = cumprod_within(cells, factor)
        before = np.ones_like(km)              # S(t-): the product over earlier cells of the stratum
        before[1:] = km[:-1]
        before[cells.starts[:-1][np.diff(cells.starts) > 0]] = 1.0
        wt = before ** rho
    else:
        wt = np.ones_like(n)
    ev = d > 0
    wt, d, n, n_g, d_g = wt[ev], d[ev], n[ev], n_g[ev], d_g[ev]
    blk = cells.block[ev]
    obs_cell = wt[:, None] * d_g
    exp_cell = (wt * d / n)[:, None] * n_g
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(n > 1, wt ** 2 * d * (n - d) / (n * (n - 1)), 0.0)
    V = np.diag(c @ n_g) - (n_g * (c / n)[:, None]).T @ n_g
    obs_s = np.zeros((nstrata, ngroup))
    exp_s = np.zeros((nstrata, ngroup))
    np.add.at(obs_s, blk, obs_cell)
    np.add.at(exp_s, blk, exp_cell)
    counts = np.bincount(group, minlength=ngroup)
    return LogrankArrays(observed=obs_s.sum(axis=0), expected=exp_s.sum(axis=0), variance=V,
                         observed_by_stratum=obs_s, expected_by_stratum=exp_s, n=counts)


def chisq_test(o: np.ndarray, e: np.ndarray, v: np.ndarray) -> tuple[float, int]:
    """survdiff's statistic: groups with E > 0, first of them dropped, (O-E)' V^-1 (O-E).

    R calls ``solve``; when that sub-matrix is singular (e.g. two groups that never
    overlap in time) we fall back to the Moore-Penrose inverse instead of failing.
    """
    keep = e > 0
    df = int(keep.sum()) - 1
    if keep.sum() < 2:
        return 0.0, df
    diff = (o - e)[keep][1:]
    vv = v[np.ix_(keep, keep)][1:, 1:]
    try:
        sol = np.linalg.solve(vv, diff)
    except np.linalg.LinAlgError:
        sol = np.linalg.pinv(vv) @ diff
    return float(sol @ diff), df
