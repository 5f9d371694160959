"""The federated run's report: the same sections, built by the same section builders, as a pooled run.

``report_plan(proto)`` asks the sites for everything the protocol's report needs; ``federated_results``
turns the central output into the :class:`~oligomet.report.document.StudyResults` a pooled run builds and
``write_report`` renders it (HTML, DOCX, XLSX, figures, results.json).

How each analysis gets its result, and why it equals the pooled one:

* Kaplan–Meier, log-rank, median follow-up, cumulative incidence: the sites' per-time counts are laid out
  as (time, event, group) rows — no covariate, no identifier — and the study layer's own compute functions
  run on them (``compute_km`` ...): the per-time counts are sufficient statistics of these estimators.
* Cox: the report's univariable models, the selection rule and the multivariable model are federated fits
  with one shared baseline (``algorithm._cox_models``), identical to the pooled ``om.cox``.
* Table 1: counts, percentages, means, SDs, SMDs and tests from the sites' sums (``central.table_one``).
* Complications: the sites' counts per group (Fisher's / chi-square tests from the summed table).
* Propensity-score weighting: the federated propensity model, balance, effective sample sizes, weighted
  Kaplan–Meier (per-cell weight sums) and weighted Cox with the robust variance.

What cannot be federated without sharing rows is left out and listed in the methods: matching (across
sites), multiple imputation (the Cox models are complete-case), the PH check and the concordance, Fine–Gray,
RMST, landmark, time-varying, subgroup and paired analyses, CCI quantiles.
"""
from __future__ import annotations

import contextlib
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats

from ..report.document import StudyResults, clean
from ..study import catalogue
from ..study import cohort as C
from ..study.analyses import competing, survival
from ..study.analyses._context import Ctx
from ..study.analyses.complications import GRADES, ComplicationsResult
from ..study.analyses.cox import _KEYS, CoxEndpoint, CoxResult, _rows, _with_references
from ..study.analyses.describe import TableOneResult
from ..study.analyses.propensity import PropensityResult, PSOutcome, km_numbers, label_balance_rows
from ..study.checks import group_sizes
from ..study.protocol import Protocol
from . import central

_Z975 = stats.norm.ppf(0.975)

#: analyses the federated report computes (the others need patient rows at one place)
FEDERATED = ("followup", "table_one", "km", "logrank", "complications", "cox", "propensity", "cif")


def _balance_rows(bal: pd.DataFrame, ctx, covariates: list[str]) -> dict[str, tuple[str, object]]:
    """Each balance row's ``(column, level)``. The central server has no patient rows to list a factor's levels
    from, so a categorical covariate's rows are those named the column followed by a level (MatchIt's names,
    as the sites built them); the longest covariate name wins."""
    rows = {}
    for name in map(str, bal.index):
        for col in sorted(covariates, key=len, reverse=True):
            if name == col:
                rows[name] = (col, None)
                break
            if ctx.proto.covariate(col).type == "categorical" and name.startswith(col):
                rows[name] = (col, name[len(col):])
                break
    return rows


def _binaries(proto: Protocol) -> list[tuple[str, str]]:
    extra = proto.analyses.complications.extra_binary if proto.analyses.complications else []
    return [("Clavien–Dindo grade ≥ III", "cd_grade_3plus"), ("90-day mortality", "death_90d")] + \
        [(proto.covariate(c).title, c) for c in extra]


