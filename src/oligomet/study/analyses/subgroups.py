"""Exposure effect within subgroups, with the likelihood-ratio test of the interaction.

For each subgroup variable S (a column's levels, a count or measurement cut at ``cuts``, or in/out of a
``where`` split) and endpoint:

* per level: Cox of the exposure (plus the subgroup's ``covariates``) on that level's patients;
* interaction: on the complete cases of exposure, S and the covariates, the model
  ``exposure + S + covariates + exposure × S`` against ``exposure + S + covariates``;
  LR = 2 (loglik_full − loglik_reduced) on (#exposure dummies × #S dummies) df,
  the test R gives with ``anova(coxph(... exposure * S ...), coxph(... exposure + S ...))``.

The product columns are built here as 0/1 numbers (the Cox design accepts no interaction terms).
A level × arm with no patients or no events makes both estimates impossible; :func:`cell_problems` finds every
such cell first and reports it as a protocol error at the subgroup's line (``run`` and ``validate-protocol``).

When the study weights its exposure groups (``[analyses.propensity] method = "weight"``), every model
runs in the weighted cohort with the propensity weights and robust SEs (as the propensity step's
outcome model). A likelihood-ratio test needs a true likelihood, which a weighted fit is not, so the
interaction is then the robust Wald test of the product terms, ``b' V^-1 b`` with coxph's robust ``V``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

import oligomet as om

from ..cohort import EXPOSURE_TERM, GROUP, StudyError, _err, condition_mask
from ...report.document import clean
from ...report.sections.describe import table_label
from ._context import Computed, Ctx, quiet

SUB = "_subgroup"


def subgroup_title(ctx: Ctx, sg) -> str:
    """The heading of a subgroup variable: its ``name``, else its column's label as Table 1 shows it ('Age,
    years': no model unit 'per year'), or the column."""
    return sg.name or table_label(ctx.proto.covariate(sg.column).title)


def _loc(sg, i: int) -> tuple:
    """Where in the protocol a subgroup's levels are declared: its ``cuts``, ``column`` or ``where``."""
    return ("analyses", "subgroups", i, "cuts" if sg.cuts is not None else "column" if sg.column else "where")


def subgroup_levels(ctx: Ctx, sg, i: int) -> pd.Series:
    """The subgroup level of every cohort row (None where unknown); a Categorical in ``cuts`` order when cut."""
    if sg.column is not None:
        if sg.column not in ctx.cohort.columns:
            raise _err(ctx.proto, ("analyses", "subgroups", i, "column"),
                       f"unknown column {sg.column!r}; available columns: {', '.join(ctx.cohort.columns)}")
        s = ctx.cohort[sg.column]
        if sg.cuts is not None:
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                e_g = ", ".join(map(repr, s.dropna().unique()[:3]))
                raise _err(ctx.proto, _loc(sg, i), f"'cuts' split a count or a measurement; {sg.column!r} holds "
                                                    f"{s.dtype} values (e.g. {e_g})")
            bins = [-np.inf] + list(sg.cuts) + [np.inf]
            return pd.cut(s.astype(float), bins=bins, right=False, labels=sg.level_labels())
        if pd.api.types.is_numeric_dtype(s) and set(s.dropna().unique()) <= {0, 1}:
            s = s.map({1: "yes", 0: "no"})  # a binary column reads better as yes / no
        return s.astype(object).where(s.notna(), None)
    m = pd.Series(True, index=ctx.cohort.index, dtype="boolean")
    for ci_, cond in enumerate(sg.where):
        m &= condition_mask(ctx.cohort, cond, ctx.proto, ("analyses", "subgroups", i, "where", ci_))
    return m.map({True: "yes", False: "no"}).astype(object).where(m.notna(), None)


def level_order(values: pd.Series) -> list:
    """Levels in report order: a Categorical's own (the cuts), else sorted as text (no before yes)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return list(values.cat.categories)
    return sorted(values.dropna().unique(), key=str)


def analysed_rows(ctx: Ctx, sg, ep, levels: pd.Series, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The endpoint's rows with a known level, arm and covariates: the rows of the per-level models and of
    the interaction test, and so of the cell counts. ``frame``: the (weighted) cohort, default the cohort."""
    frame = ctx.cohort if frame is None else frame
    d = ctx.endpoint_data(ep, frame.assign(**{SUB: levels.reindex(frame.index)}))
    return d.dropna(subset=[SUB, GROUP] + [c for c in sg.covariates if c in d.columns])


def cell_counts(ctx: Ctx, d: pd.DataFrame, ep, levels: list) -> pd.DataFrame:
    """Patients and events of each level × arm (zeros included): ``level``, ``arm``, ``n``, ``events``."""
    ev = (d[ep.event_col] > 0).astype(int)
    grid = pd.MultiIndex.from_product([levels, ctx.group_names], names=["level", "arm"])
    keys = [d[SUB].astype(object), d[GROUP].astype(object)]
    n = d.groupby(keys).size().reindex(grid, fill_value=0)
    events = ev.groupby(keys).sum().reindex(grid, fill_value=0)
    return pd.DataFrame({"n": n.astype(int), "events": events.astype(int)}).reset_index()


