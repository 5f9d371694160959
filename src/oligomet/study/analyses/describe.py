"""Table 1: patient characteristics by exposure group (before and, when matched, after matching)."""
from __future__ import annotations

import pandas as pd

import oligomet as om

from ...report.tables import ReportTable
from ..results import clean
from ._context import Ctx, quiet


def _one(ctx: Ctx, data: pd.DataFrame, variables: list[str], weights: str | None = None):
    kwargs = {"weights": weights} if weights else {}
    t1, warns = quiet(om.table_one, data, by=ctx.group_col, variables=variables, **kwargs)
    ctx.results.warnings += [f"Table 1: {w}" for w in warns]
    return t1


def _frames(t1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tidy, display) from a TableOne result, whatever attribute names it uses for them."""
    tidy = next((getattr(t1, a) for a in ("table", "data", "tidy") if isinstance(getattr(t1, a, None), pd.DataFrame)),
                t1 if isinstance(t1, pd.DataFrame) else None)
    disp = next((getattr(t1, a) for a in ("display", "formatted", "pretty") if
                 isinstance(getattr(t1, a, None), pd.DataFrame)), None)
    if disp is None and hasattr(t1, "to_frame"):
        disp = t1.to_frame()
    return tidy, disp


def run_table_one(ctx: Ctx, matched: pd.DataFrame | None = None, label: str = "") -> None:
    """Table 1 of the cohort; with ``matched``, the same table on the matched/weighted rows."""
    a = ctx.proto.analyses.table_one
    variables = a.variables or [c.column for c in ctx.proto.covariates]
    sec = ctx.results.section("table1", "Table 1: patient characteristics")
    if matched is None:
        key, data, title = "before", ctx.cohort, "Table 1: patient characteristics by group"
    else:
        key, data, title = "after", matched, f"Table 1 after {label}"
    try:
        t1 = _one(ctx, data, variables, weights="weights" if label == "weighting" else None)
    except (ImportError, AttributeError) as exc:  # the describe layer is not in this build
        if not any("Table 1" in w for w in ctx.results.warnings):
            ctx.results.warnings.append(f"Table 1 not produced: oligomet.table_one is unavailable ({exc})")
        return
    tidy, disp = _frames(t1)
    if tidy is None:
        raise TypeError("table_one returned no DataFrame")
    ctx.results.numbers.setdefault("table_one", {})[key] = clean(tidy.reset_index())
    sec.items.append(ReportTable(f"table1_{key}", title, tidy, disp,
                                 note="n (%) or mean (SD) / median [IQR]; SMD: standardised mean difference; "
                                      "tests as named."))
