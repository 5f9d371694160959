"""Evidence records, the patient's fit to each, and supporting / contrasting / inconclusive per option.

Records live in ``evidence.toml`` (published results the rules cite, numbers as published) and can
be added from the project's own study reports (:func:`record_from_results_json`), so a hospital's
own result sits beside the literature.

For a case, :func:`appraise` gives:

* **fit**, criterion by criterion: each part of the record's population condition is ``fits``,
  ``outside`` or ``unknown`` for this patient (the same three-valued logic as the rules);
* per option the board weighs, a **classification** of each comparison record that names it:

  - *supporting*: the 95 % CI lies wholly on the side that favours the option;
  - *contrasting*: wholly on the other side;
  - *inconclusive*: otherwise (including single-arm and prognostic records, which compare no options).

  A record that reports a p value but no CI (two survival proportions and a p) is classified by the
  direction of its effect when p < 0.05 (the 95 % CI of a difference excludes 0 exactly when the
  two-sided p < 0.05), and inconclusive otherwise; the sheet says which rule was applied.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .rules import TRUE, Cond, RuleError, load_vocabulary, parse_condition

EVIDENCE_FILE = Path(__file__).with_name("evidence.toml")
KINDS = ("comparison", "prognostic", "single_arm")
MEASURES = ("HR", "rate", "median")
ALPHA = 0.05
_FIELDS = {"id", "source", "design", "n", "sites", "kind", "population", "option", "comparator", "factor",
           "endpoint", "measure", "effect", "ci", "p", "option_value", "comparator_value", "adjusted", "matched",
           "safety", "notes"}


@dataclass(frozen=True)
class EvidenceRecord:
    id: str
    source: str
    kind: str
    endpoint: str
    measure: str
    population: Cond = TRUE
    design: str = ""
    n: int | None = None
    sites: int | None = None
    option: str = ""
    comparator: str = ""
    factor: str = ""
    effect: float | None = None
    ci: tuple[float, float] | None = None
    p: float | None = None
    option_value: float | None = None
    comparator_value: float | None = None
    adjusted: bool | None = None
    matched: bool | None = None
    safety: dict = field(default_factory=dict)
    notes: str = ""

    def effect_text(self) -> str:
        if self.measure == "rate":
            text = f"{self.endpoint} {self.option_value:.0%} vs {self.comparator_value:.0%}"
        elif self.measure == "median":
            text = f"median {self.endpoint} {self.effect:g} months"
        else:
            text = f"{self.endpoint} HR {self.effect:g}"
        if self.ci is not None:
            text += f" ({self.ci[0]:g}-{self.ci[1]:g})"
        if self.p is not None:
            text += f", p = {self.p:g}"
        return text


def load_evidence(path: str | Path = EVIDENCE_FILE, vocab=None) -> dict[str, EvidenceRecord]:
    """Read and check an evidence file; every problem reported at once with its line."""
    from .._yaml import nearest_line
    from .rules import read_toml

    path = Path(path)
    vocab = vocab if vocab is not None else load_vocabulary()
    _, data, lines = read_toml(path)
    problems: list = []

    def report(where: tuple, msg: str) -> None:
        problems.append((str(path), nearest_line(lines, where), f"{'.'.join(map(str, where))}: {msg}"))

    out: dict[str, EvidenceRecord] = {}
    for i, raw in enumerate(data.get("record", [])):
        where = ("record", i)
        extra = set(raw) - _FIELDS
        if extra:
            report(where, f"unknown field(s) {sorted(extra)}; allowed: {sorted(_FIELDS)}")
        rid = raw.get("id", f"#{i}")
        if rid in out:
            report(where + ("id",), f"duplicate record id {rid!r}")
        pop = parse_condition(raw["population"], vocab, where + ("population",), report) \
            if "population" in raw else TRUE
        try:
            rec = _record(raw, pop or TRUE)
        except (ValueError, TypeError, KeyError) as exc:
            report(where, f"record {rid}: {exc}")
            continue
        out[rec.id] = rec
    if problems:
        raise RuleError(problems)
    return out


def _record(raw: dict, population: Cond) -> EvidenceRecord:
    kind, measure = raw.get("kind"), raw.get("measure")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    ci = raw.get("ci")
    if ci is not None and (len(ci) != 2 or not ci[0] <= ci[1]):
        raise ValueError(f"ci must be [lower, upper] with lower <= upper, got {ci!r}")
    if kind == "comparison" and not (raw.get("option") and raw.get("comparator")):
        raise ValueError("a comparison needs an option and a comparator")
    if measure == "rate" and (raw.get("option_value") is None or raw.get("comparator_value") is None):
        raise ValueError("a rate comparison needs option_value and comparator_value")
    if measure != "rate" and raw.get("effect") is None:
        raise ValueError("effect is required")
    p = raw.get("p")
    if p is not None and not 0 <= p <= 1:
        raise ValueError(f"p must lie in [0, 1], got {p!r}")
    return EvidenceRecord(
        id=raw["id"], source=raw.get("source", ""), kind=kind, endpoint=raw.get("endpoint", ""), measure=measure,
        population=population, design=raw.get("design", ""), n=raw.get("n"), sites=raw.get("sites"),
        option=raw.get("option", ""), comparator=raw.get("comparator", ""), factor=raw.get("factor", ""),
        effect=raw.get("effect"), ci=tuple(ci) if ci is not None else None, p=p,
        option_value=raw.get("option_value"), comparator_value=raw.get("comparator_value"),
        adjusted=raw.get("adjusted"), matched=raw.get("matched"), safety=dict(raw.get("safety", {})),
        notes=raw.get("notes", ""))


# ---------------------------------------------------------------------- a study's own results
def record_from_results_json(path: str | Path, *, id: str, number: str, option: str, comparator: str,
                             endpoint: str, population: dict | None = None, vocab=None) -> EvidenceRecord:
    """An evidence record from a study report's ``results.json``.

    ``number`` is the dotted path of an HR entry under ``numbers``, e.g.
    ``"cox.os.multivariable.exposure[Repeat local treatment]"`` (a mapping with ``hr``, ``hr_lower``,
    ``hr_upper``, ``p``, ``n``). ``option`` is the exposure group the HR belongs to, ``comparator`` the
    reference group. A multivariable model counts as adjusted; a propensity entry as matched."""
    path = Path(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    node = doc.get("numbers", {})
    parts = _split_path(number)
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            have = sorted(node) if isinstance(node, dict) else []
            raise ValueError(f"{path}: numbers.{'.'.join(parts[:i + 1])} not found; available here: {have[:20]}")
        node = node[part]
    missing = [k for k in ("hr", "hr_lower", "hr_upper") if not isinstance(node, dict) or node.get(k) is None]
    if missing:
        raise ValueError(f"{path}: numbers.{number} has no {', '.join(missing)}; point at a hazard-ratio entry")
    problems: list = []
    pop = TRUE
    if population:
        pop = parse_condition(population, vocab or load_vocabulary(), ("population",),
                              lambda w, m: problems.append(m))
        if problems:
            raise ValueError(f"population of {id}: " + "; ".join(problems))
    return EvidenceRecord(
        id=id, source=f"{doc.get('title', path.name)} (local study, {path.name})", kind="comparison",
        endpoint=endpoint, measure="HR", population=pop, design="local registry study",
        n=node.get("n"), option=option, comparator=comparator, effect=float(node["hr"]),
        ci=(float(node["hr_lower"]), float(node["hr_upper"])), p=node.get("p"),
        adjusted="multivariable" in parts, matched="propensity" in parts)


def _split_path(number: str) -> list[str]:
    """Dots separate keys, except inside brackets (``exposure[Dr. X's group]``)."""
    parts, depth, cur = [], 0, ""
    for ch in number:
        depth += (ch == "[") - (ch == "]")
        if ch == "." and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return parts + [cur]


# ---------------------------------------------------------------------- appraisal for a case
def population_fit(record: EvidenceRecord, facts: dict) -> list[dict]:
    """Criterion by criterion: the parts of the population's top-level ``all`` (or the whole condition)."""
    pop = record.population
    parts = pop.parts if pop.op == "all" and pop.parts else ((pop,) if pop is not TRUE else ())
    rows = []
    for c in parts:
        value, missing = c.evaluate(facts)
        status = "fits" if value is True else "outside" if value is False else "unknown"
        # fact / op / value of a single comparison, so the sheet can word it with the fact's label
        rows.append({"criterion": c.describe(), "fact": c.fact or None, "op": c.op if c.fact else None,
                     "value": c.value if c.fact else None, "status": status,
                     "patient": {f: facts.get(f) for f in sorted(c.facts())}, "missing": sorted(missing)})
    return rows


def classify(record: EvidenceRecord, option: str) -> tuple[str, str]:
    """(supporting / contrasting / inconclusive / not applicable, the reason) of ``record`` for ``option``."""
    if option not in (record.option, record.comparator) or not option:
        return "not applicable", "the record does not compare this option"
    if record.kind != "comparison":
        return "inconclusive", f"{record.kind.replace('_', ' ')}: no comparison of options"
    side = 1 if option == record.option else -1       # +1: the record's effect is for this option
    if record.measure == "HR":
        if record.ci is not None:
            lo, hi = record.ci
            favours = 1 if hi < 1 else -1 if lo > 1 else 0
            why = f"95% CI {lo:g}-{hi:g} " + ("below 1" if favours == 1 else "above 1" if favours == -1 else
                                              "includes 1")
        else:
            favours, why = _by_p(record, 1 if record.effect < 1 else -1)
    elif record.measure == "rate":
        favours, why = _by_p(record, 1 if record.option_value > record.comparator_value else -1)
    else:
        return "inconclusive", "no comparison"
    verdict = favours * side
    name = "supporting" if verdict > 0 else "contrasting" if verdict < 0 else "inconclusive"
    return name, why


def _by_p(record: EvidenceRecord, direction: int) -> tuple[int, str]:
    if record.p is None:
        return 0, "no CI and no p value reported"
    if record.p < ALPHA:
        return direction, f"no CI reported; p = {record.p:g} < {ALPHA:g}, so the 95% CI excludes no effect"
    return 0, f"no CI reported; p = {record.p:g} >= {ALPHA:g}"


def appraise(records: dict[str, EvidenceRecord], facts: dict, options: list[str]) -> pd.DataFrame:
    """One row per (record, option) for the options the board weighs, plus one row per record that
    compares none of them (option None): fit summary, criteria, classification and reason."""
    rows = []
    for rec in records.values():
        fit = population_fit(rec, facts)
        overall = "outside" if any(r["status"] == "outside" for r in fit) else \
            "unknown" if any(r["status"] == "unknown" for r in fit) else "fits"
        base = {"record": rec.id, "source": rec.source, "design": rec.design, "n": rec.n, "kind": rec.kind,
                "endpoint": rec.endpoint, "effect": rec.effect_text(), "adjusted": rec.adjusted,
                "matched": rec.matched, "fit": overall, "criteria": fit}
        named = [o for o in options if o in (rec.option, rec.comparator)]
        for o in named:
            cls, why = classify(rec, o)
            rows.append({**base, "option": o, "classification": cls, "reason": why})
        if not named:
            cls, why = ("inconclusive", f"{rec.kind.replace('_', ' ')}: no comparison of options") \
                if rec.kind != "comparison" else ("not applicable", "compares options not on the table")
            rows.append({**base, "option": None, "classification": cls, "reason": why})
    return pd.DataFrame(rows, columns=["record", "source", "design", "n", "kind", "endpoint", "effect", "adjusted",
                                       "matched", "fit", "criteria", "option", "classification", "reason"])


def evidence_hash(appraisal: pd.DataFrame) -> str:
    """SHA-256 of the evidence as shown (records, effects, classifications), for the decision record."""
    cols = ["record", "effect", "fit", "option", "classification"]
    text = json.dumps(appraisal[cols].astype(str).values.tolist(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def cross_check(rulesets, records: dict[str, EvidenceRecord]) -> list[str]:
    """Rules citing evidence ids that do not exist, and records naming options no rule offers."""
    problems = []
    offered = {o for rs in rulesets for r in rs.rules for o in r.options}
    for rs in rulesets:
        for r in rs.rules:
            problems += [f"{r.file}:{r.line}: rule {r.id} cites unknown evidence {e!r}"
                         for e in r.evidence if e not in records]
    for rec in records.values():
        problems += [f"evidence {rec.id}: option {o!r} is offered by no rule"
                     for o in (rec.option, rec.comparator) if o and o not in offered]
    return problems
