"""The vantage6 algorithm: ``partial`` runs at each site's node, ``central`` orchestrates and combines.

Both are top-level functions of this module, as vantage6 expects (the image's ``PKG_NAME`` is
``oligomet.federated.algorithm``). Every message is JSON (vantage6 serialises results as JSON); a
site's refusal is a message ``{"site": ..., "refused": reason}``, never an exception, so that the
study goes on without that site and says so.
"""
from __future__ import annotations

import json
import time

import numpy as np
from vantage6.algorithm.decorator import algorithm_client, central as _central, federated

from . import central as combine
from .disclosure import SmallCell
from .node import MessageLog, NodeRefusal, check_protocol, load_config


@federated
def partial(protocol: str, fmt: str, analysis: str, params: dict) -> dict:
    """Run one partial ``analysis`` on this node's registry; returns aggregates or a refusal."""
    from ..study.protocol_source import ProtocolError
    from .site import PARTIALS, site_cohort

    started = time.monotonic()
    try:
        cfg, path = load_config()
    except NodeRefusal as exc:
        return {"site": None, "refused": str(exc)}
    log = MessageLog(cfg.log, path.parent)
    request = {"analysis": analysis, "params": {k: v for k, v in params.items() if k != "beta"}}
    try:
        proto = check_protocol(protocol, fmt, cfg, "cohort" if analysis not in PARTIALS else
                               ("km" if analysis == "logrank" else analysis))
        cohort, flow = site_cohort(proto, cfg, path.parent)
        message = PARTIALS[analysis](proto, cohort, flow, cfg, params)
        if time.monotonic() - started > cfg.max_seconds:
            raise NodeRefusal(f"the analysis took longer than this node's limit of {cfg.max_seconds:g} s")
    except (NodeRefusal, SmallCell) as exc:
        message = {"refused": str(exc)}
    except ProtocolError as exc:   # the protocol does not fit this site's data (e.g. an empty group here)
        message = {"refused": f"the protocol does not fit this site's registry: {exc}"}
    message = {"site": cfg.site, **message}
    log.write(request, message)
    return message


def _ask(client, orgs: list[int], protocol: str, fmt: str, analysis: str, params: dict, ledger: dict) -> list[dict]:
    arguments = {"protocol": protocol, "fmt": fmt, "analysis": analysis, "params": params}
    task = client.task.create(method="partial", organizations=orgs, arguments=arguments,
                              name=f"oligomet {analysis}", description=f"oligomet partial {analysis}")
    out = client.wait_for_results(task["id"])
    ledger["requests"] += 1
    ledger["bytes_to_sites"] += len(json.dumps(arguments)) * len(orgs)
    ledger["bytes_from_sites"] += sum(len(json.dumps(m)) for m in out)
    return out


def _split(messages: list[dict], refused: list, step: str) -> dict[str, dict]:
    ok = {}
    for m in messages:
        if "refused" in m:
            refused.append({"site": m.get("site"), "step": step, "reason": m["refused"]})
        else:
            ok[m["site"]] = m
    return ok


def run_plan(client, protocol: str, fmt: str, plan: dict) -> dict:
    """The federated study: cohort, then each requested analysis over the sites that took part."""
    orgs_all = [o["id"] for o in client.organization.list()]
    ledger = {"requests": 0, "bytes_to_sites": 0, "bytes_from_sites": 0}
    refused: list = []
    cohort_msgs = _ask(client, orgs_all, protocol, fmt, "cohort", {}, ledger)
    site_of_org = {o: m.get("site") for o, m in zip(orgs_all, cohort_msgs)}
    ok = _split(cohort_msgs, refused, "cohort")
    orgs = [o for o in orgs_all if site_of_org[o] in ok]
    out: dict = {"sites": list(ok), "refused": refused, "ledger": ledger, "cohort": ok, "km": {}, "cox": []}
    if not ok:
        return out
    for spec in plan.get("km", []):
        msgs = _split(_ask(client, orgs, protocol, fmt, "km", spec, ledger), refused, f"km {spec['endpoint']}")
        out["km"][spec["endpoint"]] = msgs
    if plan.get("table_one"):
        msgs = _split(_ask(client, orgs, protocol, fmt, "table_one", plan["table_one"], ledger), refused, "table_one")
        for site, m in msgs.items():
            refused += [{"site": site, "step": f"table_one {v}", "reason": r} for v, r in m["suppressed"].items()]
        out["table_one"] = msgs
    if plan.get("propensity"):
        out["propensity"] = _propensity(client, orgs, site_of_org, protocol, fmt, plan["propensity"], ledger, refused)
    for spec in plan.get("cox", []):
        out["cox"].append(_cox(client, orgs, site_of_org, protocol, fmt, spec, ledger, refused))
    return out


