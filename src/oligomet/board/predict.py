"""Predictions from the hospitals' own registry: "patients like this", and per-option Cox curves.

Two settings, chosen from the case:

* **recurrence** (the case has a liver recurrence after local treatment of colorectal liver
  metastases): time zero is the first recurrence (``origin="first_recurrence"``); the registry's
  colorectal patients whose first local treatment was a liver resection and who recurred within 12
  months; treatment received = repeat local treatment or systemic therapy alone (the exposure of the
  early-recurrence study).
* **first treatment** (otherwise): time zero is the metastasis diagnosis; patients with the same primary
  site and the same organs involved; treatment received = the first treatment after diagnosis
  (resection, ablation, SABR, systemic only).

"Patients like this" narrows the setting's patients by the case's own facts, one criterion at a time,
and stops narrowing before fewer than :data:`MIN_SIMILAR` remain (the sheet lists the criteria used).
It shows KM curves by treatment received with numbers at risk: a description, never an effect.

The Cox model is fitted on the setting's patients with the treatment received and the prognostic
factors available (age, ECOG, number of lesions); the case's curve is predicted under each treatment
(``CoxResult.predict_survival(conf_int=True)``: R's ``survfit(fit, newdata)`` with its log-type 95% band).
Treatment was chosen by indication: the adjusted curves remove only the confounding by the factors in the model.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

MIN_SIMILAR = 30
TIMES = (0.0, 12.0, 24.0, 36.0, 48.0, 60.0)
GRID = tuple(float(t) for t in range(0, 61, 3))
CAVEAT = ("Treatment was chosen by indication: patients who received each treatment differed in ways the "
          "registry does not fully record. The curves by treatment received describe these patients; their "
          "differences are not treatment effects. The adjusted curves remove only the confounding by the factors "
          "in the model.")
_LOCAL = {"resection": "resection", "rfa": "ablation", "mwa": "ablation", "cryoablation": "ablation",
          "sabr": "SABR", "tace": "intra-arterial", "sirt": "intra-arterial", "systemic": "systemic only",
          "other": "other"}


class RegistryContext:
    """The registry held in memory with the analysis frames the board needs, derived once
    (per origin) and reused for every sheet."""

    def __init__(self, tables: dict[str, pd.DataFrame]):
        self.tables = tables

    def frame(self, origin: str) -> pd.DataFrame:
        cache = self.__dict__.setdefault("_frames", {})
        if origin not in cache:
            from ..endpoints import derive_endpoints
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cache[origin] = derive_endpoints(self.tables, origin=origin)
        return cache[origin]

    def patient_tables(self, patient_id: str) -> dict[str, pd.DataFrame]:
        """One patient's rows of every table, by row positions grouped once per registry."""
        if "_rows" not in self.__dict__:
            rows = {}
            for name, frame in self.tables.items():
                if "patient_id" in frame:
                    rows[name] = frame.groupby(frame["patient_id"].astype(str), sort=False).indices
            comp = self.tables.get("complications")
            if comp is not None and len(comp):
                rows["complications"] = comp.groupby(comp["treatment_id"].astype(str), sort=False).indices
            self._rows = rows
        out = {}
        empty = np.empty(0, dtype=np.int64)
        for name, index in self._rows.items():
            if name != "complications":
                out[name] = self.tables[name].iloc[index.get(patient_id, empty)]
        if "complications" in self._rows and "treatments" in out:
            pos = [self._rows["complications"].get(str(t), empty) for t in out["treatments"]["treatment_id"]]
            out["complications"] = self.tables["complications"].iloc[np.concatenate(pos) if pos else empty]
        return out

    def position(self, patient_id: str) -> int | None:
        """Row of ``patient_id`` in the derived frames (they keep the patients table's order)."""
        if "_positions" not in self.__dict__:
            ids = self.tables["patients"]["patient_id"].astype(str)
            self._positions = dict(zip(ids, range(len(ids))))
        return self._positions.get(patient_id)

    def model(self, key: tuple, fit):
        """A fitted model cached under ``key`` (the models depend on the setting, not on the patient)."""
        cache = self.__dict__.setdefault("_models", {})
        if key not in cache:
            cache[key] = fit()
        return cache[key]

    @cached_property
    def score_validation(self):
        """{endpoint: {score: ScoreValidation}} for OS and DFS, on the index-treatment frame."""
        from .scores import validate_all
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {ep: validate_all(self.frame("index_treatment"), endpoint=ep) for ep in ("os", "dfs")}


@dataclass(frozen=True)
class Prediction:
    setting: str
    criteria: list                      # (criterion, n patients after applying it, used?)
    n_similar: int
    km_at: pd.DataFrame                 # group, time, n_risk, survival, lower, upper (patients like this)
    km_curves: pd.DataFrame             # group, time, survival: step curves for the figure
    cox_curves: pd.DataFrame            # option, time, survival, lower, upper (95% band)
    cox_terms: list = field(default_factory=list)
    cox_n: int = 0
    cox_hr: pd.DataFrame | None = None  # the treatment terms' adjusted HRs (for the direction)
    note: str = CAVEAT
    problems: list = field(default_factory=list)