def report_plan(proto: Protocol, exact: bool = False) -> dict:
    """What the sites are asked for: the summary plan plus the report's Cox models, complications and weighting."""
    from .study import plan_for

    a = proto.analyses
    plan = plan_for(proto, exact=exact)
    ctx = Ctx(proto=proto, cohort=pd.DataFrame())
    eps = [s["endpoint"] for s in plan["km"]]
    extra = list(a.cox.endpoints) if a.cox is not None else []
    if a.propensity is not None:
        extra += list(a.propensity.endpoints)
    plan["km"] += [{"endpoint": e, "exact": exact} for e in dict.fromkeys(extra) if e not in eps]
    if a.cox is not None:
        variables = (["exposure"] if a.cox.include_exposure and proto.exposure is not None else []) + \
            list(a.cox.covariates)
        plan["cox_models"] = [{"endpoint": e, "variables": variables, "terms": {v: ctx.term(v) for v in variables},
                               "selection": a.cox.selection, "threshold": a.cox.threshold,
                               "fixed": list(a.cox.fixed or []), "ties": a.cox.ties, "exact": exact}
                              for e in a.cox.endpoints]
    if a.complications is not None:
        plan["complications"] = {"binaries": [c for _, c in _binaries(proto)], "secure": True}
    p = a.propensity
    if p is not None and proto.exposure is not None:
        plan["propensity"] = {"endpoint": p.endpoints[0] if p.endpoints else proto.endpoints[0].name,
                              "covariates": list(p.covariates), "treated": proto.exposure.groups[1].name,
                              "estimand": p.estimand if p.method == "weight" else "ATT", "outcomes": list(p.endpoints),
                              "exposure_term": ctx.term("exposure"), "exact": exact, "secure": True}
        if p.method == "match":   # across sites it would need every score at one place: within each site
            plan["propensity"]["match"] = {"caliper": p.caliper, "ratio": p.ratio, "replace": p.replace,
                                           "order": p.order, "seed": proto.seed}
    return plan


# --- survival analyses on the per-time counts ------------------------------------------------------

def _pseudo_cohort(proto: Protocol, km: dict[str, dict]) -> pd.DataFrame:
    """One (time, event, group) row per counted patient and endpoint, in the endpoint's own columns."""
    groups = [g.name for g in proto.exposure.groups] if proto.exposure is not None else None
    parts = []
    for name, msgs in km.items():
        if not msgs:
            continue
        ep = proto.endpoint(name)
        rows = central.km_rows(msgs)
        part = pd.DataFrame({ep.time_col: rows["time"].to_numpy(float), ep.event_col: rows["event"].to_numpy(float)})
        if groups is not None:
            part[C.GROUP] = pd.Categorical(rows["group"].to_numpy(), categories=groups)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _survival(key: str, ctx: Ctx, n_cohort: int):
    """compute_km / compute_logrank / compute_followup / compute_cif on the per-time rows."""
    if key == "km":
        r = survival.compute_km(ctx)
        for e in r.endpoints:   # patients without the endpoint: out of the real cohort, not the rows
            n_defined = sum(g["n"] for g in e.entry["groups"].values())
            e.entry["n_undefined"] = r.numbers[e.name]["n_undefined"] = int(n_cohort - n_defined)
        return replace(r, n_cohort=n_cohort)
    if key == "cif":
        return competing.compute_cif(Ctx(proto=ctx.proto.model_copy(update={"analyses": ctx.proto.analyses.model_copy(
            update={"cif": ctx.proto.analyses.cif.model_copy(update={"fine_gray": False})})}), cohort=ctx.cohort))
    return {"logrank": survival.compute_logrank, "followup": survival.compute_followup}[key](ctx)


# --- Table 1 ---------------------------------------------------------------------------------------

