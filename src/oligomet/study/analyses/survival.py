"""Kaplan–Meier (medians, quantiles, landmark rates, curves), log-rank, median follow-up."""
from __future__ import annotations

import numpy as np
import pandas as pd

import oligomet as om

from ...report.figures import km_figure
from ...report.tables import ReportTable
from ...report.document import FigureItem, TextItem, ci, clean, num, p_value, pct, p_text, lower_first
from ._context import Ctx, quiet


def run_km(ctx: Ctx) -> None:
    a = ctx.proto.analyses.km
    res = ctx.results
    by = ctx.group_col if a.by_group else None
    store = res.numbers.setdefault("km", {})
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        d = ctx.endpoint_data(ep)
        km, warns = quiet(om.kaplan_meier, d, time=ep.time_col, event=ep.event_col, by=by, conf_type=a.conf_type)
        res.warnings += [f"KM {ep.name}: {w}" for w in warns]
        sec = res.section(f"survival_{ep.name}", ep.title)
        med = km.medians
        entry: dict = {"n_undefined": int(len(ctx.cohort) - len(d)), "groups": {}}
        rows = []
        q = km.quantile(a.quantiles) if a.quantiles else None
        landmarks = ep.landmarks if ep.landmarks is not None else a.landmarks
        lm = km.at(landmarks, extend=False) if landmarks else None
        for r in med.itertuples(index=False):
            g = str(r.group)
            ge = {"n": int(r.n), "n_events": float(r.n_events), "median": r.median, "lower": r.lower,
                  "upper": r.upper}
            row = {"group": g, "n": int(r.n), "events": int(round(r.n_events)),
                   f"median, {ctx.unit} (95% CI)": ci(r.median, r.lower, r.upper)}
            if q is not None:
                qg = q[q["group"].astype(str) == g]
                ge["quantiles"] = {f"{qq:g}": {"time": t, "lower": lo, "upper": hi}
                                   for qq, t, lo, hi in qg[["quantile", "time", "lower", "upper"]].itertuples(
                                       index=False)}
                if set(a.quantiles) >= {0.25, 0.75}:
                    q25 = qg.loc[np.isclose(qg["quantile"], 0.25), "time"].iloc[0]
                    q75 = qg.loc[np.isclose(qg["quantile"], 0.75), "time"].iloc[0]
                    row["IQR"] = f"{num(q25)}–{num(q75)}"
            if lm is not None:
                lg = lm[lm["group"].astype(str) == g]
                ge["landmarks"] = {}
                for t in landmarks:
                    hit = lg[np.isclose(lg["time"], t)]
                    if len(hit):
                        s, lo, hi = hit.iloc[0][["survival", "lower", "upper"]]
                        ge["landmarks"][f"{t:g}"] = {"survival": s, "lower": lo, "upper": hi}
                        row[f"{t:g}-{ctx.unit[:-1]} rate (95% CI)"] = f"{pct(s)} ({pct(lo)}–{pct(hi)})"
                    else:  # beyond the group's last follow-up time: not estimable
                        ge["landmarks"][f"{t:g}"] = {"survival": None, "lower": None, "upper": None}
                        row[f"{t:g}-{ctx.unit[:-1]} rate (95% CI)"] = "NE"
            entry["groups"][g] = ge
            rows.append(row)
        store[ep.name] = clean(entry)
        if entry["n_undefined"]:
            sec.items.append(TextItem(
                f"{entry['n_undefined']} of {len(ctx.cohort)} patients have no {lower_first(ep.title)} "
                f"(the endpoint is undefined for them, e.g. no index treatment or no curative local treatment) and "
                f"are not in this analysis."))
        display = pd.DataFrame(rows)
        tidy = med.copy()
        if lm is not None:
            wide = lm.pivot_table(index="group", columns="time", values="survival", observed=False)
            wide.columns = [f"rate_{c:g}" for c in wide.columns]
            tidy = tidy.merge(wide.reset_index(), on="group", how="left")
        sec.items.append(ReportTable(f"km_{ep.name}", f"{ep.title}: Kaplan–Meier estimates", tidy, display,
                                     note="Medians and CIs as R's quantile.survfit (log CI); rates at landmark "
                                          "times with pointwise log CIs. NR: not reached; NE: not estimable "
                                          "(no patient followed that long)."))
        sec.items.append(FigureItem(f"km_{ep.name}", f"{ep.title}: Kaplan–Meier curves", km_figure,
                                    "Shaded: pointwise 95% CI; ticks: censored; table: number at risk.",
                                    data=dict(table=km.table, title=f"{ep.title}", xlabel=ctx.unit_label,
                                              unit=ctx.unit, ylabel=ep.ylabel or "Survival probability",
                                              legend_title=ctx.proto.exposure.label if by else None,
                                              max_time=a.max_time)))
        # results sentence (abstract style)
        for g, ge in entry["groups"].items():
            who = "" if by is None else f" in the {g} group"
            res.results_text.append(
                f"The estimated median {lower_first(ep.title)}{who} was {_months(ge['median'], ctx)} "
                f"(95% CI: {num(ge['lower'])}–{num(ge['upper'])})" +
                (f"; IQR {num(ge['quantiles']['0.25']['time'])}–{num(ge['quantiles']['0.75']['time'])}"
                 if "quantiles" in ge and "0.25" in ge["quantiles"] and "0.75" in ge["quantiles"] else "") +
                (", " + ", ".join(f"{t}-{ctx.unit[:-1]} rate {pct(v['survival'])}"
                                  for t, v in ge.get("landmarks", {}).items() if v["survival"] is not None)
                 if ge.get("landmarks") else "") + ".")
    ctx.results.methods.append(
        "Survival was estimated with the Kaplan–Meier method; medians and their 95% CIs follow R's "
        "quantile.survfit (log-transformed pointwise CIs), and landmark rates are reported with pointwise CIs.")


