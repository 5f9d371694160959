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
    from . import site_weighting  # noqa: F401  (registers the weighting and complications partials)
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
    if plan.get("complications"):
        out["complications"] = _complications(client, orgs, site_of_org, protocol, fmt, plan["complications"],
                                              ledger, refused)
    if plan.get("propensity"):
        out["propensity"] = _propensity(client, orgs, site_of_org, protocol, fmt, plan["propensity"], ledger, refused)
        if plan["propensity"].get("estimand") and "coef" in out["propensity"]:
            out["weighting"] = _weighting(client, orgs, site_of_org, protocol, fmt, out["propensity"], ledger,
                                          refused)
    for spec in plan.get("cox", []):
        out["cox"].append(_cox(client, orgs, site_of_org, protocol, fmt, spec, ledger, refused))
    out["cox_models"] = {spec["endpoint"]: _cox_models(client, orgs, site_of_org, protocol, fmt, spec, ledger, refused)
                         for spec in plan.get("cox_models", [])}
    return out


def _cox_models(client, orgs, site_of_org, protocol, fmt, spec, ledger, refused) -> dict:
    """The report's Cox analysis of one endpoint: a univariable model per variable (one shared baseline, each
    on its complete cases), the protocol's selection rule on their likelihood-ratio p, the multivariable model."""
    def fit(variables):
        one = {"endpoint": spec["endpoint"], "terms": [spec["terms"][v] for v in variables], "ties": spec["ties"],
               "baseline": "shared", "exact": spec.get("exact", False)}
        return _cox(client, orgs, site_of_org, protocol, fmt, one, ledger, refused)

    uni = {v: fit([v]) for v in spec["variables"]}
    screen = {v: next(t["p"] for t in f["tests"] if t["test"] == "likelihood_ratio") if "tests" in f else float("nan")
              for v, f in uni.items()}
    candidates = [v for v in spec["variables"] if v != "exposure"]
    if spec["selection"] == "p_value":
        chosen = [v for v in candidates if screen[v] < spec["threshold"]]
    elif spec["selection"] == "fixed":
        chosen = [v for v in spec["fixed"] if v != "exposure"]
    else:
        chosen = candidates
    mv = (["exposure"] if "exposure" in spec["variables"] else []) + chosen
    return {"univariable": uni, "screen_lr_p": screen, "selected": chosen, "variables": mv,
            "multivariable": fit(mv) if mv else None}


def _complications(client, orgs, site_of_org, protocol, fmt, spec, ledger, refused) -> dict:
    """Complications counts: by secure sum when the plan asks for it (exact totals; a site that refuses is
    dropped and the others asked again, as the masks must cancel over the ring), else in the clear with
    small cells suppressed per site."""
    if not spec.get("secure"):
        msgs = _split(_ask(client, orgs, protocol, fmt, "complications", spec, ledger), refused, "complications")
        for site, m in msgs.items():
            refused += [{"site": site, "step": f"complications {v}", "reason": r} for v, r in m["suppressed"].items()]
        return msgs
    from .site_weighting import unflatten_complications

    done = _secure_sum(client, orgs, site_of_org, protocol, fmt, "complications", spec, ledger, refused,
                       "complications")
    if done is not None:
        ring, totals, first = done
        return {"secure sum over " + ", ".join(ring): unflatten_complications(first["layout"], totals)}
    return _complications(client, orgs, site_of_org, protocol, fmt, {**spec, "secure": False}, ledger, refused)


def _secure_sum(client, orgs, site_of_org, protocol, fmt, analysis, params, ledger, refused, step,
                whole: bool = False):
    """A secure sum (``secure_sum.py``) of the sites' ``masked`` vectors: (ring, totals, one message), or None.
    The masks cancel only over the whole ring, so a site that refuses is dropped and the others are asked
    again with a new nonce; with ``whole`` every site must take part (a share over some sites would not be
    the study's)."""
    import secrets

    from .secure_sum import unmask

    while orgs:
        ring = [site_of_org[o] for o in orgs]
        msgs = _ask(client, orgs, protocol, fmt, analysis, {**params, "ring": ring, "nonce": secrets.token_hex(16)},
                    ledger)
        ok = _split(msgs, refused, step)
        if len(ok) == len(orgs):
            return ring, unmask([m["masked"] for m in ok.values()]), msgs[0]
        if whole:
            return None
        orgs = [o for o in orgs if site_of_org[o] in ok]
    return None


