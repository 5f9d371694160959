"""Complications of the index procedure: worst Clavien–Dindo grade, grade ≥ III, CCI, 90-day mortality.

Group comparisons: Fisher's exact test for 2 × 2 tables (R's ``fisher.test``), otherwise the
chi-square test without continuity correction; CCI by the Kruskal–Wallis test (equals the
Wilcoxon rank-sum test with normal approximation for two groups, without continuity correction).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ...report.document import clean
from ._context import Computed, Ctx

GRADES = ("I", "II", "IIIa", "IIIb", "IVa", "IVb", "V")


def _binary_test(d: pd.DataFrame, col: str, group: str | None):
    if group is None:
        return np.nan, ""
    x = d[[group, col]].dropna()
    tab = pd.crosstab(x[group], x[col].astype(bool))
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        return np.nan, ""
    if tab.shape == (2, 2):
        return float(stats.fisher_exact(tab.to_numpy())[1]), "Fisher"
    return float(stats.chi2_contingency(tab.to_numpy(), correction=False)[1]), "chi-square"


@dataclass(frozen=True)
class ComplicationsResult(Computed):
    entry: dict = field(default_factory=dict)        # "All" and each group: counts, rates, CCI; "tests"
    by_group: bool = False
    binaries: list = field(default_factory=list)     # (label, column) of the yes/no measures
    extra: list = field(default_factory=list)        # (label, column) of the protocol's extra measures
    tidy: pd.DataFrame = field(default_factory=pd.DataFrame)


def _binaries(ctx: Ctx) -> list[tuple[str, str]]:
    """(label, column) of the yes/no measures; a protocol error for a column the analysis frame lacks."""
    from ..cohort import _err

    binaries = [("Clavien–Dindo grade ≥ III", "cd_grade_3plus"), ("90-day mortality", "death_90d")] + \
        [(ctx.proto.covariate(c).title, c) for c in ctx.proto.analyses.complications.extra_binary]
    for _, col in binaries:
        if col not in ctx.cohort.columns:
            raise _err(ctx.proto, ("analyses", "complications"), f"column {col!r} is not in the analysis frame")
    return binaries


def check_complications(ctx: Ctx) -> None:
    """What ``run`` checks before any analysis (and ``validate-protocol``): the measures' columns exist."""
    _binaries(ctx)


def compute_complications(ctx: Ctx) -> ComplicationsResult:
    a = ctx.proto.analyses.complications
    d = ctx.cohort
    g = ctx.group_col
    groups = [("All", d)] + ([(n, d[d[g] == n]) for n in ctx.group_names] if g else [])
    binaries = _binaries(ctx)
    entry: dict = {}

    for name, part in groups:
        e: dict = {"n": len(part)}
        grade = part["worst_clavien_dindo"].astype(object)
        e["grades"] = {gr: int((grade == gr).sum()) for gr in GRADES}
        e["grades"]["none"] = int((grade == "none").sum())  # procedure without complication
        e["grades"]["unknown"] = int(grade.isna().sum())    # no index procedure on record
        for _, col in binaries:
            v = part[col].astype("Float64")
            known = v.notna()
            k = int((v[known] == 1).sum())
            e[col] = {"n": k, "n_known": int(known.sum()), "rate": k / int(known.sum()) if known.any() else None}
        cci = part["cci"].astype(float)
        e["cci"] = {"median": float(np.nanmedian(cci)) if cci.notna().any() else None,
                    "q25": float(np.nanpercentile(cci, 25)) if cci.notna().any() else None,
                    "q75": float(np.nanpercentile(cci, 75)) if cci.notna().any() else None,
                    "mean": float(np.nanmean(cci)) if cci.notna().any() else None}
        entry[name] = e
    tests = {}
    for _, col in binaries:
        p, test = _binary_test(d, col, g)
        tests[col] = {"p": p, "test": test}
    if g:
        parts = [d.loc[d[g] == n, "cci"].dropna().astype(float) for n in ctx.group_names]
        parts = [p for p in parts if len(p)]
        if len(parts) >= 2 and np.ptp(np.concatenate([p.to_numpy() for p in parts])) > 0:
            tests["cci"] = {"p": float(stats.kruskal(*parts).pvalue), "test": "Kruskal–Wallis"}
    entry["tests"] = tests
    names = [n for n, _ in groups]
    tidy = pd.DataFrame([{"group": n, "measure": col, "n": entry[n][col]["n"], "n_known": entry[n][col]["n_known"],
                          "rate": entry[n][col]["rate"]} for n in names for _, col in binaries] +
                        [{"group": n, "measure": f"grade_{gr}", "n": entry[n]["grades"][gr], "n_known": entry[n]["n"],
                          "rate": entry[n]["grades"][gr] / entry[n]["n"] if entry[n]["n"] else None}
                         for n in names for gr in GRADES])
    return ComplicationsResult(numbers=clean(entry), entry=entry, by_group=bool(g), binaries=binaries,
                               extra=[(ctx.proto.covariate(c).title, c) for c in a.extra_binary], tidy=tidy)