def _empty_cells_message(title: str, endpoint: str, sg, empty: pd.DataFrame) -> str:
    def cell(r) -> str:
        return "no patients" if r.n == 0 else f"no events in {r.n} patient{'s' if r.n != 1 else ''}"

    what = "; ".join(f"{r.level!r} × {r.arm!r}: {cell(r)}" for r in empty.itertuples())
    fix = "merge levels with other 'cuts'" if sg.cuts is not None else "merge levels (e.g. with 'cuts')"
    return (f"subgroup {title!r}, endpoint {endpoint}: {what}; the hazard ratio and the interaction cannot be "
            f"estimated in an empty cell ({fix}, or drop {endpoint!r} from this subgroup's endpoints)")


def cell_problems(ctx: Ctx) -> list[tuple[str, int | None, str]]:
    """Every subgroup whose model cannot be estimated, as (field, line, message) of a protocol error: a level ×
    arm with no patients or no events (its HR and the interaction are not estimable), or a single level (no
    interaction). Run by ``run`` before any analysis and by ``validate-protocol``, with the same messages."""
    problems = []

    def problem(loc: tuple, msg: str):
        problems.append((".".join(map(str, loc)), ctx.proto.line_of(*loc), msg))

    for i, sg in enumerate(ctx.proto.analyses.subgroups):
        try:
            levels = subgroup_levels(ctx, sg, i)
        except StudyError as exc:
            problems += exc.problems
            continue
        title = subgroup_title(ctx, sg)
        for name in sg.endpoints:
            ep = ctx.proto.endpoint(name)
            d = analysed_rows(ctx, sg, ep, levels)
            order = level_order(levels) if isinstance(levels.dtype, pd.CategoricalDtype) else level_order(d[SUB])
            if len(order) < 2:
                where = f"every patient is in level {order[0]!r}" if order else "no patient has a known level"
                problem(_loc(sg, i), f"subgroup {title!r}, endpoint {ep.name}: {where}; there is no subgroup to "
                                     f"compare")
                continue
            cells = cell_counts(ctx, d, ep, order)
            empty = cells[(cells["n"] == 0) | (cells["events"] == 0)]
            if not empty.empty:
                problem(_loc(sg, i), _empty_cells_message(title, ep.name, sg, empty))
    return problems


def check_cells(ctx: Ctx) -> None:
    problems = cell_problems(ctx)
    if problems:
        raise StudyError(ctx.proto.source_path, problems)


def _dummies(values: pd.Series, prefix: str) -> pd.DataFrame:
    levels = sorted(values.dropna().unique(), key=str)
    if values.dtype.name == "category":
        levels = [lv for lv in values.cat.categories if lv in set(values.dropna())]
    return pd.DataFrame({f"{prefix}{k}": (values == lv).astype(float) for k, lv in enumerate(levels[1:])},
                        index=values.index), levels


def interaction_test(d: pd.DataFrame, time: str, event: str, covariate_terms: list[str], ties: str = "efron",
                     weights: str | None = None):
    """LR test of exposure × subgroup (robust Wald test with ``weights``); ``d`` has ``exposure_group``,
    ``_subgroup`` and the covariates. Returns (statistic, df, p)."""
    cols = [GROUP, SUB] + [t for t in covariate_terms]
    base = d.dropna(subset=[c for c in cols if c in d.columns and not c.startswith("C(")])
    e, _ = _dummies(base[GROUP], "_e")
    s, _ = _dummies(base[SUB], "_s")
    prods = pd.DataFrame({f"{a}x{b}": e[a] * s[b] for a in e for b in s}, index=base.index)
    frame = pd.concat([base, e, s, prods], axis=1)
    reduced = list(e) + list(s) + covariate_terms
    full = reduced + list(prods)
    df = prods.shape[1]
    if weights is not None:
        f_full, _ = quiet(om.cox, frame, time=time, event=event, covariates=full, ties=ties, weights=weights,
                          robust=True)
        b = f_full.summary.loc[list(prods), "coef"].to_numpy()
        v = f_full.var.loc[list(prods), list(prods)].to_numpy()
        wald = float(b @ np.linalg.solve(v, b))
        return wald, df, float(stats.chi2.sf(wald, df))
    f_red, _ = quiet(om.cox, frame, time=time, event=event, covariates=reduced, ties=ties)
    f_full, _ = quiet(om.cox, frame, time=time, event=event, covariates=full, ties=ties)
    lr = 2.0 * (float(f_full.loglik[-1]) - float(f_red.loglik[-1]))
    return max(lr, 0.0), df, float(stats.chi2.sf(max(lr, 0.0), df))


