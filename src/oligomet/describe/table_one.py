"""Public :func:`table_one`: the descriptive "Table 1" of a cohort, overall or by group.

Data shape (the contract for renderers)
---------------------------------------
:attr:`TableOne.table` is tidy and long: one row per ``variable`` x ``level`` x ``group``.

* ``variable``: the column name; the first rows have ``variable = "N"`` (group sizes).
* ``level``: the category for categorical variables, ``""`` for continuous ones.
* ``group``: the group label (as a string), or ``"Overall"``.
* ``kind``: ``"n"``, ``"categorical"``, ``"normal"`` or ``"nonnormal"``.
* ``n``: count in the level (categorical, weighted = sum of weights) or non-missing count.
* ``percent``: percent of the non-missing rows of the group (categorical).
* ``mean``, ``sd``, ``median``, ``q1``, ``q3``: continuous summaries (all computed for every
  continuous variable; ``kind`` says which one the table shows).
* ``missing``: number of rows with the variable missing in the group (repeated on each level).
* ``text``: the formatted cell: ``n (%)``, ``mean (SD)`` or ``median [Q1, Q3]``.

:attr:`TableOne.tests` has one row per variable: ``variable``, ``kind``, ``summary`` (what the
cells show), ``test`` (the name of the test used), ``p``, ``smd``.
:meth:`TableOne.wide` pivots both into the familiar display frame.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import (CompleteCaseWarning, DroppedRows, group_labels, require_columns, require_frame,
                           weight_array)
from ._tests import categorical_test, continuous_test
from .._notebook import TidyTablesHTML

OVERALL = "Overall"


@dataclass(frozen=True)
class TableOne(TidyTablesHTML):
    """Result of :func:`table_one`; see the module docstring for the columns."""

    _html_tables = ("table", "tests")

    table: pd.DataFrame
    tests: pd.DataFrame
    groups: list
    weighted: bool
    notes: list[str] = field(default_factory=list)
    dropped: DroppedRows = field(default_factory=DroppedRows)

    def wide(self, missing: bool = True) -> pd.DataFrame:
        """Display frame: rows ``variable`` / ``level``, one text column per group, then ``p``, ``test``, ``SMD``.

        With ``missing=True`` a ``Missing`` row is added under each variable that has missing values.
        """
        t = self.table
        order = list(dict.fromkeys(zip(t["variable"], t["level"])))
        cols = [str(g) for g in ([OVERALL] if OVERALL in set(t["group"]) else [])] + \
            [str(g) for g in self.groups if str(g) != OVERALL]
        text = t.pivot_table(index=["variable", "level"], columns="group", values="text", aggfunc="first",
                             sort=False)
        text = text.reindex(pd.MultiIndex.from_tuples(order, names=["variable", "level"]))[cols]
        rows = []
        for var, grp in text.groupby(level=0, sort=False):
            rows.append(grp)
            if missing and var != "N":
                miss = t[t["variable"] == var].groupby("group", sort=False)["missing"].first()
                if miss.sum() > 0:
                    rows.append(pd.DataFrame([[f"{miss.get(c, 0):g}" for c in cols]], columns=cols,
                                             index=pd.MultiIndex.from_tuples([(var, "Missing")],
                                                                             names=["variable", "level"])))
        out = pd.concat(rows)
        tests = self.tests.set_index("variable")
        first = ~out.index.get_level_values(0).duplicated()
        var = out.index.get_level_values(0)
        for col, src in (("p", "p"), ("test", "test"), ("SMD", "smd")):
            vals = var.map(lambda v, s=src: tests[s].get(v, np.nan) if v in tests.index else np.nan)
            out[col] = np.where(first, vals, np.nan)
        return out


# complexity: gtsummary's front door: argument checks, then one loop over variables
def table_one(data: pd.DataFrame, by: str | None = None, variables=None, nonnormal=None, categorical=None,  # noqa: C901
              weights: str | None = None, test: bool = True, smd: bool = True, overall: bool | None = None,
              digits: int = 1) -> TableOne:
    """Describe ``variables`` overall or by the groups of ``by``.

    Parameters
    ----------
    data : DataFrame
    by : str, optional
        Grouping column (e.g. treatment). Rows with a missing group are dropped and reported.
    variables : list of str
        Columns to describe (default: every column but ``by`` and ``weights``).
    nonnormal : list of str, "auto" or None
        Continuous variables shown as median [Q1, Q3] and tested with Wilcoxon / Kruskal-Wallis.
        ``None`` (default) = "auto": a variable is non-normal when its absolute sample skewness
        exceeds 1, or when it exceeds 0.5 and the Shapiro-Wilk test (on up to 5000 non-missing
        values, pooled over groups) has p < 0.05. A list overrides the rule (listed = non-normal,
        others normal).
    categorical : list of str, optional
        Columns treated as categorical. Non-numeric, bool and pandas Categorical columns and
        numeric columns holding only 0/1 are categorical anyway.
    weights : str, optional
        Column of weights (IPTW, overlap or matching weights): counts become sums of weights,
        means / SDs / percentages / quantiles weighted (weighted quantile = smallest value whose
        cumulative weight share reaches p). p-values are then omitted (design-based tests such as
        R's survey::svychisq are not implemented) and a note says so.
    test : bool
        Add p-values (needs ``by``). Categorical: chi-square (Yates for 2x2) or Fisher's exact
        when an expected count is < 5; continuous: t-test / ANOVA, or Wilcoxon rank-sum /
        Kruskal-Wallis for non-normal variables. The name of the test is in ``tests.test``.
    smd : bool
        Add standardized mean differences (needs ``by``): continuous
        ``|m1 - m0| / sqrt((s1^2 + s0^2)/2)``; categorical the multi-level SMD of Yang & Dalton
        (2012), which is ``|p1 - p0| / sqrt((p1 q1 + p0 q0)/2)`` for two levels. Means, variances
        and proportions are those of the table (weighted when ``weights`` is given), as R's
        tableone. With more than two groups: the mean of all pairwise SMDs (tableone's rule).
        This is the descriptive SMD; for matching diagnostics use ``match(...).balance``, whose
        SD is fixed from the unmatched sample (MatchIt / cobalt).
    overall : bool, optional
        Add an "Overall" column (default: only when ``by`` is None).

    Before/after matching: call it on the data and on ``match(...).matched_data`` (with
    ``weights="weights"`` when ratio > 1 or with replacement).
    """
    data = require_frame(data)
    if variables is None:
        variables = [c for c in data.columns if c not in (by, weights)]
    variables = [variables] if isinstance(variables, str) else list(variables)
    require_columns(data, variables, "variable")
    if by is not None:
        require_columns(data, [by], "group column")
        if by in variables:
            raise ValueError(f"table_one: the group column {by!r} is also listed in variables")
    dropped = DroppedRows()
    if by is not None and data[by].isna().any():
        bad = data[by].isna().to_numpy()
        dropped = DroppedRows(n=int(bad.sum()), by_column={by: int(bad.sum())}, rows=tuple(data.index[bad]))
        warnings.warn(f"table_one: {dropped} (rows without a group are left out)", CompleteCaseWarning, stacklevel=2)
        data = data.loc[~bad]
    w = weight_array(data, weights) if weights is not None else np.ones(len(data))
    weighted = weights is not None

    groups = _levels(data[by]) if by is not None else []
    if overall is None:
        overall = by is None
    cells: list[tuple] = []  # (label, mask)
    if overall:
        cells.append((OVERALL, np.ones(len(data), dtype=bool)))
    group_masks = [(data[by] == g).to_numpy() for g in groups]
    cells.extend(zip(groups, group_masks))

    cat_set = set(categorical or [])
    rows: list[dict] = []
    test_rows: list[dict] = []
    notes: list[str] = []
    for label, mask in cells:
        rows.append({"variable": "N", "level": "", "group": str(label), "kind": "n", "n": float(w[mask].sum()),
                     "text": _fmt_n(w[mask].sum(), weighted)})
    auto = nonnormal is None or nonnormal == "auto"
    nonnormal_set = set() if auto else set([nonnormal] if isinstance(nonnormal, str) else nonnormal)
    for var in variables:
        s = data[var]
        if _is_categorical(s) or var in cat_set:
            kind = "categorical"
            levels = _levels(s)
            for label, mask in cells:
                sub, ws = s[mask], w[mask]
                ok = sub.notna().to_numpy()
                total = ws[ok].sum()
                miss = float(ws[~ok].sum()) if weighted else float((~ok).sum())
                for lv in levels:
                    cnt = float(ws[(sub == lv).to_numpy()].sum())
                    pct = 100.0 * cnt / total if total > 0 else np.nan
                    rows.append({"variable": var, "level": str(lv), "group": str(label), "kind": kind, "n": cnt,
                                 "percent": pct, "missing": miss,
                                 "text": f"{_fmt_n(cnt, weighted)} ({pct:.{digits}f})"})
            summary = "n (%)"
        else:
            x_all = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            is_nn = _auto_nonnormal(x_all) if auto else var in nonnormal_set
            kind = "nonnormal" if is_nn else "normal"
            for label, mask in cells:
                x, ws = x_all[mask], w[mask]
                ok = ~np.isnan(x)
                st = _continuous_stats(x[ok], ws[ok])
                miss = float(ws[~ok].sum()) if weighted else float((~ok).sum())
                text = (f"{st['median']:.{digits}f} [{st['q1']:.{digits}f}, {st['q3']:.{digits}f}]" if is_nn
                        else f"{st['mean']:.{digits}f} ({st['sd']:.{digits}f})")
                rows.append({"variable": var, "level": "", "group": str(label), "kind": kind,
                             "n": float(ws[ok].sum()), "missing": miss, **st, "text": text})
            summary = "median [Q1, Q3]" if is_nn else "mean (SD)"
        trow = {"variable": var, "kind": kind, "summary": summary, "test": None, "p": np.nan, "smd": np.nan}
        if by is not None and len(groups) >= 2:
            if test and not weighted:
                trow["test"], trow["p"] = _test(s, group_masks, kind)
            if smd:
                trow["smd"] = _smd(s, group_masks, w, kind)
        test_rows.append(trow)
    if weighted and test and by is not None:
        notes.append("p-values omitted for weighted data (design-based tests are not implemented)")
    table = pd.DataFrame(rows, columns=["variable", "level", "group", "kind", "n", "percent", "mean", "sd", "median",
                                        "q1", "q3", "missing", "text"])
    tests = pd.DataFrame(test_rows, columns=["variable", "kind", "summary", "test", "p", "smd"])
    return TableOne(table=table, tests=tests, groups=[OVERALL] * overall + groups, weighted=weighted, notes=notes,
                    dropped=dropped)


def discrete_columns(data: pd.DataFrame, variables, max_levels: int = 10) -> list[str]:
    """Numeric columns holding only a few integer values (ECOG 0-4, number of lesions 1-3): gtsummary
    shows these as n (%) per level. For display; :func:`table_one` itself keeps tableone's rule (such
    columns are continuous unless listed in ``categorical``), so its numbers stay R's."""
    out = []
    for var in variables:
        s = data[var]
        if _is_categorical(s) or not pd.api.types.is_numeric_dtype(s):
            continue
        x = pd.to_numeric(s, errors="coerce").dropna()
        if 2 < x.nunique() <= max_levels and bool((x == x.round()).all()):
            out.append(var)
    return out


def _levels(s: pd.Series) -> list:
    """Levels in R's factor order (shared rule of :func:`oligomet._validation.group_labels`)."""
    return group_labels(s.to_frame(name="_"), "_")[1]


def _is_categorical(s: pd.Series) -> bool:
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == bool or not pd.api.types.is_numeric_dtype(s):
        return True
    v = s.dropna().unique()
    return len(v) > 0 and set(v.tolist()) <= {0, 1}


def _auto_nonnormal(x: np.ndarray) -> bool:
    x = x[~np.isnan(x)]
    if len(x) < 3 or np.ptp(x) == 0:
        return False
    skew = abs(float(stats.skew(x, bias=False)))
    if skew > 1:
        return True
    if skew > 0.5:
        return float(stats.shapiro(x[:5000]).pvalue) < 0.05
    return False


def _wquantile(x: np.ndarray, w: np.ndarray, p: float) -> float:
    o = np.argsort(x, kind="stable")
    cw = np.cumsum(w[o]) / w.sum()
    return float(x[o][np.searchsorted(cw, p - 1e-12)])


def _continuous_stats(x: np.ndarray, w: np.ndarray) -> dict:
    if len(x) == 0 or w.sum() == 0:
        return {k: np.nan for k in ("mean", "sd", "median", "q1", "q3")}
    if np.all(w == w[0]):  # unweighted: R's mean, sd (n - 1) and quantile(type = 7)
        sd = float(np.std(x, ddof=1)) if len(x) > 1 else np.nan
        q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
        return {"mean": float(x.mean()), "sd": sd, "median": float(med), "q1": float(q1), "q3": float(q3)}
    m = float(np.sum(w * x) / w.sum())
    wn = w / w.sum()
    denom = 1 - np.sum(wn ** 2)
    sd = float(np.sqrt(np.sum(wn * (x - m) ** 2) / denom)) if denom > 0 else np.nan
    return {"mean": m, "sd": sd, "median": _wquantile(x, w, 0.5), "q1": _wquantile(x, w, 0.25),
            "q3": _wquantile(x, w, 0.75)}


def _test(s: pd.Series, masks: list[np.ndarray], kind: str) -> tuple[str, float]:
    if kind == "categorical":
        levels = _levels(s)
        tab = np.array([[int(((s == lv).to_numpy() & m).sum()) for lv in levels] for m in masks])
        return categorical_test(tab)
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    return continuous_test([x[m & ~np.isnan(x)] for m in masks], kind == "nonnormal")


def _smd(s: pd.Series, masks: list[np.ndarray], w: np.ndarray, kind: str) -> float:
    vals = []
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            vals.append(_smd_pair(s, masks[i], masks[j], w, kind))
    return float(np.mean(vals)) if vals else np.nan


def _smd_pair(s: pd.Series, a: np.ndarray, b: np.ndarray, w: np.ndarray, kind: str) -> float:
    if kind == "categorical":
        levels = _levels(s)
        ok = s.notna().to_numpy()

        def props(m):
            ww = w[m & ok]
            return np.array([w[m & ok & (s == lv).to_numpy()].sum() for lv in levels]) / ww.sum()

        p1, p0 = props(a), props(b)
        d = (p1 - p0)[1:]  # Yang & Dalton: drop the first level (the covariance is singular otherwise)
        if len(d) == 0:
            return np.nan
        S = lambda p: np.diag(p[1:]) - np.outer(p[1:], p[1:])  # noqa: E731
        cov = (S(p1) + S(p0)) / 2
        if np.allclose(d, 0):
            return 0.0
        return float(np.sqrt(d @ np.linalg.pinv(cov) @ d))
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    st = []
    for m in (a, b):
        k = m & ~np.isnan(x)
        st.append(_continuous_stats(x[k], w[k]))
    pooled = np.sqrt((st[0]["sd"] ** 2 + st[1]["sd"] ** 2) / 2)
    diff = st[0]["mean"] - st[1]["mean"]
    return float(abs(diff) / pooled) if pooled > 0 else (0.0 if diff == 0 else np.inf)


def _fmt_n(v: float, weighted: bool) -> str:
    return f"{v:.1f}" if weighted and abs(v - round(v)) > 1e-9 else f"{int(round(v))}"