def _cox(client, orgs, site_of_org, protocol, fmt, spec, ledger, refused) -> dict:
    what = f"cox {spec['endpoint']}"
    base = {"endpoint": spec["endpoint"], "terms": spec["terms"]}
    lv = _split(_ask(client, orgs, protocol, fmt, "levels", base, ledger), refused, what)
    orgs = [o for o in orgs if site_of_org[o] in lv]
    levels = combine.combine_levels(lv)
    params = {**base, "levels": levels, "ties": spec.get("ties", "efron"), "exact": spec.get("exact", False)}
    names = combine.design_names(spec["terms"], levels)
    shared = spec.get("baseline", "site_strata") == "shared"
    if shared:
        sums = _split(_ask(client, orgs, protocol, fmt, "means", params, ledger), refused, what)
        orgs = [o for o in orgs if site_of_org[o] in sums]
        n = sum(m["n"] for m in sums.values())
        params["centre"] = (np.sum([m["sum"] for m in sums.values()], axis=0) / n).tolist()
    seen = {}

    def evaluator(beta):
        msgs = _ask(client, orgs, protocol, fmt, "cox_shared_baseline" if shared else "cox_site_strata",
                    {**params, "beta": np.asarray(beta, dtype=float).tolist()}, ledger)
        bad = [m for m in msgs if "refused" in m]
        if bad:   # a site cannot leave in the middle of a fit: the model is refused as a whole
            raise NodeRefusal("; ".join(f"{m['site']}: {m['refused']}" for m in bad))
        if shared:
            seen["n"] = sum(int(np.sum(m["leaving"])) for m in msgs)
            seen["events"] = sum(int(np.sum(m["events"])) for m in msgs)
            return combine.shared_baseline_terms(msgs, np.asarray(beta, dtype=float), params["ties"] == "efron")
        seen["n"] = sum(m["n"] for m in msgs)
        seen["events"] = sum(m["n_events"] for m in msgs)
        return (sum(m["loglik"] for m in msgs), np.sum([m["score"] for m in msgs], axis=0),
                np.sum([m["information"] for m in msgs], axis=0))

    try:
        fit = combine.newton(evaluator, names, np.asarray(params.get("centre", np.zeros(len(names)))),
                             0, 0, None if shared else "site")
    except NodeRefusal as exc:
        refused.append({"site": None, "step": what, "reason": str(exc)})
        return {**spec, "refused": str(exc)}
    return {**spec, "sites": [site_of_org[o] for o in orgs], "n": seen["n"], "n_events": seen["events"],
            "summary": fit.summary.reset_index().to_dict("records"),
            "tests": fit.tests.reset_index().to_dict("records"), "loglik": fit.loglik.tolist(),
            "var": np.asarray(fit.var).tolist(), "iterations": fit.iterations, "converged": fit.converged}


def _propensity(client, orgs, site_of_org, protocol, fmt, spec, ledger, refused) -> dict:
    """glm's IRLS with the sites' Xᵀ W X and Xᵀ W z summed at each step; same start, same updates and the
    same convergence rule as ``matching.propensity.fit_logistic``, so the same iterates."""
    what = "propensity"
    lv = _split(_ask(client, orgs, protocol, fmt, "levels", {"endpoint": spec["endpoint"],
                                                           "terms": spec["covariates"]}, ledger), refused, what)
    orgs = [o for o in orgs if site_of_org[o] in lv]
    params = {**spec, "levels": combine.combine_levels(lv)}

    def ask(beta):
        msgs = _ask(client, orgs, protocol, fmt, "logistic",
                    {**params, "beta": None if beta is None else np.asarray(beta).tolist()}, ledger)
        bad = [m for m in msgs if "refused" in m]
        if bad:
            raise NodeRefusal("; ".join(f"{m['site']}: {m['refused']}" for m in bad))
        return msgs

    try:
        first = ask(None)   # glm's starting values; also the sums for the pooled centring
        n = sum(m["n"] for m in first)
        params["centre"] = (np.sum([m["sum"] for m in first], axis=0) / n).tolist()
        fit = combine.irls(ask, n, spec.get("epsilon", 1e-8), spec.get("maxit", 25))
    except NodeRefusal as exc:
        refused.append({"site": None, "step": what, "reason": str(exc)})
        return {**spec, "refused": str(exc)}
    beta = np.asarray(fit["coef"])
    beta[0] -= beta[1:] @ np.asarray(params["centre"])   # back from the centred basis
    names = ["(Intercept)"] + [c if params["levels"][c] == "numeric" else f"{c}{lv}"
                               for c in spec["covariates"] for lv in
                               (["numeric"] if params["levels"][c] == "numeric" else params["levels"][c][1:])]
    return {**spec, "sites": [site_of_org[o] for o in orgs], "n": n, "coef": dict(zip(names, beta.tolist())),
            "deviance": fit["deviance"], "iterations": fit["iterations"], "converged": fit["converged"]}


@_central
@algorithm_client
def central(client, protocol: str, fmt: str, plan: dict) -> dict:
    """Entry point of the study: runs :func:`run_plan`; an unexpected failure is returned as ``error``."""
    try:
        return run_plan(client, protocol, fmt, plan)
    except Exception as exc:  # noqa: BLE001 - the mock network exits the process on an exception
        return {"error": f"{type(exc).__name__}: {exc}"}
