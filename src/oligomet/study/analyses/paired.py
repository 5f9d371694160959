"""Paired comparisons within patients (e.g. planned vs actual resection extent).

* McNemar's test for two binary measurements, with continuity correction, as R's
  ``mcnemar.test`` default: χ² = (|b − c| − 1)² / (b + c) on 1 df, b and c the discordant pairs.
* Wilcoxon signed-rank for two numeric measurements via ``scipy.stats.wilcoxon`` (exact for
  small samples without ties, normal approximation with continuity correction otherwise, as R's
  ``wilcox.test(paired = TRUE)``; zero differences dropped as R's default).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ...report.document import clean, num
from ._context import Computed, Ctx


def mcnemar(before: np.ndarray, after: np.ndarray) -> tuple[float, int, int, float]:
    b = int(np.sum(before & ~after))
    c = int(np.sum(~before & after))
    if b + c == 0:
        return float("nan"), b, c, float("nan")
    stat = (abs(b - c) - 1.0) ** 2 / (b + c)
    return stat, b, c, float(stats.chi2.sf(stat, 1))


@dataclass(frozen=True)
class PairedResult(Computed):
    tests: pd.DataFrame = field(default_factory=pd.DataFrame)  # comparison, test, n, summary, statistic, p


def check_paired(ctx: Ctx) -> None:
    """Both columns of every comparison exist (``run`` checks it before any analysis, as ``validate-protocol``)."""
    from ..cohort import _err

    for i, pa in enumerate(ctx.proto.analyses.paired):
        for col in (pa.before, pa.after):
            if col not in ctx.cohort.columns:
                raise _err(ctx.proto, ("analyses", "paired", i), f"unknown column {col!r}; available columns: "
                                                                  f"{', '.join(ctx.cohort.columns)}")


def compute_paired(ctx: Ctx) -> PairedResult:
    store, rows = {}, []
    check_paired(ctx)
    for pa in ctx.proto.analyses.paired:
        d = ctx.cohort[[pa.before, pa.after]].dropna()
        if pa.test == "mcnemar":
            x = d[pa.before].astype(bool).to_numpy()
            y = d[pa.after].astype(bool).to_numpy()
            stat, b, c, p = mcnemar(x, y)
            e = {"test": "McNemar", "n": len(d), "statistic": stat, "discordant_before_only": b,
                 "discordant_after_only": c, "p": p, "before_rate": float(x.mean()) if len(x) else None,
                 "after_rate": float(y.mean()) if len(y) else None}
            summary = f"{x.sum()}/{len(x)} vs {y.sum()}/{len(y)}"
        else:
            x = d[pa.before].astype(float).to_numpy()
            y = d[pa.after].astype(float).to_numpy()
            diff = x - y
            if np.all(diff == 0):
                stat, p = float("nan"), float("nan")
            else:
                p = float(stats.wilcoxon(x, y, zero_method="wilcox", correction=True, method="auto").pvalue)
                # R's V: the sum of the ranks of the positive differences (scipy reports min(V+, V-))
                nz = diff[diff != 0]
                ranks = stats.rankdata(np.abs(nz))
                stat = float(ranks[nz > 0].sum())
            e = {"test": "Wilcoxon signed-rank", "n": len(d), "statistic": stat, "p": p,
                 "median_before": float(np.median(x)) if len(x) else None,
                 "median_after": float(np.median(y)) if len(y) else None}
            summary = f"median {num(e['median_before'])} vs {num(e['median_after'])}"
        store[pa.name] = clean(e)
        rows.append({"comparison": pa.label or pa.name, "test": e["test"], "n": len(d), "summary": summary,
                     "statistic": e["statistic"], "p": e["p"]})
    return PairedResult(numbers=store, tests=pd.DataFrame(rows))