def _table_one(ctx: Ctx, out: dict, groups_n: dict | None) -> TableOneResult:
    from ..describe.table_one import TableOne

    groups = ctx.group_names or None
    table, tests = central.table_one(out["table_one"], groups, out.get("table_one_bins", {}))
    names = [str(g) for g in (groups or ["Overall"])]
    ns = groups_n or {"Overall": sum(m["n"] for m in out["cohort"].values())}
    n_rows = pd.DataFrame([{"variable": "N", "level": "", "group": g, "kind": "n", "n": float(ns[g]),
                            "text": str(ns[g])} for g in names])
    todo = table["text"].isna() if "text" in table else pd.Series(True, index=table.index)
    normal, skewed = todo & (table["kind"] == "normal"), todo & (table["kind"] == "nonnormal")
    table.loc[normal, "text"] = [f"{m:.1f} ({s:.1f})" for m, s in
                                 zip(table.loc[normal, "mean"], table.loc[normal, "sd"])]
    table.loc[skewed, "text"] = [f"{m:.1f} [{a:.1f}, {b:.1f}]" for m, a, b in
                                 zip(table.loc[skewed, "median"], table.loc[skewed, "q1"], table.loc[skewed, "q3"])]
    table = pd.concat([n_rows, table], ignore_index=True)
    tests = tests.copy()
    for i, r in tests.iterrows():
        # Student's t / one-way ANOVA from n, mean and SD
        if r["kind"] == "normal" and groups and pd.isna(r.get("p", np.nan)):
            rows = table[(table.variable == r["variable"])].set_index("group")
            n, m, sd = (rows.loc[names, c].to_numpy(float) for c in ("n", "mean", "sd"))
            within = np.sum((n - 1) * sd ** 2)
            between = np.sum(n * (m - np.sum(n * m) / n.sum()) ** 2)
            df1, df2 = len(n) - 1, n.sum() - len(n)
            tests.loc[i, "test"] = "t-test" if len(n) == 2 else "ANOVA"
            tests.loc[i, "p"] = float(stats.f.sf((between / df1) / (within / df2), df1, df2))
    cols = ["variable", "level", "group", "kind", "n", "percent", "mean", "sd", "median", "q1", "q3", "missing",
            "text"]
    table = table.reindex(columns=cols + [c for c in table.columns if c not in cols])
    t1 = TableOne(table=table[cols],
                  tests=tests.reindex(columns=["variable", "kind", "summary", "test", "p", "smd"]),
                  groups=names, weighted=False,
                  notes=["Federated: medians and quartiles of variables with more than one value per histogram "
                         "cell are the midpoints of bounds from the sites' histograms (see docs/federated.md)."])
    return TableOneResult(numbers={"before": clean(t1.table.reset_index())}, key="before",
                          title="Patient characteristics" + (" by group" if groups else ""), tidy=t1.table,
                          wide=t1.wide().reset_index(), notes=list(t1.notes), by_group=groups is not None,
                          labels={c.column: c.title for c in ctx.proto.covariates},
                          binary=frozenset(c.column for c in ctx.proto.covariates if c.type == "binary"),
                          tests=t1.tests)


# --- complications -----------------------------------------------------------------------------

def _complications(ctx: Ctx, out: dict) -> ComplicationsResult:
    """The pooled ``compute_complications`` entry from the sites' counts (items a site withheld are summed over
    the others and named in the methods). CCI quantiles need the values: not shown."""
    binaries = _binaries(ctx.proto)
    msgs = list(out["complications"].values())
    names = ["All"] + ctx.group_names
    entry: dict = {}
    for name in names:
        parts = [m["groups"][name] for m in msgs]
        e: dict = {"n": sum(p["n"] for p in parts)}
        e["grades"] = {gr: sum(p["grades"][gr] for p in parts if "grades" in p) for gr in (*GRADES, "none", "unknown")}
        for _, col in binaries:
            k = sum(p[col]["n"] for p in parts if col in p)
            known = sum(p[col]["n_known"] for p in parts if col in p)
            e[col] = {"n": k, "n_known": known, "rate": k / known if known else None}
        e["cci"] = {"median": None, "q25": None, "q75": None, "mean": None}
        entry[name] = e
    tests = {}
    for _, col in binaries:
        if len(names) < 3:
            tests[col] = {"p": np.nan, "test": ""}
            continue
        tab = np.array([[entry[g][col]["n_known"] - entry[g][col]["n"], entry[g][col]["n"]] for g in names[1:]])
        tab = tab[:, tab.sum(axis=0) > 0][tab.sum(axis=1) > 0]
        if tab.shape[0] < 2 or tab.shape[1] < 2:
            tests[col] = {"p": np.nan, "test": ""}
        elif tab.shape == (2, 2):
            tests[col] = {"p": float(stats.fisher_exact(tab)[1]), "test": "Fisher"}
        else:
            tests[col] = {"p": float(stats.chi2_contingency(tab, correction=False)[1]), "test": "chi-square"}
    entry["tests"] = tests
    tidy = pd.DataFrame([{"group": n, "measure": col, "n": entry[n][col]["n"], "n_known": entry[n][col]["n_known"],
                          "rate": entry[n][col]["rate"]} for n in names for _, col in binaries] +
                        [{"group": n, "measure": f"grade_{gr}", "n": entry[n]["grades"][gr], "n_known": entry[n]["n"],
                          "rate": entry[n]["grades"][gr] / entry[n]["n"] if entry[n]["n"] else None}
                         for n in names for gr in GRADES])
    extra = [(ctx.proto.covariate(c).title, c) for c in ctx.proto.analyses.complications.extra_binary]
    return ComplicationsResult(numbers=clean(entry), entry=entry, by_group=len(names) > 1, binaries=binaries,
                               extra=extra, tidy=tidy)


