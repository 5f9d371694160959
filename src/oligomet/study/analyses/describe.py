"""Table 1: patient characteristics by exposure group (before and, when matched, after matching)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

import oligomet as om

from ...describe.table_one import discrete_columns
from ...report.document import clean
from ._context import Computed, Ctx, quiet


@dataclass(frozen=True)
class TableOneResult(Computed):
    key: str = "before"                  # "before", or "after" matching/weighting
    title: str = ""
    tidy: pd.DataFrame = field(default_factory=pd.DataFrame)   # the long table
    wide: pd.DataFrame = field(default_factory=pd.DataFrame)   # one row per level, one column per group
    notes: list[str] = field(default_factory=list)
    by_group: bool = False
    labels: dict = field(default_factory=dict)                 # column -> the protocol's label
    binary: frozenset = frozenset()                            # yes/no columns
    # display data (not in results.json): the per-variable tests (p, SMD) for the tidy CSV/XLSX, and
    # n (%) per level of small-integer variables (ECOG 0-4), shown as gtsummary does
    tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    levels: pd.DataFrame = field(default_factory=pd.DataFrame)
    weighted: bool = False


def compute_table_one(ctx: Ctx, matched: pd.DataFrame | None = None, label: str = "") -> TableOneResult:
    """Table 1 of the cohort; with ``matched``, the same table on the matched/weighted rows."""
    a = ctx.proto.analyses.table_one
    variables = a.variables or [c.column for c in ctx.proto.covariates]
    if matched is None:
        key, data = "before", ctx.cohort
        # no "Table 1" in the title: the report numbers its tables itself (Word caption fields, HTML)
        title = "Patient characteristics" + (" by group" if ctx.group_col else "")
    else:
        key, data, title = "after", matched, f"Patient characteristics after {label}"
    kwargs = {"weights": "weights"} if label == "weighting" else {}
    t1, warns = quiet(om.table_one, data, by=ctx.group_col, variables=variables, **kwargs)
    discrete = discrete_columns(data, variables)
    levels = quiet(om.table_one, data, by=ctx.group_col, variables=discrete, categorical=discrete,
                   **kwargs)[0].table if discrete else pd.DataFrame()
    return TableOneResult(numbers={key: clean(t1.table.reset_index())}, warnings=[f"Table 1: {w}" for w in warns],
                          key=key, title=title, tidy=t1.table, wide=t1.wide().reset_index(), notes=list(t1.notes),
                          by_group=ctx.group_col is not None,
                          labels={c.column: c.title for c in ctx.proto.covariates},
                          binary=frozenset(c.column for c in ctx.proto.covariates if c.type == "binary"),
                          tests=t1.tests, levels=levels, weighted=t1.weighted)
