"""Cumulative incidence (Aalen–Johansen, cmprsk) per group and cause, with Gray's test."""
from __future__ import annotations

import numpy as np
import pandas as pd

import oligomet as om

from ...report.figures import cif_figure
from ...report.tables import ReportTable
from ...report.document import FigureItem, TextItem, ci, clean, p_text, p_value, pct
from ._context import Ctx, quiet


def run_cif(ctx: Ctx) -> None:
    a = ctx.proto.analyses.cif
    res = ctx.results
    store = res.numbers.setdefault("cif", {})
    by = ctx.group_col if a.by_group else None
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        d = ctx.endpoint_data(ep)
        cif, warns = quiet(om.cumulative_incidence, d, time=ep.time_col, event=ep.event_col, by=by)
        res.warnings += [f"CIF {ep.name}: {w}" for w in warns]
        labels = {int(k): v for k, v in ep.cause_labels.items()} if ep.cause_labels else {}
        entry: dict = {"groups": {}, "gray_test": {}}
        at = cif.at(a.landmarks) if a.landmarks else None
        tab = cif.table
        rows = []
        for (g, c), cur in tab.groupby(["group", "cause"], sort=False, observed=True):
            ge = entry["groups"].setdefault(str(g), {})
            ce = {"n_events": float(cur["n_event"].sum()), "final": float(cur["estimate"].iloc[-1])}
            row = {"group": str(g), "cause": labels.get(int(c), str(c)), "events": int(cur["n_event"].sum())}
            if at is not None:
                ac = at[(at["group"].astype(str) == str(g)) & (at["cause"] == c)]
                ce["landmarks"] = {}
                for t in a.landmarks:
                    hit = ac[np.isclose(ac["time"], t)]
                    est = float(hit["estimate"].iloc[0]) if len(hit) else float("nan")
                    var = float(hit["variance"].iloc[0]) if len(hit) else float("nan")
                    ce["landmarks"][f"{t:g}"] = {"estimate": est, "variance": var}
                    row[f"{t:g}-{ctx.unit[:-1]} CIF"] = pct(est)
            ge[str(int(c))] = ce
            rows.append(row)
        if len(cif.gray_test):
            for r in cif.gray_test.itertuples(index=False):
                entry["gray_test"][str(int(r.cause))] = {"statistic": r.statistic, "df": r.df, "p_value": r.p_value}
        store[ep.name] = clean(entry)
        sec = res.section(f"cif_{ep.name}", f"{ep.title}: cumulative incidence")
        disp = pd.DataFrame(rows)
        sec.items.append(ReportTable(f"cif_{ep.name}", f"{ep.title}: cumulative incidence by cause", disp, disp,
                                     note="Aalen–Johansen estimates with competing risks (as cmprsk::cuminc); "
                                          "deaths are a competing event, not censored."))
        first_cause = tab[tab["cause"] == tab["cause"].min()]
        ar = first_cause[["group", "time", "n_risk"]]
        sec.items.append(FigureItem(f"cif_{ep.name}", f"{ep.title}: cumulative incidence", cif_figure,
                                    "Line style: cause; colour: group; shaded: 95% CI.",
                                    data=dict(table=tab, at_risk=ar, cause_labels=labels, title=ep.title,
                                              xlabel=ctx.unit_label, unit=ctx.unit, max_time=a.max_time)))
        if entry["gray_test"]:
            sec.items.append(TextItem("Gray's test: " + "; ".join(
                f"{labels.get(int(c), c)} {p_text(v['p_value'])}" for c, v in entry["gray_test"].items()) + "."))
        for g, ge in entry["groups"].items():
            c1 = ge.get("1")
            if c1 and c1.get("landmarks"):
                t, v = list(c1["landmarks"].items())[-1]
                who = "" if by is None else f" ({g})"
                res.results_text.append(f"The {t}-{ctx.unit[:-1]} cumulative incidence of "
                                        f"{labels.get(1, 'cause 1')}{who} was {pct(v['estimate'])}, "
                                        f"with death as a competing event.")
        if a.fine_gray:
            _fine_gray(ctx, ep, d, labels, sec, entry)
            store[ep.name] = clean(entry)
    if a.fine_gray:
        res.methods.append("Subdistribution hazard ratios were estimated with Fine–Gray models (as R's cmprsk::crr).")
    res.methods.append("Cumulative incidences were estimated with the Aalen–Johansen estimator treating death as a "
                       "competing event and compared with Gray's test (as R's cmprsk).")


def _fine_gray(ctx: Ctx, ep, d: pd.DataFrame, labels: dict, sec, entry: dict) -> None:
    """Fine–Gray model of cause 1: exposure (0/1 columns per non-reference group) + covariates."""
    a = ctx.proto.analyses.cif
    d = d.copy()
    cols = []
    if ctx.group_col is not None:
        for g in ctx.group_names[1:]:
            name = f"exposure[{g}]"
            d[name] = (d[ctx.group_col] == g).astype(float)
            cols.append(name)
    for col in a.covariates:
        cov = ctx.proto.covariate(col)
        if cov.type != "categorical":
            cols.append(col)
            continue
        # 0/1 columns per non-reference level, so the protocol's reference level is honoured
        levels = sorted(d[col].dropna().unique(), key=str)
        ref = cov.reference if cov.reference is not None else levels[0]
        for lv in levels:
            if lv != ref:
                name = f"{col}[{lv}]"
                d[name] = (d[col] == lv).astype(float).where(d[col].notna())
                cols.append(name)
    fg, warns = quiet(om.fine_gray, d, time=ep.time_col, event=ep.event_col, covariates=cols, cause=1)
    ctx.results.warnings += [f"Fine–Gray {ep.name}: {w}" for w in warns]
    s = fg.summary
    entry["fine_gray"] = {str(t): {k: r[k] for k in ("coef", "se", "p", "shr", "shr_lower", "shr_upper")}
                          for t, r in s.iterrows()}
    entry["fine_gray_n"] = fg.n
    tidy = s.reset_index().rename(columns={s.index.name or "index": "term"})
    tidy.insert(1, "label", [ctx.term_label(str(t)) for t in s.index])
    disp = pd.DataFrame({"Variable": tidy["label"],
                         "sHR (95% CI)": [ci(x, lo, hi, 2) for x, lo, hi in
                                          tidy[["shr", "shr_lower", "shr_upper"]].itertuples(index=False)],
                         "p": tidy["p"].map(p_value)})
    cause = labels.get(1, "cause 1")
    sec.items.append(ReportTable(f"finegray_{ep.name}", f"{ep.title}: Fine–Gray model of {cause}", tidy, disp,
                                 note="sHR: subdistribution hazard ratio (as cmprsk::crr); competing events "
                                      "stay in the risk set."))
    for t, r in s.iterrows():
        if str(t).startswith("exposure["):
            ctx.results.results_text.append(
                f"For {cause}, {ctx.term_label(str(t))} had a subdistribution HR of "
                f"{ci(r['shr'], r['shr_lower'], r['shr_upper'], 2)} ({p_text(r['p'])}).")
