"""The board sheet's content: everything the renderer shows, as tidy data (and ``case.json``).

:func:`build_sheet` gathers the case, the rules' advice, the scores (with their validation on the
registry when one is given), the evidence appraisal and the predictions. The renderer
(``oligomet.report.board_sheet``) lays them out and computes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field

import pandas as pd

from .. import __version__

SCORE_DISPLAY = {"fong": ("fong", "fong_group"), "tbs": ("tbs", "tbs_group"), "game": ("game", "game_group"),
                 "irlm": ("irlm_risk_factors", "irlm"), "sarcoma": ("sarcoma", "sarcoma_group")}


@dataclass(frozen=True)
class BoardSheet:
    case: object
    facts: dict
    advice: object
    scores: pd.DataFrame           # score, name, value, group, citation, cutoffs, c_index, n_validation
    evidence: pd.DataFrame         # evidence.appraise(...)
    evidence_hash: str
    prediction: object | None
    created: str
    labels: dict = field(default_factory=dict)

    @property
    def options(self) -> list[str]:
        return self.advice.recommendation

    def document(self) -> dict:
        """``case.json``: plain JSON of everything on the sheet."""
        adv = self.advice.table()
        doc = {
            "oligomet_version": __version__, "created": self.created,
            "case": json.loads(self.case.model_dump_json()), "facts": self.facts,
            "rules": {"version": self.advice.version, "recommendation": self.options,
                      "path": _records(adv[adv["status"] == "fired"]),
                      "undecided": _records(adv[adv["status"] == "undecided"]),
                      "missing": self.advice.missing, "needs": self.advice.needs()},
            "scores": _records(self.scores),
            "evidence": _records(self.evidence), "evidence_hash": self.evidence_hash,
        }
        if self.prediction is not None:
            p = self.prediction
            doc["prediction"] = {"setting": p.setting, "criteria": [list(c) for c in p.criteria],
                                 "n_similar": p.n_similar, "km": _records(p.km_at),
                                 "cox_curves": _records(p.cox_curves), "cox_terms": p.cox_terms, "cox_n": p.cox_n,
                                 "cox_hr": _records(p.cox_hr.reset_index()) if p.cox_hr is not None else [],
                                 "note": p.note, "problems": p.problems}
        return _clean(doc)


def build_sheet(case, context=None, rulesets=None, records=None, now: dt.datetime | None = None) -> BoardSheet:
    from .evidence import appraise, evidence_hash, load_evidence
    from .rules import advise, load_rulesets, load_vocabulary
    from .scores import SCORES, compute_scores, score_inputs_from_case

    vocab = load_vocabulary()
    rulesets = rulesets if rulesets is not None else load_rulesets()
    records = records if records is not None else load_evidence(vocab=vocab)
    facts = case.facts()
    advice = advise(facts, rulesets, vocab)
    # the options the board weighs: every option the fired rules list, plus those their evidence compares
    weighed = list(advice.recommendation)
    cited = {e for f in advice.fired for e in f.rule.evidence}
    for rid in cited:
        rec = records.get(rid)
        if rec is not None:
            weighed += [o for o in (rec.option, rec.comparator) if o and o not in weighed]
    appraisal = appraise({k: v for k, v in records.items() if k in cited or _applies(v, facts)}, facts, weighed)

    per_patient = compute_scores(score_inputs_from_case(case)).iloc[0]
    validation = context.score_validation if context is not None else {}
    rows = []
    for sid, sc in SCORES.items():
        value_col, group_col = SCORE_DISPLAY[sid]
        group = per_patient[group_col]
        row = {"score": sid, "name": sc.name, "value": per_patient[value_col],
               "group": None if group is None or (isinstance(group, float) and math.isnan(group)) else group,
               "applies": sc.applies, "cutoffs": sc.cutoffs, "citation": sc.citation,
               # the paper's group survival, for calibration; its status says whether it was checked
               "published": [{"group": g, "measure": m, "value": v} for g, (m, v) in sc.published.items()],
               "published_status": sc.published_status or None}
        for ep in ("os", "dfs"):
            v = validation.get(ep, {}).get(sid)
            overall = v.concordance.set_index("site").loc["all"] if v is not None and len(v.concordance) else None
            row.update({f"{ep}_c_index": None if overall is None else overall["c_index"],
                        f"{ep}_c_std_err": None if overall is None else overall["std_err"],
                        f"{ep}_n": None if overall is None else int(overall["n"]),
                        f"{ep}_groups": _records(v.groups) if v is not None else []})
        rows.append(row)
    prediction = None
    if context is not None:
        from .predict import predict
        prediction = predict(context, case)
    created = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    return BoardSheet(case, facts, advice, pd.DataFrame(rows), appraisal, evidence_hash(appraisal), prediction,
                      created, {n: f.label for n, f in vocab.items()})


def _applies(record, facts: dict) -> bool:
    """A record not cited by a fired rule is still shown when the patient is not outside its population."""
    return record.population.evaluate(facts)[0] is not False


def _records(frame: pd.DataFrame | None) -> list[dict]:
    if frame is None:
        return []
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _clean(v):
    """JSON-safe: NaN/NA -> None, numpy scalars -> Python, dates -> ISO text, tuples -> lists."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return _clean(v.item())
        except (ValueError, AttributeError):
            pass
    if isinstance(v, (dt.date, dt.datetime, pd.Timestamp)):
        return v.isoformat()
    return v
