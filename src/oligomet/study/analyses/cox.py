"""Univariable screen → multivariable Cox with an explicit selection rule → PH checks.

Selection rules (``analyses.cox.selection``):

* ``p_value``: a covariate enters the multivariable model when its univariable likelihood-ratio
  test has p < ``threshold`` (default 0.10). The LR test of the one-variable model is the
  variable's global test, so a categorical covariate enters or leaves as a whole;
* ``fixed``: exactly the ``fixed`` list (clinically chosen); ``all``: every listed covariate.

The exposure enters every multivariable model when ``include_exposure`` (the question of the
study). Each model is fitted on its complete cases, as R's ``coxph`` (``na.omit``).
:mod:`oligomet.report.sections.cox` turns the result into tables, the forest plot and sentences.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

import oligomet as om

from ...report.document import clean
from ..cohort import EXPOSURE_TERM, GROUP
from ._context import Computed, Ctx, quiet

_KEYS = ("hr", "hr_lower", "hr_upper", "p", "coef", "se", "n", "n_events")


def _rows(fit, ctx: Ctx, model: str) -> list[dict]:
    s = fit.summary
    out = []
    for term, r in s.iterrows():
        # with a cluster the robust SE is the one the CI and p use (R's summary.coxph)
        out.append({"model": model, "term": term, "label": ctx.term_label(term), "coef": r["coef"],
                    "se": r.get("robust_se", r["se"]), "hr": r["hr"], "hr_lower": r["hr_lower"],
                    "hr_upper": r["hr_upper"], "p": r["p"], "n": fit.n, "n_events": fit.n_events})
    return out


def _with_references(rows: list[dict], d: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    """Add ``variable`` (the column a term belongs to), ``variable_label`` and ``reference`` (the reference
    level of a categorical variable, the one level without a term; None otherwise), for the reference rows
    of the Cox table. Display data only: results.json does not read these columns."""
    t = pd.DataFrame(rows)
    if t.empty:
        return t
    variables = [str(r["term"]).split("[", 1)[0] for r in rows]
    t["variable"] = pd.Series(variables, index=t.index, dtype=object)
    refs, labels = {}, {}
    for var in dict.fromkeys(variables):
        levels = [str(r["term"]) for r, v in zip(rows, variables) if v == var and r["model"] == "univariable"]
        levels = [x[len(var) + 1:-1] for x in levels if x.endswith("]")]
        col = var if var in d.columns or var != EXPOSURE_TERM else GROUP
        if levels and col in d:
            rest = [str(x) for x in pd.unique(d[col].dropna()) if str(x) not in levels]
            refs[var] = rest[0] if len(rest) == 1 else None
        labels[var] = ctx.term_label(var) if levels else None
    t["reference"] = t["variable"].map(refs)
    t["variable_label"] = t["variable"].map(labels)
    return t


@dataclass(frozen=True)
class CoxEndpoint:
    name: str
    title: str
    models: pd.DataFrame                   # one row per term and model (univariable, multivariable)
    zph: pd.DataFrame | None = None        # cox.zph of the multivariable model (rows: terms, GLOBAL)
    zph_labels: dict = field(default_factory=dict)   # zph term -> readable label
    n_eligible: int = 0                    # patients with the endpoint defined
    missing: dict = field(default_factory=dict)      # multivariable model variable -> eligible patients lacking it
    imputation: dict | None = None         # missing = {impute = m}: m, seed, maxit, imputed variables (n missing)


@dataclass(frozen=True)
class CoxResult(Computed):
    selection: str = "p_value"
    threshold: float = 0.10
    ph_check: bool = True
    ph_transform: str = "km"
    strata_titles: list[str] = field(default_factory=list)   # every model stratified by these (R's strata())
    cluster_title: str | None = None                         # robust SE clustered by this column
    exposure_prefix: str = f"{EXPOSURE_TERM}["   # the exposure's terms start with this
    endpoints: list[CoxEndpoint] = field(default_factory=list)


def imputation_frame(ctx: Ctx, d: pd.DataFrame, ep, variables: list[str]) -> pd.DataFrame:
    """The columns the imputation models use: the multivariable model's variables and the outcome."""
    cols = [EXPOSURE_TERM if v == "exposure" else v for v in variables]
    return d[list(dict.fromkeys(cols + [ep.time_col, ep.event_col]))]


def _pooled_rows(ctx: Ctx, d: pd.DataFrame, ep, variables: list[str]) -> tuple[list[dict], dict, list[str]]:
    """The multivariable model by multiple imputation (``om.impute``, event and Nelson–Aalen hazard as
    predictors) pooled by Rubin's rules (``om.pool_cox``): rows as :func:`_rows`, the imputation's record."""
    from ..cohort import _err

    a = ctx.proto.analyses.cox
    opts = a.missing
    seed = ctx.proto.seed if opts.seed is None else opts.seed
    data = imputation_frame(ctx, d, ep, variables)
    try:
        imp, warns = quiet(om.impute, data, m=opts.impute, seed=seed, maxit=opts.maxit, time=ep.time_col,
                           event=ep.event_col)
        pooled, more = quiet(om.pool_cox, imp, time=ep.time_col, event=ep.event_col,
                             covariates=[ctx.term(v) for v in variables], ties=a.ties)
    except ValueError as exc:   # an imputation model that cannot be fitted (a variable missing in every row...)
        raise _err(ctx.proto, ("analyses", "cox", "missing"), f"{ep.name}: {exc}") from None
    n_events = int((d[ep.event_col] > 0).sum())
    rows = [{"model": "multivariable", "term": term, "label": ctx.term_label(str(term)), "coef": r["estimate"],
             "se": r["se"], "hr": r["hr"], "hr_lower": r["hr_lower"], "hr_upper": r["hr_upper"], "p": r["p"],
             "fmi": r["fmi"], "lambda": r["lambda"], "n": len(d), "n_events": n_events}
            for term, r in pooled.summary.iterrows()]
    v = imp.variables
    record = {"method": "multiple imputation by chained equations", "m": imp.m, "seed": seed, "maxit": imp.maxit,
              "imputed": {str(n): {"method": r["method"], "n_missing": int(r["n_missing"])}
                          for n, r in v[v["method"] != ""].iterrows()},
              "fmi": {str(t): float(r["fmi"]) for t, r in pooled.summary.iterrows()}}
    return rows, record, warns + more