def _months(x, ctx: Ctx) -> str:
    return "not reached" if x is None or not np.isfinite(x) else f"{num(x)} {ctx.unit}"


def run_logrank(ctx: Ctx) -> None:
    a = ctx.proto.analyses.logrank
    res = ctx.results
    store = res.numbers.setdefault("logrank", {})
    rows = []
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        d = ctx.endpoint_data(ep)
        lr, warns = quiet(om.logrank, d, time=ep.time_col, event=ep.event_col, by=ctx.group_col, rho=a.rho)
        res.warnings += [f"log-rank {ep.name}: {w}" for w in warns]
        store[ep.name] = clean({"statistic": lr.statistic, "df": lr.df, "p_value": lr.p_value,
                                "observed": dict(zip(map(str, lr.groups), lr.observed)),
                                "expected": dict(zip(map(str, lr.groups), lr.expected))})
        rows.append({"endpoint": ep.title, "chisq": lr.statistic, "df": lr.df, "p": lr.p_value})
        res.section(f"survival_{ep.name}", ep.title).items.append(
            TextItem(f"Log-rank test{'' if a.rho == 0 else f' (G-rho, rho = {a.rho:g})'}: "
                     f"χ² = {lr.statistic:.2f} on {lr.df} df, {p_text(lr.p_value)}."))
        res.results_text.append(f"{ep.title} differed between groups with log-rank {p_text(lr.p_value)}."
                                if lr.p_value < 0.05 else
                                f"{ep.title} did not differ significantly between groups (log-rank "
                                f"{p_text(lr.p_value)}).")
    tidy = pd.DataFrame(rows)
    disp = tidy.assign(chisq=tidy["chisq"].map(lambda x: f"{x:.2f}"), p=tidy["p"].map(p_value))
    res.section("tests", "Group comparisons").items.append(
        ReportTable("logrank", "Log-rank tests between exposure groups", tidy, disp))
    res.methods.append("Groups were compared with the log-rank test (R's survdiff).")


def run_followup(ctx: Ctx) -> None:
    a = ctx.proto.analyses.followup
    ep = ctx.proto.endpoint(a.endpoint)
    d = ctx.endpoint_data(ep)
    fu = om.median_followup(d, time=ep.time_col, event=ep.event_col, details=True)
    ctx.results.numbers["followup"] = clean({"endpoint": ep.name, "median": fu.median, "lower": fu.lower,
                                             "upper": fu.upper, "q25": fu.q25, "q75": fu.q75, "n": fu.n})
    text = (f"Median follow-up (reverse Kaplan–Meier) was {num(fu.median)} {ctx.unit} "
            f"(95% CI: {num(fu.lower)}–{num(fu.upper)}; IQR {num(fu.q25)}–{num(fu.q75)}).")
    ctx.results.section("cohort", "Study cohort").items.append(TextItem(text))
    ctx.results.results_text.insert(0, text)
    ctx.results.methods.append("Follow-up was summarised with the reverse Kaplan–Meier method.")
