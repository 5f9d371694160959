"""Table 1: patient characteristics by exposure group (before and, when matched, after matching)."""
from __future__ import annotations

import pandas as pd

import oligomet as om

from ...report.tables import ReportTable
from ...report.document import clean, p_value
from ._context import Ctx, quiet


def _one(ctx: Ctx, data: pd.DataFrame, variables: list[str], weights: str | None = None):
    kwargs = {"weights": weights} if weights else {}
    t1, warns = quiet(om.table_one, data, by=ctx.group_col, variables=variables, **kwargs)
    ctx.results.warnings += [f"Table 1: {w}" for w in warns]
    return t1


def _frames(ctx: Ctx, t1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tidy, display) of a TableOne: the long table, and its wide form with readable labels."""
    labels = {c.column: c.title for c in ctx.proto.covariates}
    tidy = t1.table
    wide = t1.wide().reset_index()
    binary = {c.column for c in ctx.proto.covariates if c.type == "binary"}
    yes_no = {0: "no", 1: "yes", "0": "no", "1": "yes", "0.0": "no", "1.0": "yes"}
    wide["level"] = [yes_no.get(lv, lv) if var in binary else lv for var, lv in zip(wide["variable"], wide["level"])]
    wide["variable"] = wide["variable"].map(lambda v: labels.get(v, v))
    wide["p"] = wide["p"].map(lambda x: p_value(x) if pd.notna(x) else "")
    wide["SMD"] = wide["SMD"].map(lambda x: f"{x:.3f}" if pd.notna(x) else "")
    wide["test"] = wide["test"].fillna("")
    if ctx.group_col is None:  # one column: no tests, no SMDs
        wide = wide.drop(columns=["p", "test", "SMD"])
    # show each variable's name once, on its first row
    wide.loc[wide["variable"].duplicated(), "variable"] = ""
    return tidy, wide.rename(columns={"variable": "Variable", "level": ""})


def run_table_one(ctx: Ctx, matched: pd.DataFrame | None = None, label: str = "") -> None:
    """Table 1 of the cohort; with ``matched``, the same table on the matched/weighted rows."""
    a = ctx.proto.analyses.table_one
    variables = a.variables or [c.column for c in ctx.proto.covariates]
    sec = ctx.results.section("table1", "Table 1: patient characteristics")
    if matched is None:
        key, data = "before", ctx.cohort
        title = "Table 1: patient characteristics" + (" by group" if ctx.group_col else "")
    else:
        key, data, title = "after", matched, f"Table 1 after {label}"
    try:
        t1 = _one(ctx, data, variables, weights="weights" if label == "weighting" else None)
    except (ImportError, AttributeError) as exc:  # the describe layer is not in this build
        if not any("Table 1" in w for w in ctx.results.warnings):
            ctx.results.warnings.append(f"Table 1 not produced: oligomet.table_one is unavailable ({exc})")
        return
    tidy, disp = _frames(ctx, t1)
    ctx.results.numbers.setdefault("table_one", {})[key] = clean(tidy.reset_index())
    sec.items.append(ReportTable(f"table1_{key}", title, tidy, disp,
                                 note="n (%), mean (SD) or median [IQR]; p: test as named in the test column"
                                      " (none for weighted tables); SMD: standardised mean difference. " +
                                      " ".join(t1.notes)))