@dataclass(frozen=True)
class SubgroupTable:
    name: str
    key: str                        # file-name stem
    # endpoint, subgroup, level, arm (the contrast's group), label, n, n_events, hr, hr_lower, hr_upper, p,
    # p_interaction: one row per level and non-reference arm
    rows: pd.DataFrame
    interactions: list = field(default_factory=list)   # (endpoint title, p) of each interaction test
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)   # endpoint, level, arm, n, events
    hr_kind: str = "crude"          # "adjusted" (for ``adjusted_for``) or "crude"
    adjusted_for: tuple = ()        # labels of the covariates in every model of this subgroup variable


@dataclass(frozen=True)
class SubgroupsResult(Computed):
    exposure_label: str = ""
    reference: str = ""             # the reference arm
    arms: tuple = ()                # every arm, reference first
    weighted: bool = False          # in the propensity-weighted cohort (robust Wald interaction tests)
    subgroups: list[SubgroupTable] = field(default_factory=list)


def _level_fit(ctx: Ctx, part: pd.DataFrame, ep, cov_terms: list[str], weighting: dict
               ) -> list[tuple[str, pd.Series, object]]:
    """Cox of the exposure (+ covariates) within one level: (arm, its summary row, fit) per non-reference arm."""
    fit, _ = quiet(om.cox, part, time=ep.time_col, event=ep.event_col, covariates=[ctx.term("exposure")] + cov_terms,
                   **weighting)
    return [(str(term)[len(EXPOSURE_TERM) + 1:-1], r, fit) for term, r in fit.summary.iterrows()
            if str(term).startswith(f"{EXPOSURE_TERM}[")]


def compute_subgroups(ctx: Ctx) -> SubgroupsResult:
    check_cells(ctx)   # an empty level × arm is a protocol error at the subgroup's line, before any model
    store, tables = {}, []
    frame, weights = ctx.weighted_cohort()
    weighting = {"weights": weights, "robust": True} if weights is not None else {}
    for i, sg in enumerate(ctx.proto.analyses.subgroups):
        title = subgroup_title(ctx, sg)
        levels = subgroup_levels(ctx, sg, i)
        cov_terms = [ctx.term(c) for c in sg.covariates]
        entry = store.setdefault(title, {})
        rows, interactions, cells = [], [], []
        for name in sg.endpoints:
            ep = ctx.proto.endpoint(name)
            de = analysed_rows(ctx, sg, ep, levels, frame)
            order = level_order(levels) if isinstance(levels.dtype, pd.CategoricalDtype) else level_order(de[SUB])
            counts = cell_counts(ctx, de, ep, order)
            cells.append(counts.assign(endpoint=ep.title))
            ee: dict = {"levels": {}, **({"weighted": True} if weights is not None else {})}
            for level in order:
                part = de[de[SUB] == level]
                arms = counts[counts["level"] == level].set_index("arm")
                for k, (arm, r, fit) in enumerate(_level_fit(ctx, part, ep, cov_terms, weighting)):
                    if k == 0:   # results.json keeps the first contrast per level, as before
                        ee["levels"][str(level)] = {
                            "n": fit.n, "n_events": fit.n_events, "term": r.name, "hr": r["hr"],
                            "hr_lower": r["hr_lower"], "hr_upper": r["hr_upper"], "p": r["p"],
                            "arms": {str(a): {"n": int(c["n"]), "events": int(c["events"])}
                                     for a, c in arms.iterrows()}}
                    rows.append({"endpoint": ep.title, "subgroup": title, "level": str(level), "arm": arm,
                                 "label": f"{ep.title} · {title}: {level}", "n": fit.n, "n_events": fit.n_events,
                                 "hr": r["hr"], "hr_lower": r["hr_lower"], "hr_upper": r["hr_upper"], "p": r["p"]})
            lr, df, p = interaction_test(de, ep.time_col, ep.event_col, cov_terms, weights=weights)
            ee["interaction"] = {"statistic": lr, "df": df, "p": p}
            if weights is not None:
                ee["interaction"]["test"] = "robust Wald"
            for r in rows:
                if r["endpoint"] == ep.title:
                    r["p_interaction"] = p
            interactions.append((ep.title, p))
            entry[ep.name] = ee
        key = "".join(ch if ch.isalnum() else "_" for ch in title.lower()).strip("_")
        tables.append(SubgroupTable(title, key, pd.DataFrame(rows), interactions,
                                    pd.concat(cells, ignore_index=True) if cells else pd.DataFrame(),
                                    "adjusted" if sg.covariates else "crude",
                                    tuple(ctx.proto.covariate(c).title for c in sg.covariates)))
    return SubgroupsResult(numbers=clean(store), exposure_label=ctx.proto.exposure.label,
                           reference=ctx.group_names[0], arms=tuple(ctx.group_names), weighted=weights is not None,
                           subgroups=tables)
