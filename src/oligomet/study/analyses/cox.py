"""Univariable screen → multivariable Cox with an explicit selection rule → PH checks → forest plot.

Selection rules (``analyses.cox.selection``):

* ``p_value``: a covariate enters the multivariable model when its univariable likelihood-ratio
  test has p < ``threshold`` (default 0.10). The LR test of the one-variable model is the
  variable's global test, so a categorical covariate enters or leaves as a whole;
* ``fixed``: exactly the ``fixed`` list (clinically chosen); ``all``: every listed covariate.

The exposure enters every multivariable model when ``include_exposure`` (the question of the
study). Each model is fitted on its complete cases, as R's ``coxph`` (``na.omit``).
"""
from __future__ import annotations

import pandas as pd

import oligomet as om

from ...report.figures import forest_figure
from ...report.tables import ReportTable
from ..cohort import EXPOSURE_TERM
from ...report.document import FigureItem, TextItem, ci, clean, p_value, p_text, lower_first
from ._context import Ctx, quiet


def _rows(fit, ctx: Ctx, model: str) -> list[dict]:
    s = fit.summary
    out = []
    for term, r in s.iterrows():
        out.append({"model": model, "term": term, "label": ctx.term_label(term), "coef": r["coef"],
                    "se": r["se"], "hr": r["hr"], "hr_lower": r["hr_lower"], "hr_upper": r["hr_upper"],
                    "p": r["p"], "n": fit.n, "n_events": fit.n_events})
    return out


