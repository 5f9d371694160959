"""The user's side: a protocol -> a federated plan, a run (mock network or a vantage6 server), a summary.

``plan_for(proto)`` asks for what the protocol's analyses need and the federation can give exactly:
per-time counts for every Kaplan–Meier, log-rank, CIF and follow-up endpoint, and the Cox models of
``[analyses.cox]`` (exposure + all its candidate covariates, stratified by site and with a shared
baseline). ``summarise`` turns the central output into tidy tables with the pooled estimators.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from ..study.protocol import Protocol
from . import central


def plan_for(proto: Protocol, exact: bool = False) -> dict:
    a = proto.analyses
    eps: list[str] = []
    for sub in (a.km, a.logrank, a.cif):
        eps += list(sub.endpoints) if sub is not None else []
    if a.followup is not None:
        eps.append(a.followup.endpoint)
    km = []
    for name in dict.fromkeys(eps):
        ep = proto.endpoint(name)
        spec = {"endpoint": name, "exact": exact}
        if ep.kind == "competing":
            spec["causes"] = sorted(int(c) for c in ep.cause_labels) or [1, 2]
        km.append(spec)
    cox = []
    if a.cox is not None:
        terms = (["exposure"] if proto.exposure is not None and a.cox.include_exposure else []) + list(a.cox.covariates)
        for name in a.cox.endpoints:
            for baseline in ("site_strata", "shared"):
                cox.append({"endpoint": name, "terms": terms, "ties": a.cox.ties, "baseline": baseline,
                            "exact": exact})
    plan = {"km": km, "cox": cox}
    if a.table_one is not None and a.table_one.variables:
        plan["table_one"] = {"variables": list(a.table_one.variables), "bin_width": {}}
    return plan


def open_federation(config: str | Path):
    """(run, exact_times): ``run(protocol_text, fmt, plan) -> (central output, site messages)`` over the
    federation ``config`` names (a ``mock:`` file or folder of sites, or a ``server:`` file), and the file's
    ``exact_times`` (false for a folder)."""
    from .mock import run_mock
    from .server import read_federation, run_server

    config = Path(config)
    fed = read_federation(config) if config.is_file() else None
    if fed is not None and fed.server is not None:
        return (lambda text, fmt, plan: run_server(text, fmt, fed.server, plan, base=config.parent)), fed.exact_times
    sites = load_federation(config)
    return (lambda text, fmt, plan: run_mock(text, fmt, sites, plan)), bool(fed is not None and fed.exact_times)


def load_federation(config: str | Path) -> list[Path]:
    """The node configurations of a ``mock`` federation file: ``mock: <folder>`` (one sub-folder with a
    ``node.yaml`` per site) or ``mock: [node.yaml, ...]``."""
    config = Path(config)
    data = yaml.safe_load(config.read_text(encoding="utf-8")) if config.is_file() else {"mock": str(config)}
    if not isinstance(data, dict) or "mock" not in data:
        raise ValueError(f"{config}: a federation file gives 'mock: <folder of sites>' or 'server:' (a vantage6 "
                         "installation): see docs/federated.md, 'Deployment'")
    m = data["mock"]
    base = config.parent if config.is_file() else Path(".")
    if isinstance(m, list):
        return [(base / p).resolve() for p in m]
    folder = (base / m).resolve()
    found = sorted(folder.glob("*/node.yaml"))
    if not found:
        raise ValueError(f"{folder}: no site folders with a node.yaml")
    return found


def summarise(out: dict, proto: Protocol) -> dict[str, pd.DataFrame]:
    """Tidy tables of a federated run: sites, refusals, flow, KM medians, log-rank, CIF Gray tests,
    median follow-up, Cox models."""
    groups = [g.name for g in proto.exposure.groups] if proto.exposure is not None else None
    t: dict[str, pd.DataFrame] = {
        "sites": pd.DataFrame({"site": out["sites"]}),
        "suppressed": pd.DataFrame(out["refused"], columns=["site", "step", "reason"]),
        "flow": central.combine_flow(out["cohort"]),
    }
    med, lr, gray = [], [], []
    for name, msgs in out["km"].items():
        if not msgs:
            continue
        ep = proto.endpoint(name)
        if ep.kind == "competing":
            g = central.cumulative_incidence(msgs, groups=groups).gray_test if groups else None
            if g is not None:
                gray.append(g.assign(endpoint=name))
            continue
        km = central.kaplan_meier(msgs, groups=groups)
        med.append(km.medians.assign(endpoint=name))
        if groups:
            r = central.logrank(msgs, groups=groups)
            lr.append({"endpoint": name, "statistic": r.statistic, "df": r.df, "p": r.p_value})
    if proto.analyses.followup is not None and proto.analyses.followup.endpoint in out["km"]:
        f = central.median_followup(out["km"][proto.analyses.followup.endpoint])
        t["followup"] = pd.DataFrame([{"median": f.median, "lower": f.lower, "upper": f.upper, "q25": f.q25,
                                       "q75": f.q75, "n": f.n}])
    t["km_medians"] = pd.concat(med, ignore_index=True) if med else pd.DataFrame()
    t["logrank"] = pd.DataFrame(lr)
    t["gray_test"] = pd.concat(gray, ignore_index=True) if gray else pd.DataFrame()
    cox = []
    for c in out["cox"]:
        if "summary" in c:
            cox.append(pd.DataFrame(c["summary"]).assign(endpoint=c["endpoint"], baseline=c.get("baseline",
                                                                                                 "site_strata")))
    t["cox"] = pd.concat(cox, ignore_index=True) if cox else pd.DataFrame()
    if out.get("table_one"):
        t["table_one"], t["table_one_smd"] = central.table_one(out["table_one"], groups)
    return t


def write_summary(tables: dict[str, pd.DataFrame], out: dict, folder: str | Path) -> Path:
    """CSV per table, the central output as ``federated.json`` and a short ``methods.md``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "federated.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    refused = "; ".join(f"{r['site'] or 'a model'} at {r['step']}: {r['reason']}" for r in out["refused"]) or "none"
    (folder / "methods.md").write_text(
        "The analysis was federated (vantage6, oligomet.federated): no patient row left a site; each site "
        f"returned aggregates only. Sites that took part: {', '.join(out['sites'])}. Suppressed or refused: "
        f"{refused}. Messages: {out['ledger']['requests']} requests, {out['ledger']['bytes_from_sites']} bytes "
        "from the sites.\n", encoding="utf-8")
    return folder