# --- Cox ---------------------------------------------------------------------------------------

def _fit(f: dict) -> SimpleNamespace:
    return SimpleNamespace(summary=pd.DataFrame(f["summary"]).set_index("term"), n=f["n"], n_events=f["n_events"],
                           tests=pd.DataFrame(f["tests"]).set_index("test"), loglik=f["loglik"])


def _cox(ctx: Ctx, out: dict, n_eligible: dict) -> CoxResult:
    a = ctx.proto.analyses.cox
    numbers, endpoints = {}, []
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        res = out["cox_models"][name]
        uni_rows = []
        for f in res["univariable"].values():
            if "summary" in f:
                uni_rows += _rows(_fit(f), ctx, "univariable")
        entry: dict = {"univariable": {r["term"]: {k: r[k] for k in _KEYS} for r in uni_rows},
                       "screen_lr_p": res["screen_lr_p"], "selected": res["selected"], "multivariable": {}}
        multi_rows = []
        mv = res["multivariable"]
        if mv is not None and "summary" in mv:
            fit = _fit(mv)
            multi_rows = _rows(fit, ctx, "multivariable")
            entry["multivariable"] = {r["term"]: {k: r[k] for k in _KEYS} for r in multi_rows}
            entry["multivariable_model"] = {"n": fit.n, "n_events": fit.n_events, "loglik_null": fit.loglik[0],
                                            "loglik": fit.loglik[-1],
                                            "lr_test": fit.tests.loc["likelihood_ratio"].to_dict()}
        numbers[name] = clean(entry)
        if not uni_rows:
            continue
        levels = {}
        for f in res["univariable"].values():
            levels.update(f.get("levels", {}))
        m = max([len(v) for v in levels.values() if v != "numeric"] + [1])
        frame = pd.DataFrame({c: [v[i % len(v)] for i in range(m)] for c, v in levels.items() if v != "numeric"})
        if ctx.group_names:
            frame[C.GROUP] = [ctx.group_names[i % len(ctx.group_names)] for i in range(m)]
        n_el = n_eligible.get(name, 0)
        missing = {v: int(n_el - res["univariable"][v]["n"]) for v in res["variables"] if "n" in res["univariable"][v]}
        endpoints.append(CoxEndpoint(name, ep.title, _with_references(uni_rows + multi_rows, frame, ctx), None, {},
                                     n_eligible=n_el, missing=missing, imputation=None))
    return CoxResult(numbers=numbers, selection=a.selection, threshold=a.threshold, ph_check=False,
                     ph_transform=a.ph_transform, endpoints=endpoints)


# --- propensity-score weighting ---------------------------------------------------------------------

