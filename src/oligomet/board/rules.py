"""Rule sets as data: loading, the engine, and the checker.

A rule file (TOML, ``board/rules/*.toml``) holds one rule set::

    [ruleset]
    id = "crc-lung-liver-2019"
    version = "1.0.0"
    title = "..."

    [layers.strategy]                 # rules of one layer compete: first options must agree
    complete = true                   # every combination of its facts in scope must be covered
    scope = {all = [{fact = "primary_site", is = "colorectal"}, {fact = "lung_mets", is = true}]}

    [[rule]]
    id = "T4-1"
    version = 1
    layer = "strategy"
    source = {document = "...", year = 2019, table = "4", footnote = ""}
    when = {all = [{fact = "lung_curable", is = true}, {fact = "liver_curable", is = true}]}
    options = ["first option", "second option"]
    uses = ["ecog"]                   # facts the rule's advice depends on without deciding it
    notes = "..."
    strength = "expert consensus"

A condition is structured data, never an expression string: a mapping with exactly one of ``all``
(a list of conditions), ``any`` (a list), ``not`` (a condition), or ``fact`` with one comparison:
``is`` (equal), ``in`` (one of a list), ``<``, ``<=``, ``>``, ``>=`` (numbers only). Fact names,
their types and levels come from ``vocabulary.toml``, so nothing in a rule file can run code and
the checker can enumerate every combination the rules can tell apart.

Unknown facts follow three-valued (Kleene) logic: a comparison on an unknown fact is unknown,
``all`` is false as soon as one part is false, ``any`` true as soon as one part is true. A rule
whose condition is unknown could not decide; the engine names the unknown facts it would need.
"""
from __future__ import annotations

import difflib
import hashlib
import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

RULES_DIR = Path(__file__).with_name("rules")
VOCABULARY = Path(__file__).with_name("vocabulary.toml")
FACT_TYPES = ("bool", "level", "number")
COMPARATORS = ("is", "in", "<", "<=", ">", ">=")
MAX_COMBINATIONS = 200_000
_NUMERIC_OPS = ("<", "<=", ">", ">=")


class RuleError(ValueError):
    """Problems in rule or vocabulary files: ``problems`` is a list of (file, line, message)."""

    def __init__(self, problems: list[tuple[str, int | None, str]]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the rule files:\n"
                         + "\n".join(f"{f}:{ln if ln is not None else '?'}: {m}" for f, ln, m in problems))


# ---------------------------------------------------------------------- vocabulary
@dataclass(frozen=True)
class Fact:
    name: str
    type: str
    levels: tuple = ()
    unit: str = ""
    label: str = ""


def read_toml(path: Path) -> tuple[str, dict, dict]:
    """A board data file (vocabulary, rules, evidence): its text, content and the line of each key path."""
    from .._toml import toml_lines

    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError([(str(path), None, f"TOML syntax error: {exc}")]) from None
    return text, data, toml_lines(text)


def load_vocabulary(path: str | Path = VOCABULARY) -> dict[str, Fact]:
    path = Path(path)
    text, data, lines = read_toml(path)
    out, problems = {}, []
    for name, spec in data.items():
        line = lines.get((name,))
        if not isinstance(spec, dict):
            problems.append((str(path), line, f"fact {name!r} must be a table with a type"))
            continue
        extra = set(spec) - {"type", "levels", "unit", "label"}
        if extra:
            problems.append((str(path), line, f"fact {name!r}: unknown field(s) {sorted(extra)}"))
        kind = spec.get("type")
        if kind not in FACT_TYPES:
            problems.append((str(path), line, f"fact {name!r}: type must be one of {FACT_TYPES}, got {kind!r}"))
            continue
        levels = tuple(spec.get("levels", ()))
        if (kind == "level") != bool(levels):
            problems.append((str(path), line, f"fact {name!r}: levels are given for, and only for, type 'level'"))
        out[name] = Fact(name, kind, levels, spec.get("unit", ""), spec.get("label", name))
    if problems:
        raise RuleError(problems)
    return out


