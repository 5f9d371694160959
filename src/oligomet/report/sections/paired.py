"""Paired comparisons (McNemar, Wilcoxon signed-rank): one table."""
from __future__ import annotations

from ..document import StudyResults, num, p_value
from ..tables import ReportTable


def build_paired(doc: StudyResults, r) -> None:
    """``r.tests``: comparison, test, n, summary, statistic, p (one row per comparison)."""
    tidy = r.tests
    disp = tidy.assign(statistic=tidy["statistic"].map(lambda v: num(v, 2)), p=tidy["p"].map(p_value))
    doc.section("paired", "Paired comparisons").items.append(
        ReportTable("paired", "Paired comparisons", tidy, disp,
                    note="McNemar's test with continuity correction; Wilcoxon signed-rank test (as R)."))
    doc.methods.append("Paired measurements were compared with McNemar's test or the Wilcoxon signed-rank test.")