def _propensity(ctx: Ctx, out: dict) -> PropensityResult:
    a = ctx.proto.analyses.propensity
    control, treated = ctx.group_names[0], ctx.group_names[1]
    w = out["weighting"]
    matching = a.method == "match"
    bal, ess = central.weighting_balance(w["messages"], "ATT" if matching else a.estimand)
    bt = bal.reset_index()
    entry: dict = {"method": a.method, "treated_group": treated, "control_group": control, "balance": clean(bt)}
    sizes, n_unmatched = None, 0
    if matching:
        n = {g: sum(m["groups"][g]["n"] for m in w["messages"].values()) for g in ("control", "treated")}
        k = {g: sum(m["groups"][g]["n_matched"] for m in w["messages"].values()) for g in ("control", "treated")}
        sizes = pd.DataFrame({g: {"All": n[g], "Matched": k[g], "Unmatched": n[g] - k[g]} for g in n})
        entry["sample_sizes"] = {str(i): {"control": int(r["control"]), "treated": int(r["treated"])}
                                 for i, r in sizes.iterrows()}
        entry["n_unmatched_treated"] = n_unmatched = int(n["treated"] - k["treated"])
        entry["within_sites"] = True
        ess = None
    else:
        entry["ess"] = clean(ess.reset_index())
    entry["max_abs_smd_after"] = mx = float(np.nanmax(np.abs(bal["smd_after"].drop(index="distance").to_numpy(float))))
    entry["outcomes"] = {}
    outcomes = []
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        import oligomet as om

        rows = central.weighted_km_rows(w["messages"], name)
        rows["group"] = pd.Categorical(rows["group"], categories=ctx.group_names)
        km = om.kaplan_meier(rows, time="time", event="event", by="group", weights="weights")
        oe: dict = {"km": km_numbers(km, a.landmarks)}
        unit = bool(np.allclose(rows["weights"].to_numpy(float)[rows["weights"].to_numpy(float) > 0], 1.0))
        if matching and unit:   # as the pooled run: log-rank on the matched rows when the weights are 1
            lr = om.logrank(rows[rows["weights"] > 0], time="time", event="event", by="group")
            oe["logrank"] = {"statistic": lr.statistic, "df": lr.df, "p_value": lr.p_value}
        fit = w["cox"][name]
        if "summary" in fit and fit.get("robust_var") is not None:
            s = fit["summary"][0]
            rse = float(np.sqrt(fit["robust_var"][0][0]))
            z = s["coef"] / rse
            oe["cox"] = {"term": s["term"], "hr": s["hr"], "hr_lower": float(np.exp(s["coef"] - _Z975 * rse)),
                         "hr_upper": float(np.exp(s["coef"] + _Z975 * rse)), "p": float(2 * stats.norm.sf(abs(z))),
                         "robust_se": rse, "n": fit["n"], "n_events": fit["n_events"]}
            entry["outcomes"][name] = oe
            outcomes.append(PSOutcome(name, ep.title, oe, km.table))
    n_model = sum(m["groups"][g]["n"] for m in w["messages"].values() for g in ("control", "treated"))
    return PropensityResult(
        numbers=clean(entry), options=a, treated=treated, control=control, ess=ess, balance=bt,
        sample_sizes=sizes, n_unmatched_treated=n_unmatched,
        balance_labels=label_balance_rows(bal, ctx, _balance_rows(bal, ctx, a.covariates)), max_abs_smd_after=mx,
        n_eligible=sum(m["n"] for m in out["cohort"].values()), n_model=n_model,
        missing={}, outside_overlap=w.get("outside_support", float("nan")),
        weighted_curves=True, covariate_titles=[ctx.proto.covariate(c).title for c in a.covariates],
        unit=ctx.unit, unit_label=ctx.unit_label, exposure_label=ctx.proto.exposure.label, outcomes=outcomes)


# --- the report -------------------------------------------------------------------------------------

def not_federated(proto: Protocol) -> list[str]:
    """The protocol's analyses (or options) a federated run leaves out."""
    a = proto.analyses
    out = [e.label for e in catalogue.requested(a) if e.key not in FEDERATED]
    if a.propensity is not None and a.propensity.method == "match":
        out.append("propensity-score matching across sites (it needs every patient's score at one place): "
                   "patients were matched within each site on the federated propensity model's score (caliper "
                   "in SD of the site's score), the matched sets forming the clusters of the robust SE")
    if a.cox is not None and a.cox.missing != "complete_case":
        out.append("multiple imputation (the Cox models are complete-case)")
    if a.cox is not None and a.cox.ph_check:
        out.append("the proportional-hazards check")
    if a.cox is not None:
        out.append("the concordance of the Cox models")
    if a.complications is not None:
        out.append("the CCI median, quartiles and Kruskal–Wallis test")
    if a.propensity is not None and a.propensity.method == "weight":
        out.append("the eCDF balance statistics of continuous covariates")
    if a.table_one is not None and a.propensity is not None:
        out.append("Table 1 after weighting (the balance table gives the weighted covariate means)"
                   if a.propensity.method == "weight" else "Table 1 after matching")
    if a.cif is not None and a.cif.fine_gray:
        out.append("the Fine–Gray model")
    return out