# ---------------------------------------------------------------------- conditions
@dataclass(frozen=True)
class Cond:
    """A parsed condition: ``op`` is 'all', 'any', 'not' or a comparator; ``parts`` the sub-conditions."""

    op: str
    parts: tuple = ()
    fact: str = ""
    value: object = None

    def facts(self) -> set[str]:
        if self.fact:
            return {self.fact}
        return set().union(*(p.facts() for p in self.parts)) if self.parts else set()

    def evaluate(self, facts: dict) -> tuple[bool | None, frozenset]:
        """(True / False / None = unknown, the unknown facts that left it undecided)."""
        if self.fact:
            v = facts.get(self.fact)
            if v is None:
                return None, frozenset({self.fact})
            return _compare(self.op, v, self.value), frozenset()
        results = [p.evaluate(facts) for p in self.parts]
        if self.op == "not":
            r, miss = results[0]
            return (None if r is None else not r), miss
        decisive = (self.op == "any")   # the value that settles it: True for any, False for all
        if any(r is decisive for r, _ in results):
            return decisive, frozenset()
        unknown = [m for r, m in results if r is None]
        if unknown:
            return None, frozenset().union(*unknown)
        return (not decisive), frozenset()

    def thresholds(self) -> dict[str, set]:
        """Per fact, the values it is compared with (for the checker's enumeration)."""
        if self.fact:
            vals = self.value if self.op == "in" else [self.value]
            return {self.fact: set(vals)}
        out: dict[str, set] = {}
        for p in self.parts:
            for k, v in p.thresholds().items():
                out.setdefault(k, set()).update(v)
        return out

    def describe(self) -> str:
        if self.fact:
            return f"{self.fact} {self.op} {self.value!r}"
        if self.op == "not":
            return f"not ({self.parts[0].describe()})"
        joiner = " and " if self.op == "all" else " or "
        return joiner.join(p.describe() if p.fact else f"({p.describe()})" for p in self.parts)


TRUE = Cond("all")   # an empty 'all' holds always


def _compare(op: str, v, ref) -> bool:
    if op == "is":
        return v == ref
    if op == "in":
        return v in ref
    v, ref = float(v), float(ref)
    return {"<": v < ref, "<=": v <= ref, ">": v > ref, ">=": v >= ref}[op]


def parse_condition(raw, vocab: dict[str, Fact], where: tuple, report) -> Cond | None:
    """Parse one condition; each problem goes to ``report(where, message)``; None when invalid."""
    if not isinstance(raw, dict):
        report(where, f"a condition must be a table such as {{fact = \"lung_curable\", is = true}}, got {raw!r}")
        return None
    keys = set(raw)
    groups = keys & {"all", "any", "not"}
    if groups:
        if len(keys) != 1:
            report(where, f"a condition has exactly one of all / any / not, got {sorted(keys)}")
            return None
        op = groups.pop()
        if op == "not":
            inner = parse_condition(raw["not"], vocab, where + ("not",), report)
            return None if inner is None else Cond("not", (inner,))
        items = raw[op]
        if not isinstance(items, list) or not items:
            report(where + (op,), f"'{op}' takes a non-empty list of conditions")
            return None
        parts = [parse_condition(c, vocab, where + (op, i), report) for i, c in enumerate(items)]
        return None if any(p is None for p in parts) else Cond(op, tuple(parts))
    if "fact" not in keys:
        report(where, f"a condition needs 'fact' (or all / any / not); got {sorted(keys)}")
        return None
    name = raw["fact"]
    ops = keys - {"fact"}
    if name not in vocab:
        close = difflib.get_close_matches(str(name), list(vocab), n=3)
        report(where + ("fact",), f"unknown fact {name!r}; declare it in vocabulary.toml"
                                  + (f" (did you mean {', '.join(close)}?)" if close else ""))
        return None
    if len(ops) != 1 or not ops <= set(COMPARATORS):
        report(where, f"fact {name!r} needs exactly one comparison of {', '.join(COMPARATORS)}; got {sorted(ops)}")
        return None
    op = ops.pop()
    value = raw[op]
    problem = _type_problem(vocab[name], op, value)
    if problem:
        report(where + (op,), problem)
        return None
    return Cond(op, fact=name, value=tuple(value) if op == "in" else value)