def run_cox(ctx: Ctx) -> None:
    a = ctx.proto.analyses.cox
    res = ctx.results
    store = res.numbers.setdefault("cox", {})
    candidates = list(a.covariates)
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        d = ctx.endpoint_data(ep)
        sec = res.section(f"cox_{ep.name}", f"{ep.title}: Cox regression")
        uni_rows, screen = [], {}
        variables = (["exposure"] if a.include_exposure and ctx.group_col else []) + candidates
        for var in variables:
            fit, warns = quiet(om.cox, d, time=ep.time_col, event=ep.event_col, covariates=[ctx.term(var)],
                               ties=a.ties)
            res.warnings += [f"Cox {ep.name} univariable {var}: {w}" for w in warns]
            lr_p = float(fit.tests.loc["likelihood_ratio", "p"])
            screen[var] = lr_p
            uni_rows += _rows(fit, ctx, "univariable")
        if a.selection == "p_value":
            chosen = [v for v in candidates if screen[v] < a.threshold]
        elif a.selection == "fixed":
            chosen = [v for v in a.fixed if v != "exposure"]
        else:
            chosen = list(candidates)
        mv_vars = (["exposure"] if a.include_exposure and ctx.group_col else []) + chosen
        multi_rows, zph = [], None
        entry: dict = {"univariable": {}, "screen_lr_p": screen, "selected": chosen, "multivariable": {}}
        for r in uni_rows:
            entry["univariable"][r["term"]] = {k: r[k] for k in ("hr", "hr_lower", "hr_upper", "p", "coef", "se",
                                                                 "n", "n_events")}
        if mv_vars:
            fit, warns = quiet(om.cox, d, time=ep.time_col, event=ep.event_col,
                               covariates=[ctx.term(v) for v in mv_vars], ties=a.ties)
            res.warnings += [f"Cox {ep.name} multivariable: {w}" for w in warns]
            multi_rows = _rows(fit, ctx, "multivariable")
            for r in multi_rows:
                entry["multivariable"][r["term"]] = {k: r[k] for k in ("hr", "hr_lower", "hr_upper", "p", "coef",
                                                                       "se", "n", "n_events")}
            entry["multivariable_model"] = {"n": fit.n, "n_events": fit.n_events,
                                            "loglik_null": float(fit.loglik[0]), "loglik": float(fit.loglik[-1]),
                                            "concordance": float(fit.concordance),
                                            "lr_test": fit.tests.loc["likelihood_ratio"].to_dict()}
            if a.ph_check:
                try:
                    zph = fit.zph(transform=a.ph_transform)
                except ImportError as exc:  # cox.zph not in this build: say so, never fake it
                    res.warnings.append(f"PH check for {ep.name} not produced: {exc}")
            if zph is not None:
                entry["ph_check"] = {str(k): {"chisq": r["chisq"], "df": r["df"], "p": r["p"]}
                                     for k, r in zph.iterrows()}
        store[ep.name] = clean(entry)
        if not uni_rows:  # nothing to model (no covariates and no exposure)
            continue
        tidy = pd.DataFrame(uni_rows + multi_rows)
        display = _display(tidy, ctx)
        rule = {"p_value": f"covariates with univariable likelihood-ratio p < {a.threshold:g}",
                "fixed": "a clinically fixed set of covariates", "all": "all listed covariates"}[a.selection]
        sec.items.append(ReportTable(f"cox_{ep.name}", f"{ep.title}: univariable and multivariable Cox models",
                                     tidy, display, note=f"HR: hazard ratio (Efron ties, as R's coxph). The "
                                     f"multivariable model includes the exposure and {rule}. Complete cases."))
        forest = tidy.assign(section=tidy["model"].str.capitalize())
        sec.items.append(FigureItem(f"forest_{ep.name}", f"{ep.title}: forest plot", forest_figure,
                                    "Squares: hazard ratios; lines: 95% CIs (log scale).",
                                    data=dict(frame=forest, title=f"{ep.title}: hazard ratios")))
        if zph is not None:
            zt = zph.reset_index().rename(columns={"index": "term"})
            zt = zt.rename(columns={zt.columns[0]: "term"})
            zd = zt.assign(chisq=zt["chisq"].map(lambda x: f"{x:.2f}"), p=zt["p"].map(p_value))
            sec.items.append(ReportTable(f"zph_{ep.name}", f"{ep.title}: proportional-hazards check (cox.zph)",
                                         zt, zd, note=f"Score test of scaled Schoenfeld residuals against "
                                                      f"{a.ph_transform}-transformed time (R survival 3.x cox.zph); "
                                                      f"p < 0.05 suggests non-proportional hazards."))
            bad = [t for t, r in zph.iterrows() if t != "GLOBAL" and r["p"] < 0.05]
            if bad:
                sec.items.append(TextItem("Possible violation of proportional hazards for: " +
                                          ", ".join(ctx.term_label(str(b)) for b in bad) + "."))
        for r in multi_rows:
            if r["term"].startswith(f"{EXPOSURE_TERM}["):
                res.results_text.append(
                    f"In the multivariable model for {lower_first(ep.title)}, {r['label']} had an adjusted HR of "
                    f"{ci(r['hr'], r['hr_lower'], r['hr_upper'], 2)} ({p_text(r['p'])}).")
        sig = [r for r in multi_rows if not r["term"].startswith(f"{EXPOSURE_TERM}[") and r["p"] < 0.05]
        if sig:
            res.results_text.append(
                f"Independently associated with {lower_first(ep.title)}: " +
                "; ".join(f"{r['label']} (HR {ci(r['hr'], r['hr_lower'], r['hr_upper'], 2)}, {p_text(r['p'])})"
                          for r in sig) + ".")
    res.methods.append(
        "Hazard ratios were estimated with Cox proportional-hazards models (Efron ties, as R's coxph); "
        + ("covariates with a univariable likelihood-ratio p < "
           f"{a.threshold:g} entered the multivariable model" if a.selection == "p_value" else
           "the multivariable model used a prespecified set of covariates")
        + (", and proportional hazards were checked with cox.zph (survival 3.x score test)." if a.ph_check
           else "."))


def _display(tidy: pd.DataFrame, ctx: Ctx) -> pd.DataFrame:
    if tidy.empty:
        return tidy
    out = []
    labels = list(dict.fromkeys(tidy["label"]))
    for lab in labels:
        row = {"Variable": lab}
        for model in ("univariable", "multivariable"):
            r = tidy[(tidy["label"] == lab) & (tidy["model"] == model)]
            head = "Univariable" if model == "univariable" else "Multivariable"
            if len(r):
                r = r.iloc[0]
                row[f"{head} HR (95% CI)"] = ci(r["hr"], r["hr_lower"], r["hr_upper"], 2)
                row[f"{head} p"] = p_value(r["p"])
            else:
                row[f"{head} HR (95% CI)"] = "–"
                row[f"{head} p"] = ""
        out.append(row)
    return pd.DataFrame(out)