def compute_cox(ctx: Ctx) -> CoxResult:
    from ...survival.cox import CoxData   # as om.cox: the estimators (and numba) load when a study fits one

    a = ctx.proto.analyses.cox
    numbers, warnings_, endpoints = {}, [], []
    candidates = list(a.covariates)
    # every model (univariable too) shares the baseline strata and the clusters: one design throughout
    design = dict(ties=a.ties, strata=list(a.strata) or None, cluster=a.cluster)
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        d = ctx.endpoint_data(ep)
        on_d = CoxData(d)   # the models below share d's validated times, sort order and risk sets
        uni_rows, screen = [], {}
        variables = (["exposure"] if a.include_exposure and ctx.group_col else []) + candidates
        for var in variables:
            fit, warns = quiet(on_d.cox, time=ep.time_col, event=ep.event_col, covariates=[ctx.term(var)],
                               **design)
            warnings_ += [f"Cox {ep.name} univariable {var}: {w}" for w in warns]
            screen[var] = float(fit.tests.loc["likelihood_ratio", "p"])
            uni_rows += _rows(fit, ctx, "univariable")
        if a.selection == "p_value":
            chosen = [v for v in candidates if screen[v] < a.threshold]
        elif a.selection == "fixed":
            chosen = [v for v in a.fixed if v != "exposure"]
        else:
            chosen = list(candidates)
        mv_vars = (["exposure"] if a.include_exposure and ctx.group_col else []) + chosen
        multi_rows, zph = [], None
        entry: dict = {"univariable": {r["term"]: {k: r[k] for k in _KEYS} for r in uni_rows},
                       "screen_lr_p": screen, "selected": chosen, "multivariable": {}}
        imputation = None
        if mv_vars:
            if a.missing != "complete_case":   # first: its errors (an unfittable imputation model) are the protocol's
                pooled_rows, imputation, warns = _pooled_rows(ctx, d, ep, mv_vars)
                warnings_ += [f"Cox {ep.name} multiple imputation: {w}" for w in warns]
                entry["imputation"] = imputation
            fit, warns = quiet(on_d.cox, time=ep.time_col, event=ep.event_col,
                               covariates=[ctx.term(v) for v in mv_vars], **design)
            warnings_ += [f"Cox {ep.name} multivariable: {w}" for w in warns]
            multi_rows = _rows(fit, ctx, "multivariable")
            if imputation is not None:   # the complete-case fit stays for the PH check and results.json
                entry["multivariable_complete_case"] = {r["term"]: {k: r[k] for k in _KEYS} for r in multi_rows}
                multi_rows = pooled_rows
            entry["multivariable"] = {r["term"]: {k: r[k] for k in _KEYS} for r in multi_rows}
            entry["multivariable_model"] = {"n": fit.n, "n_events": fit.n_events,
                                            "loglik_null": float(fit.loglik[0]), "loglik": float(fit.loglik[-1]),
                                            "concordance": float(fit.concordance),
                                            "lr_test": fit.tests.loc["likelihood_ratio"].to_dict()}
            entry["multivariable_model"].update({k: v for k, v in (("strata", list(a.strata)), ("cluster", a.cluster))
                                                 if v})
            if a.ph_check:
                zph = fit.zph(transform=a.ph_transform)
                entry["ph_check"] = {str(k): {"chisq": r["chisq"], "df": r["df"], "p": r["p"]}
                                     for k, r in zph.iterrows()}
        numbers[ep.name] = clean(entry)
        if not uni_rows:  # nothing to model (no covariates and no exposure)
            continue
        labels = {str(t): ctx.term_label(str(t)) for t in zph.index if t != "GLOBAL"} if zph is not None else {}
        design_columns = list(a.strata) + [a.cluster] * (a.cluster is not None)
        missing = {v: int(d[GROUP if v == "exposure" else v].isna().sum())
                   for v in dict.fromkeys(mv_vars + design_columns)}
        endpoints.append(CoxEndpoint(ep.name, ep.title, _with_references(uni_rows + multi_rows, d, ctx), zph, labels,
                                     n_eligible=len(d), missing=missing, imputation=imputation))
    return CoxResult(numbers=numbers, warnings=warnings_, selection=a.selection, threshold=a.threshold,
                     ph_check=a.ph_check, ph_transform=a.ph_transform,
                     strata_titles=[ctx.proto.covariate(c).title for c in a.strata],
                     cluster_title=ctx.proto.covariate(a.cluster).title if a.cluster else None, endpoints=endpoints)