def _type_problem(fact: Fact, op: str, value) -> str | None:
    values = value if op == "in" else [value]
    if op == "in" and (not isinstance(value, list) or not value):
        return f"'in' takes a non-empty list of values for {fact.name!r}"
    if op in _NUMERIC_OPS and fact.type != "number":
        return f"'{op}' compares numbers, but {fact.name!r} is a {fact.type}"
    for v in values:
        if fact.type == "bool" and not isinstance(v, bool):
            return f"{fact.name!r} is true or false, got {v!r}"
        if fact.type == "level" and v not in fact.levels:
            return f"{v!r} is not a level of {fact.name!r}; levels: {', '.join(fact.levels)}"
        if fact.type == "number" and (isinstance(v, bool) or not isinstance(v, (int, float))):
            return f"{fact.name!r} is a number, got {v!r}"
    return None


# ---------------------------------------------------------------------- rules and rule sets
@dataclass(frozen=True)
class Source:
    document: str
    year: int | None = None
    table: str = ""
    footnote: str = ""

    def cite(self) -> str:
        parts = [self.document + (f" ({self.year})" if self.year else "")]
        if self.table:
            parts.append(f"table {self.table}")
        if self.footnote:
            parts.append(f"footnote {self.footnote}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    layer: str
    source: Source
    when: Cond
    options: tuple[str, ...]
    uses: tuple[str, ...] = ()
    notes: str = ""
    strength: str = ""
    evidence: tuple[str, ...] = ()
    file: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Layer:
    name: str
    complete: bool = False
    scope: Cond = TRUE
    description: str = ""


@dataclass(frozen=True)
class RuleSet:
    id: str
    version: str
    title: str
    layers: dict[str, Layer]
    rules: tuple[Rule, ...]
    file: str = ""
    digest: str = ""

    def effective(self, rule: Rule) -> Cond:
        scope = self.layers[rule.layer].scope
        return rule.when if scope is TRUE else Cond("all", (scope, rule.when))


_RULE_FIELDS = {"id", "version", "layer", "source", "when", "options", "uses", "notes", "strength", "evidence"}
_LAYER_FIELDS = {"complete", "scope", "description"}
_SOURCE_FIELDS = {"document", "year", "table", "footnote"}


def load_ruleset(path: str | Path, vocab: dict[str, Fact] | None = None) -> RuleSet:  # noqa: C901  (one pass over a rule file, every problem collected with its line)
    """Read and validate one rule file; every problem is reported at once with its file and line."""
    from .._yaml import nearest_line

    path = Path(path)
    vocab = vocab if vocab is not None else load_vocabulary()
    text, data, lines = read_toml(path)
    problems: list[tuple[str, int | None, str]] = []

    def report(where: tuple, msg: str) -> None:
        problems.append((str(path), nearest_line(lines, where), f"{'.'.join(map(str, where))}: {msg}"))

    head = data.get("ruleset", {})
    for key in ("id", "version"):
        if not isinstance(head.get(key), str) or not head.get(key):
            report(("ruleset", key), f"[ruleset] needs a text '{key}'")
    for key in set(data) - {"ruleset", "layers", "rule"}:
        report((key,), f"unknown top-level table {key!r}; allowed: ruleset, layers, rule")
    layers = {}
    for name, spec in (data.get("layers") or {}).items():
        extra = set(spec) - _LAYER_FIELDS
        if extra:
            report(("layers", name), f"unknown field(s) {sorted(extra)}; allowed: {sorted(_LAYER_FIELDS)}")
        scope = parse_condition(spec["scope"], vocab, ("layers", name, "scope"), report) if "scope" in spec else TRUE
        layers[name] = Layer(name, bool(spec.get("complete", False)), scope or TRUE, spec.get("description", ""))
    rules, seen = [], {}
    for i, raw in enumerate(data.get("rule") or []):
        where = ("rule", i)
        extra = set(raw) - _RULE_FIELDS
        if extra:
            report(where, f"unknown field(s) {sorted(extra)}; allowed: {sorted(_RULE_FIELDS)}")
        rid = raw.get("id")
        if not isinstance(rid, str) or not rid:
            report(where + ("id",), "a rule needs a text id")
            continue
        if rid in seen:
            report(where + ("id",), f"duplicate rule id {rid!r} (first at line {seen[rid]})")
        seen.setdefault(rid, nearest_line(lines, where))
        layer = raw.get("layer", "default")
        if layer not in layers:
            if layer == "default":
                layers["default"] = Layer("default")
            else:
                report(where + ("layer",), f"rule {rid}: layer {layer!r} is not declared under [layers]")
        src = raw.get("source")
        if not isinstance(src, dict) or not src.get("document"):
            report(where + ("source",), f"rule {rid}: source = {{document = ..., year = ..., table = ..., "
                                        f"footnote = ...}} is required")
            src = {"document": "?"}
        elif set(src) - _SOURCE_FIELDS:
            report(where + ("source",), f"rule {rid}: unknown source field(s) {sorted(set(src) - _SOURCE_FIELDS)}")
        if not isinstance(raw.get("version"), int):
            report(where + ("version",), f"rule {rid}: version must be a whole number")
        options = raw.get("options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            report(where + ("options",), f"rule {rid}: options is a list of texts, in order of preference")
            options = []
        uses = raw.get("uses", [])
        for j, u in enumerate(uses):
            if u not in vocab:
                report(where + ("uses", j), f"rule {rid}: unknown fact {u!r} in uses; declare it in vocabulary.toml")
        if "when" not in raw:
            report(where, f"rule {rid}: a rule needs a condition 'when'")
            continue
        when = parse_condition(raw["when"], vocab, where + ("when",), report)
        if when is None:
            continue
        rules.append(Rule(rid, raw.get("version", 0), layer,
                          Source(str(src.get("document")), src.get("year"), str(src.get("table", "")),
                                 str(src.get("footnote", ""))),
                          when, tuple(options), tuple(u for u in uses if u in vocab), str(raw.get("notes", "")),
                          str(raw.get("strength", "")), tuple(raw.get("evidence", [])), str(path),
                          nearest_line(lines, where)))
    if problems:
        raise RuleError(problems)
    return RuleSet(head["id"], head["version"], head.get("title", ""), layers, tuple(rules), str(path),
                   hashlib.sha256(text.encode()).hexdigest()[:16])


def load_rulesets(folder: str | Path = RULES_DIR) -> list[RuleSet]:
    """Every ``*.toml`` rule file of ``folder`` (sorted by name); problems of all files reported together."""
    vocab = load_vocabulary()
    out, problems = [], []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            out.append(load_ruleset(path, vocab))
        except RuleError as exc:
            problems += exc.problems
    if problems:
        raise RuleError(problems)
    return out


# ---------------------------------------------------------------------- the engine
@dataclass(frozen=True)
class Firing:
    ruleset: str
    rule: Rule
    facts: dict           # the facts its condition used, with their values
    missing_uses: tuple   # facts in ``uses`` that are unknown: the advice holds, its details need them


@dataclass(frozen=True)
class Undecided:
    ruleset: str
    rule: Rule
    missing: tuple        # the unknown facts that left the condition undecided


@dataclass(frozen=True)
class Advice:
    """What the rules say for one case."""

    rulesets: tuple[tuple[str, str, str], ...]   # (id, version, digest)
    fired: tuple[Firing, ...]
    undecided: tuple[Undecided, ...]
    labels: dict = field(default_factory=dict)

    @property
    def recommendation(self) -> list[str]:
        """The options of the fired rules, layer by layer in file order (duplicates once)."""
        out: list[str] = []
        for f in self.fired:
            out += [o for o in f.rule.options if o not in out]
        return out

    @property
    def missing(self) -> list[str]:
        """Facts whose knowledge would let an undecided rule decide, or complete a fired rule's advice."""
        names: list[str] = []
        for u in self.undecided:
            names += [m for m in u.missing if m not in names]
        for f in self.fired:
            names += [m for m in f.missing_uses if m not in names]
        return names

    def needs(self) -> list[str]:
        return [f"needs: {self.labels.get(m, m)}" for m in self.missing]

    @property
    def version(self) -> str:
        return "; ".join(f"{i} {v} ({d})" for i, v, d in self.rulesets)

    def table(self) -> pd.DataFrame:
        rows = [{"status": "fired", "ruleset": f.ruleset, "rule": f.rule.id, "rule_version": f.rule.version,
                 "layer": f.rule.layer, "options": list(f.rule.options), "facts": dict(f.facts),
                 "missing": list(f.missing_uses), "source": f.rule.source.cite(), "strength": f.rule.strength,
                 "notes": f.rule.notes, "evidence": list(f.rule.evidence)} for f in self.fired]
        rows += [{"status": "undecided", "ruleset": u.ruleset, "rule": u.rule.id, "rule_version": u.rule.version,
                  "layer": u.rule.layer, "options": list(u.rule.options), "facts": {}, "missing": list(u.missing),
                  "source": u.rule.source.cite(), "strength": u.rule.strength, "notes": u.rule.notes,
                  "evidence": list(u.rule.evidence)} for u in self.undecided]
        return pd.DataFrame(rows, columns=["status", "ruleset", "rule", "rule_version", "layer", "options", "facts",
                                           "missing", "source", "strength", "notes", "evidence"])


def advise(facts: dict, rulesets: list[RuleSet] | None = None, vocab: dict[str, Fact] | None = None) -> Advice:
    """Run the rule sets on a case's facts (:meth:`Case.facts`)."""
    rulesets = rulesets if rulesets is not None else load_rulesets()
    vocab = vocab if vocab is not None else load_vocabulary()
    unknown = sorted(set(facts) - set(vocab))
    if unknown:
        raise ValueError(f"facts not in the vocabulary: {unknown}")
    fired, undecided = [], []
    for rs in rulesets:
        for rule in rs.rules:
            cond = rs.effective(rule)
            result, missing = cond.evaluate(facts)
            if result is True:
                used = {f: facts.get(f) for f in sorted(cond.facts())}
                fired.append(Firing(rs.id, rule, used, tuple(u for u in rule.uses if facts.get(u) is None)))
            elif result is None:
                undecided.append(Undecided(rs.id, rule, tuple(sorted(missing))))
    return Advice(tuple((rs.id, rs.version, rs.digest) for rs in rulesets), tuple(fired), tuple(undecided),
                  {n: f.label for n, f in vocab.items()})


# ---------------------------------------------------------------------- the checker
@dataclass(frozen=True)
class CheckReport:
    gaps: tuple           # (ruleset, layer, example facts) with no rule firing in a complete layer
    conflicts: tuple      # (ruleset, layer, rule a, rule b, example facts): different first options
    overlaps: tuple       # (ruleset, layer, rule a, rule b, example facts): same first option, complete layer
    unreachable: tuple    # (ruleset, rule id): fires for no combination
    combinations: int = 0

    @property
    def ok(self) -> bool:
        return not (self.gaps or self.conflicts or self.unreachable or self.overlaps)

    def lines(self) -> list[str]:
        out = [f"gap in {rs} / {layer}: no rule covers {fx}" for rs, layer, fx in self.gaps]
        out += [f"conflict in {rs} / {layer}: {a} and {b} recommend different first options for {fx}"
                for rs, layer, a, b, fx in self.conflicts]
        out += [f"overlap in {rs} / {layer}: {a} and {b} both cover {fx}" for rs, layer, a, b, fx in self.overlaps]
        out += [f"unreachable rule {rs} / {r}: its condition holds for no combination of facts"
                for rs, r in self.unreachable]
        return out


def fact_space(conds: list[Cond], vocab: dict[str, Fact]) -> dict[str, list]:
    """The values to enumerate per fact used by ``conds``: all levels / both truth values, and for a
    number one value in each interval its thresholds cut the line into (and the thresholds themselves)."""
    thresholds: dict[str, set] = {}
    for c in conds:
        for k, v in c.thresholds().items():
            thresholds.setdefault(k, set()).update(v)
    space = {}
    for name in sorted(thresholds):
        f = vocab[name]
        if f.type == "bool":
            space[name] = [True, False]
        elif f.type == "level":
            space[name] = list(f.levels)
        else:
            cuts = sorted(float(t) for t in thresholds[name])
            pts = [cuts[0] - 1.0] + [x for a, b in zip(cuts, cuts[1:]) for x in (a, (a + b) / 2)] + [cuts[-1],
                                                                                                    cuts[-1] + 1.0]
            space[name] = pts
    return space


def check(rulesets: list[RuleSet] | None = None, vocab: dict[str, Fact] | None = None) -> CheckReport:
    """Enumerate, layer by layer, every combination of the facts the layer's rules use, and report gaps
    (complete layers), conflicts, overlaps and unreachable rules."""
    rulesets = rulesets if rulesets is not None else load_rulesets()
    vocab = vocab if vocab is not None else load_vocabulary()
    gaps, conflicts, overlaps, unreachable = [], [], [], []
    total = 0
    for rs in rulesets:
        for layer in rs.layers.values():
            rules = [r for r in rs.rules if r.layer == layer.name]
            if not rules and not layer.complete:
                continue
            conds = [rs.effective(r) for r in rules] + [layer.scope]
            space = fact_space(conds, vocab)
            n = 1
            for v in space.values():
                n *= len(v)
            if n > MAX_COMBINATIONS:
                raise RuleError([(rs.file, None, f"layer {layer.name!r} uses {len(space)} facts with {n:,} "
                                                 f"combinations; split it (at most {MAX_COMBINATIONS:,})")])
            total += n
            names = list(space)
            fired_ever: set[str] = set()
            seen_pairs: set = set()
            for values in itertools.product(*space.values()):
                facts = dict(zip(names, values))
                if layer.scope.evaluate(facts)[0] is not True:
                    continue
                hits = [r for r, c in zip(rules, conds) if c.evaluate(facts)[0] is True]
                fired_ever.update(r.id for r in hits)
                if not hits and layer.complete:
                    gaps.append((rs.id, layer.name, facts))
                for a, b in itertools.combinations([r for r in hits if r.options], 2):
                    if (a.id, b.id) in seen_pairs:
                        continue
                    if a.options[0] != b.options[0]:
                        conflicts.append((rs.id, layer.name, a.id, b.id, facts))
                        seen_pairs.add((a.id, b.id))
                    elif layer.complete:
                        overlaps.append((rs.id, layer.name, a.id, b.id, facts))
                        seen_pairs.add((a.id, b.id))
            unreachable += [(rs.id, r.id) for r in rules if r.id not in fired_ever]
    return CheckReport(tuple(gaps), tuple(conflicts), tuple(overlaps), tuple(unreachable), total)