def predict(context: RegistryContext, case, endpoint: str = "os") -> Prediction:
    facts = case.facts()
    recurrence = facts.get("primary_site") == "colorectal" and facts.get("liver_recurrence") is True
    if recurrence:
        fr = context.frame("first_recurrence")
        base = fr[(fr["primary_site"] == "colorectal") & (fr["first_local_modality"] == "resection")
                  & (fr["recurrence_months"] <= 12)]
        treat = pd.Series(np.where(base["local_after_origin"].fillna(False).astype(bool), "repeat local treatment",
                                   np.where(base["systemic_after_origin"].fillna(False).astype(bool),
                                            "systemic therapy alone", None)), index=base.index)
        setting = "recurrence of colorectal liver metastases within 12 months (time zero: the recurrence)"
        steps = [("recurrence within 4 months" if (facts.get("liver_recurrence_months") or 99) <= 4
                  else "recurrence after 4 months",
                  (base["recurrence_months"] <= 4) if (facts.get("liver_recurrence_months") or 99) <= 4
                  else (base["recurrence_months"] > 4))]
    else:
        fr = context.frame("metastasis_diagnosis")
        organs = sorted(o for o, n in case.organs.items() if n.n_lesions)
        base = fr[(fr["primary_site"] == facts.get("primary_site"))]
        treat = base["index_modality"].map(_LOCAL)
        setting = f"{facts.get('primary_site') or 'any primary'} with metastases (time zero: metastasis diagnosis)"
        steps = [(f"metastases in {' and '.join(organs)} at diagnosis", base["met_organs"] == ";".join(organs))] \
            if organs else []
    steps += _similarity_steps(base, facts)
    base = base.assign(_treatment=treat).dropna(subset=["_treatment", f"{endpoint}_time"])
    criteria, similar = [], base
    for label, mask in steps:
        if mask is None:
            criteria.append((label, len(similar), False))
            continue
        narrower = similar[mask.reindex(similar.index).fillna(False).astype(bool)]
        used = len(narrower) >= MIN_SIMILAR
        criteria.append((label, len(narrower), used))
        if used:
            similar = narrower
    km_at, km_curves = _km(similar, endpoint)
    cox_curves, terms, hr, n, problems = _cox(context, setting, base, facts, endpoint)
    return Prediction(setting, criteria, len(similar), km_at, km_curves, cox_curves, terms, n, hr,
                      problems=problems)


def _similarity_steps(base: pd.DataFrame, facts: dict) -> list:
    steps = []
    n = _lesions(facts)
    if n is not None:
        band = (1, 1) if n <= 1 else (2, 3) if n <= 3 else (4, 10 ** 6)
        steps.append((f"{band[0]}{'' if band[0] == band[1] else '-' + str(band[1]) if band[1] < 10 ** 6 else '+'} "
                      f"lesions", base["n_lesions"].astype(float).between(*band)))
    if facts.get("ecog") is not None:
        steps.append((f"ECOG {facts['ecog']}", base["ecog"] == facts["ecog"]))
    if facts.get("age") is not None:
        a = facts["age"]
        steps.append((f"age {a - 10:.0f}-{a + 10:.0f}", base["age"].between(a - 10, a + 10)))
    if facts.get("ras") is not None:
        steps.append((f"RAS {facts['ras']}", base["ras"] == facts["ras"]))
    return steps


def _lesions(facts: dict):
    parts = [facts.get("liver_n"), facts.get("lung_n")]
    known = [p for p in parts if p is not None]
    return sum(known) if known else None


def _km(similar: pd.DataFrame, endpoint: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from ..survival.kaplan_meier import kaplan_meier

    cols = ["group", "time", "n_risk", "survival", "lower", "upper"]
    if similar.empty:
        return pd.DataFrame(columns=cols), pd.DataFrame(columns=["group", "time", "survival"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = kaplan_meier(similar, f"{endpoint}_time", f"{endpoint}_event", by="_treatment")
    at = km.at(list(TIMES), extend=True)
    at["n_risk"] = km.risk_table(list(TIMES))["n_risk"].to_numpy()
    curves = km.at(list(GRID), extend=False)[["group", "time", "survival"]]
    return at[cols], curves


def _cox(context: RegistryContext, setting: str, base: pd.DataFrame, facts: dict, endpoint: str):
    import oligomet as om

    problems = []
    candidates = [c for c, v in (("age", facts.get("age")), ("ecog", facts.get("ecog")),
                                 ("n_lesions", _lesions(facts))) if v is not None and base[c].notna().any()]
    d = base.dropna(subset=candidates)
    groups = sorted(d["_treatment"].unique())
    if len(groups) < 2 or d[f"{endpoint}_event"].sum() < 10:
        return pd.DataFrame(columns=["option", "time", "survival", "lower", "upper"]), candidates, None, 0, \
            ["too few patients or events in the registry for a model"]
    ref = d["_treatment"].value_counts().index[0]
    def fit_model():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return om.cox(d, f"{endpoint}_time", f"{endpoint}_event", [f"C(_treatment, ref=\"{ref}\")"] + candidates)

    try:
        fit = context.model((setting, endpoint, tuple(candidates)), fit_model)
    except ValueError as exc:
        return pd.DataFrame(columns=["option", "time", "survival", "lower", "upper"]), candidates, None, 0, [str(exc)]
    values = {"age": facts.get("age"), "ecog": facts.get("ecog"), "n_lesions": _lesions(facts)}
    new = pd.DataFrame([{"_treatment": g, **{c: values[c] for c in candidates}} for g in groups], index=groups)
    band = fit.predict_survival(new, list(GRID), conf_int=True)  # R's survfit(fit, newdata): log-type 95% band
    rows = [{"option": r.profile, "time": float(r.time), "survival": float(r.survival), "lower": float(r.lower),
             "upper": float(r.upper)} for r in band.itertuples(index=False)]
    hr = fit.summary[fit.summary.index.str.startswith("_treatment")][["hr", "hr_lower", "hr_upper", "p"]]
    hr = hr.rename(index=lambda s: s.split("[", 1)[1].rstrip("]") + f" vs {ref}")
    return pd.DataFrame(rows), candidates, hr, fit.n, problems