def _weighting(client, orgs, site_of_org, protocol, fmt, ps: dict, ledger, refused) -> dict:
    """Weights formed at each site from the federated propensity model; balance, effective sample sizes and
    weighted per-time tables come back, then one weighted Cox model (exposure only, robust SE) per endpoint."""
    orgs = [o for o in orgs if site_of_org[o] in ps["sites"]]
    weighting = {k: ps[k] for k in ("covariates", "levels", "treated", "estimand")}
    if ps.get("match"):   # matching within each site on the federated score (see site_weighting)
        weighting["match"] = ps["match"]
    weighting["coef"] = list(ps["coef"].values())
    params = {"weighting": weighting, "endpoints": ps.get("outcomes", []), "exact": ps.get("exact", False)}
    msgs = _split(_ask(client, orgs, protocol, fmt, "weighting", params, ledger), refused, "weighting")
    if len(msgs) < len(orgs):   # the weights come from one model: a site that cannot take part ends the step
        return {"refused": "a site refused the weighting step"}
    out: dict = {"sites": list(msgs), "messages": msgs, "cox": {}}
    by_group = {g: [m["groups"][g] for m in msgs.values()] for g in ("control", "treated")}
    support = [max(min(x["min_ps"] for x in v) for v in by_group.values()),
               min(max(x["max_ps"] for x in v) for v in by_group.values())]
    params = {"weighting": weighting, "support": support}
    done = _secure_sum(client, orgs, site_of_org, protocol, fmt, "support", params, ledger, [], "overlap check",
                       whole=True) if ps.get("secure") else None
    if done is not None:   # exact, whatever the sites' counts
        out["outside_support"] = done[1][0] / done[1][1]
    else:
        counts = _split(_ask(client, orgs, protocol, fmt, "support", params, ledger), refused, "overlap check")
        if len(counts) == len(orgs):   # else the share stays unknown (a site holds 1-4 such patients): named
            out["outside_support"] = sum(m["count"] for m in counts.values()) / sum(m["n"] for m in counts.values())
    for ep in ps.get("outcomes", []):
        spec = {"endpoint": ep, "terms": [ps["exposure_term"]], "ties": ps.get("ties", "efron"),
                "baseline": "shared", "exact": ps.get("exact", False), "weighting": weighting, "robust": True}
        out["cox"][ep] = _cox(client, orgs, site_of_org, protocol, fmt, spec, ledger, refused)
    return out


def _cox(client, orgs, site_of_org, protocol, fmt, spec, ledger, refused) -> dict:
    what = f"cox {spec['endpoint']}"
    base = {"endpoint": spec["endpoint"], "terms": spec["terms"]}
    if spec.get("weighting"):
        base["weighting"] = spec["weighting"]
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
    robust = None
    if spec.get("robust"):   # the sandwich: per-time pieces at the fit go out, each site's p x p gram comes back
        beta = np.asarray(fit.summary["coef"].to_numpy(), dtype=float)
        at_fit = [m for m in _ask(client, orgs, protocol, fmt, "cox_shared_baseline", {**params, "beta": beta.tolist()},
                                  ledger)]
        pieces = combine.robust_pieces(at_fit, beta, params["ties"] == "efron")
        grams = _ask(client, orgs, protocol, fmt, "cox_robust", {**params, "beta": beta.tolist(), "pieces": pieces},
                     ledger)
        if any("refused" in m for m in grams):
            refused.append({"site": None, "step": what, "reason": "a site refused the robust variance"})
        else:
            robust = (np.asarray(fit.var) @ np.sum([m["gram"] for m in grams], axis=0) @ np.asarray(fit.var)).tolist()
    return {**{k: v for k, v in spec.items() if k != "weighting"}, "sites": [site_of_org[o] for o in orgs],
            "robust_var": robust, "n": seen["n"], "n_events": seen["events"],
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
            "levels": params["levels"],
            "deviance": fit["deviance"], "iterations": fit["iterations"], "converged": fit["converged"]}


@_central
@algorithm_client
def central(client, protocol: str, fmt: str, plan: dict) -> dict:
    """Entry point of the study: runs :func:`run_plan`; an unexpected failure is returned as ``error``."""
    try:
        return run_plan(client, protocol, fmt, plan)
    except Exception as exc:  # noqa: BLE001 - the mock network exits the process on an exception
        return {"error": f"{type(exc).__name__}: {exc}"}