def federated_results(proto: Protocol, out: dict, exact: bool, source: dict | None = None) -> StudyResults:
    """The StudyResults of a pooled run, from the central output (see the module doc); ``source`` adds to
    the provenance record (e.g. the synthetic registry's seed)."""
    import importlib.metadata as md

    from ..study.run import versions
    from ..report.sections.checks import build_checks
    from ..report.sections.cohort import build_cohort

    res = StudyResults(title=proto.title, name=proto.name)
    flow = central.combine_flow(out["cohort"])
    flow = flow[["step", "label", "n_remaining", "n_excluded"]]
    n = int(flow["n_remaining"].iloc[-1])
    groups_n = None
    if proto.exposure is not None:
        groups_n = {g.name: sum(gg["n"] for m in out["cohort"].values() for gg in m["groups"] if gg["group"] == g.name)
                    for g in proto.exposure.groups}
    build_cohort(res, flow, n, groups_n, proto.description)
    build_checks(res, group_sizes(proto, groups_n or {"study cohort": n}))
    pseudo = _pseudo_cohort(proto, out["km"])
    ctx = Ctx(proto=proto, cohort=pseudo)
    n_eligible = {name: sum(b["n"] for m in msgs.values() for b in m["blocks"]) for name, msgs in out["km"].items()}
    for entry in catalogue.requested(proto.analyses):
        if entry.key not in FEDERATED:
            continue
        if entry.key in ("km", "logrank", "followup", "cif"):
            result = _survival(entry.key, ctx, n)
        elif entry.key == "table_one":
            if not out.get("table_one"):
                continue
            result = _table_one(ctx, out, groups_n)
        elif entry.key == "complications":
            result = _complications(ctx, out)
        elif entry.key == "cox":
            result = _cox(ctx, out, n_eligible)
        else:
            if "weighting" not in out or "messages" not in out["weighting"]:
                continue
            result = _propensity(ctx, out)
        res.numbers.setdefault(entry.key, {}).update(result.numbers)
        res.warnings += result.warnings
        entry.build(res, result)
        if entry.checks is not None:
            build_checks(res, [c for c in entry.checks(ctx, result) if c.name != "overlap" or
                               np.isfinite(c.values.get("share_outside", 0.0))])
    res.methods.append(methods_text(proto, out, exact))
    v = versions()
    with contextlib.suppress(md.PackageNotFoundError):
        v["vantage6-algorithm-tools"] = md.version("vantage6-algorithm-tools")
    res.methods.append(
        f"Analyses were run with oligomet {v['oligomet']} (Python {v['python']}, NumPy {v['numpy']}, SciPy "
        f"{v['scipy']}, pandas {v['pandas']}); its estimators reproduce R's survival 3.5-3, MatchIt 4.7.2 and "
        f"cmprsk 2.2-11. Two-sided p < 0.05 was considered significant.")
    res.numbers["cohort"] = clean({"flow": flow, "n": n, "groups": groups_n or {}})
    res.numbers["federated"] = clean({"sites": out["sites"], "refused": out["refused"],
                                      "exact_times": exact, "messages": out["ledger"]})
    res.provenance = clean({"protocol": None, "protocol_sha256": proto.hash,
                            "data_source": f"federated over {len(out['sites'])} sites", "sites": out["sites"],
                            "data_sha256": "not computed: each site's registry stays at the site",
                            "n_patients_registry": int(flow["n_remaining"].iloc[0]), "synthetic": None,
                            "synthetic_patients": False, "seed": proto.seed, "time_unit": proto.time_unit,
                            "versions": v, **(source or {})})
    return res


def methods_text(proto: Protocol, out: dict, exact: bool) -> str:
    """Federated, which sites, exact or grid times, what was refused or suppressed, what was left out."""
    refused = [r for r in out["refused"]]
    by_site = [f"{r['site'] or 'the model'} ({r['step']}: {r['reason']})" for r in refused]
    left_out = not_federated(proto)
    return ("The analysis was federated (vantage6; oligomet.federated): the analysis travelled to each hospital "
            "and only aggregates returned, no patient row left a site. Sites that took part: "
            f"{', '.join(out['sites'])}. " +
            ("Per-time tables used exact times (the sites allowed it), so the time-to-event estimates equal the "
             "pooled analysis. " if exact else
             "Per-time tables used the sites' privacy grid (times rounded up and merged until each cell held "
             "the minimum count), so time-to-event estimates approximate the pooled ones. ") +
            ("The complications table was summed securely over " +
             next(k for k in out["complications"])[len("secure sum over "):] + " (each site's counts masked, "
             "only the totals revealed). " if any(k.startswith("secure sum") for k in out.get("complications", {}))
             else "") +
            ("Refused or suppressed at a site: " + "; ".join(by_site) + ". " if by_site else
             "No site refused a step and no count was suppressed. ") +
            ("Not available in a federated run (they need patient rows at one place): " + "; ".join(left_out) + "."
             if left_out else ""))
