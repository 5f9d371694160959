"""Group-comparison tests for Table 1, with R's defaults (``stats::chisq.test``, ``fisher.test``,
``oneway.test(var.equal = TRUE)`` / ``t.test(var.equal = TRUE)``, ``wilcox.test``, ``kruskal.test``)."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

_MAX_TABLES = 200_000


def categorical_test(table: np.ndarray) -> tuple[str, float]:
    """Chi-square (Yates-corrected for 2x2, as R's chisq.test) or Fisher's exact test when an
    expected count is below 5 (R's fisher.test: two-sided, tables at most as probable as the
    observed one, relative tolerance 1e-7)."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return "none (one level)", np.nan
    expected = stats.contingency.expected_freq(table)
    if (expected < 5).any():
        if table.shape == (2, 2):
            return "Fisher's exact", float(stats.fisher_exact(table).pvalue)
        p = _fisher_rxc(table)
        if p is not None:
            return "Fisher's exact", p
    chi2, p, _, _ = stats.chi2_contingency(table, correction=True)
    name = "Chi-square (Yates)" if table.shape == (2, 2) else "Chi-square"
    if (expected < 5).any():
        name += "; expected < 5, exact test infeasible"
    return name, float(p)


def _fisher_rxc(table: np.ndarray) -> float | None:
    """Exact r x c Fisher p-value by enumerating every table with the observed margins.

    scipy's r x c ``fisher_exact`` is a Monte-Carlo estimate; R's network algorithm is exact.
    Enumeration is exact too and fast for the small tables where Fisher is needed; it gives up
    (returns None) beyond ``_MAX_TABLES`` tables.
    """
    table = np.asarray(table, dtype=np.int64)
    if table.shape[0] > table.shape[1]:
        table = table.T
    rows, cols = table.sum(axis=1).tolist(), table.sum(axis=0).tolist()
    if len(rows) == 2 and _two_row_tables(rows[0], cols) > _MAX_TABLES:
        return None   # known before enumerating: a large cohort's 2 x c table with one sparse cell
    n = int(table.sum())
    const = sum(math.lgamma(r + 1) for r in rows) + sum(math.lgamma(c + 1) for c in cols) - math.lgamma(n + 1)

    def logp(cells_lgamma_sum: float) -> float:
        return const - cells_lgamma_sum

    obs = logp(sum(math.lgamma(x + 1) for x in table.ravel().tolist()))
    cutoff = obs + math.log1p(1e-7)
    total = 0.0
    count = 0
    lg = [math.lgamma(k + 1) for k in range(n + 1)]

    def fill_column(j: int, remaining: list[int], acc: float):
        nonlocal total, count
        if j == len(cols) - 1:  # the last column is forced by the row remainders
            if sum(remaining) != cols[j]:
                return
            lp = logp(acc + sum(lg[x] for x in remaining))
            count += 1
            if count > _MAX_TABLES:
                raise OverflowError
            if lp <= cutoff:
                total += math.exp(lp)
            return
        yield_from_column(j, 0, cols[j], remaining, acc)

    def yield_from_column(j: int, i: int, left: int, remaining: list[int], acc: float):
        if i == len(rows) - 1:
            if left > remaining[i]:
                return
            new = remaining.copy()
            new[i] -= left
            # rows must still be able to absorb the later columns
            if sum(new) != sum(cols[j + 1:]):
                return
            fill_column(j + 1, new, acc + lg[left])
            return
        later_capacity = sum(remaining[i + 1:])
        for x in range(max(0, left - later_capacity), min(left, remaining[i]) + 1):
            new = remaining.copy()
            new[i] -= x
            yield_from_column(j, i + 1, left - x, new, acc + lg[x])

    try:
        fill_column(0, rows.copy(), 0.0)
    except OverflowError:
        return None
    return float(min(1.0, total))


def _two_row_tables(first_row_total: int, cols: list[int]) -> float:
    """How many 2 x c tables have these margins: the ways to choose the first row's cells 0 <= x_j <= col_j
    summing to its total (a bounded-composition count, one cumulative sum per column; a float, so a huge
    count is just large)."""
    ways = np.zeros(first_row_total + 1)
    ways[0] = 1.0
    for c in cols:
        cs = np.cumsum(ways)
        shifted = np.concatenate((np.zeros(c + 1), cs[:-c - 1])) if c + 1 <= cs.size else np.zeros(cs.size)
        ways = cs - shifted
    return float(ways[first_row_total])


def continuous_test(groups: list[np.ndarray], nonnormal: bool) -> tuple[str, float]:
    """Normal: Student's t-test (2 groups) / one-way ANOVA (equal variances, as tableone's
    ``oneway.test(var.equal = TRUE)``). Non-normal: Wilcoxon rank-sum as R's ``wilcox.test``
    (exact when both groups < 50 and no ties, else normal approximation with continuity
    correction) for 2 groups, Kruskal-Wallis for more."""
    groups = [g for g in groups if len(g) > 0]
    if len(groups) < 2:
        return "none (one group)", np.nan
    if nonnormal:
        if len(groups) == 2:
            a, b = groups
            ties = len(np.unique(np.concatenate([a, b]))) < len(a) + len(b)
            exact = len(a) < 50 and len(b) < 50 and not ties
            res = stats.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True,
                                     method="exact" if exact else "asymptotic")
            return "Wilcoxon rank-sum", float(res.pvalue)
        return "Kruskal-Wallis", float(stats.kruskal(*groups).pvalue)
    if any(len(g) < 2 for g in groups):
        return "none (group with n < 2)", np.nan
    if len(groups) == 2:
        return "t-test", float(stats.ttest_ind(*groups, equal_var=True).pvalue)
    return "ANOVA", float(stats.f_oneway(*groups).pvalue)
