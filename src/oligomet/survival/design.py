"""Covariate terms -> design matrix for regression models (Cox, Fine–Gray, propensity).

Accepted covariate specifications:

* a list of column names and/or terms, e.g. ``["age", "C(rx)", "C(sex, ref=2)"]``;
* a formula string, e.g. ``"age + C(rx) + C(sex, ref=2)"`` (an optional leading ``~`` is ignored).

Terms, as in R's model formulas:

* ``col``: a column; ``C(col)`` / ``C(col, ref=x)``: a column coded as a factor;
* ``I(expr)`` and ``log(…)``, ``log10(…)``, ``log1p(…)``, ``sqrt(…)``, ``exp(…)``, ``abs(…)``: an
  arithmetic expression of columns, evaluated by :mod:`oligomet.expressions` (never by ``eval``; e.g.
  ``I(age / 10)`` for a hazard ratio per 10 years, ``log(nodes + 1)``); a comparison such as ``I(nodes > 4)`` is
  logical and becomes a dummy, as R codes a logical;
* ``a:b``: the interaction (products of the two terms' design columns); ``a*b`` is ``a + b + a:b``
  (``a*b*c`` all main effects and interactions). As R's ``terms``, interactions come after all main
  effects, in the order written. A factor in an interaction must also be in the model as a main effect
  (R codes the interaction differently without it, and we do not reproduce that).

Coding rules, as R's ``model.matrix`` with its default treatment contrasts:

* a numeric column enters as-is (one design column named like the column);
* a non-numeric column (object/string, ``category``, ``bool``) and any ``C(col)`` term is
  dummy-coded with *treatment contrasts*: one 0/1 column per level except the reference;
* the reference is the first level: R's factor order, i.e. the categories' order for a
  pandas ``Categorical``, otherwise sorted values (numbers before strings; plain Python string
  order, which equals R's ``C`` locale order); ``C(col, ref="x")`` chooses another reference;
* dummy column names are ``f"{col}[{level}]"``, e.g. ``rx[Lev]``, ``sex[2]``, ``smoker[True]``;
  interaction columns join their parts' names with ``:``, the first part varying fastest, as R
  (``rx[Lev]:age``, ``rx[Obs]:age``);
* levels are taken from the rows actually analysed (after complete-case handling); unused
  categories are dropped, as R's ``model.frame`` drops unused levels of character columns.
"""
from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._validation import _rows, _sort_key, require_columns
from ..expressions import ExpressionError, evaluate, parse_expression

_C_TERM = re.compile(r"^C\(\s*(?P<col>[^,()]+?)\s*(?:,\s*ref\s*=\s*(?P<ref>.+?))?\s*\)$", re.S)
_I_TERM = re.compile(r"^I\((?P<expr>.+)\)$", re.S)
_FUNCTIONS = ("log", "log10", "log1p", "sqrt", "exp", "abs")   # the ones R users write bare
_FUNC_TERM = re.compile(rf"^(?:{'|'.join(_FUNCTIONS)})\(.+\)$", re.S)


@dataclass(frozen=True)
class TermSpec:
    """One parsed covariate term before looking at the data.

    ``column`` is the data column for a plain or ``C()`` term and the term's label otherwise;
    ``sources`` lists the data columns the term reads (for complete-case handling)."""

    column: str
    categorical: bool = False   # forced by C()
    ref: object = None          # explicit reference level (C(col, ref=...)), else None
    text: str = ""
    expr: str | None = None     # the expression of an I()/function term (oligomet.expressions)
    parts: tuple = ()           # an interaction's component TermSpecs
    sources: tuple = ()

    @property
    def plain(self) -> bool:
        """A data column as it is (possibly coded as a factor): no expression, no interaction."""
        return self.expr is None and not self.parts


@dataclass(frozen=True)
class Term:
    """One term after looking at the data: how to turn the column into design columns."""

    column: str                 # the data column, or the label of an expression / interaction term
    categorical: bool
    levels: tuple = ()          # all levels, reference first is NOT implied; see ``ref``
    ref: object = None
    names: tuple = ()           # design-column names this term produces
    expr: str | None = None
    parts: tuple = field(default=(), repr=False)   # an interaction's component Terms (their main-effect coding)
    sources: tuple = ()

    def values(self, frame: pd.DataFrame) -> pd.Series:
        """The term's raw values: the column, or the evaluated expression."""
        if self.expr is None:
            return frame[self.column]
        return _evaluate(frame, self.expr, self.column)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        if self.parts:
            return _interaction_columns([p.encode(frame) for p in self.parts])
        col = self.values(frame)
        if not self.categorical:
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            return values[:, None]
        codes, keys = _distinct_keys(col)
        known = {_level_key(lv): i for i, lv in enumerate(self.levels)}
        level_of_code = np.array([known.get(k, -1) for k in keys] + [-1], dtype=np.int64)   # code -1: missing
        idx = level_of_code[codes]
        unknown = np.flatnonzero(idx < 0)
        if unknown.size:
            bad = sorted({repr(col.iloc[i]) for i in unknown[:5]})
            raise ValueError(f"covariate {self.column!r}: level(s) {', '.join(bad)} at "
                             f"{_rows(frame.index[unknown])} were not in the fitted data "
                             f"(levels: {', '.join(map(_fmt, self.levels))})")
        dummies = [lv for lv in self.levels if _level_key(lv) != _level_key(self.ref)]
        out = np.zeros((idx.size, len(dummies)))
        for j, lv in enumerate(dummies):
            out[:, j] = idx == known[_level_key(lv)]
        return out


def _interaction_columns(blocks: list[np.ndarray]) -> np.ndarray:
    """All products of one column from each block, the first block varying fastest (R's order)."""
    combos = itertools.product(*(range(b.shape[1]) for b in reversed(blocks)))
    cols = [np.prod([blocks[-1 - i][:, j] for i, j in enumerate(c)], axis=0) for c in combos]
    return np.column_stack(cols)


def _interaction_names(parts: Sequence[Term]) -> tuple:
    combos = itertools.product(*(p.names for p in reversed(parts)))
    return tuple(":".join(reversed(c)) for c in combos)


def _evaluate(frame: pd.DataFrame, expr: str, label: str) -> pd.Series:
    try:
        out = evaluate(parse_expression(expr), frame)
    except ExpressionError as exc:
        raise ValueError(f"covariate {label!r}: {exc.problem}") from None
    if np.ndim(out) == 0:   # an expression without columns: a constant, which cannot be estimated
        raise ValueError(f"covariate {label!r}: {expr!r} does not depend on any column")
    return pd.Series(np.asarray(out), index=frame.index)


def _expression_sources(expr: str, label: str) -> tuple:
    """The columns an I()/function term reads; a term outside the expression language is refused here,
    before any data is touched."""
    try:
        return parse_expression(expr).names
    except ExpressionError as exc:
        raise ValueError(f"cannot parse covariate term {label!r}: {exc.problem}") from None


@dataclass(frozen=True)
class Design:
    """Parsed terms with their coding; ``matrix(frame)`` encodes any frame with the same columns."""

    terms: tuple

    @property
    def names(self) -> list[str]:
        return [n for t in self.terms for n in t.names]

    @property
    def columns(self) -> list[str]:
        """The data columns the terms read."""
        return list(dict.fromkeys(c for t in self.terms for c in t.sources))

    def column_arrays(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """The design's columns as 1-D float arrays: views of ``frame``'s float64 columns where possible
        (no copy of the data is made for them), fresh arrays for dummies and converted columns.
        Treat them as read-only."""
        require_columns(frame, self.columns, "covariate")
        out = []
        for t in self.terms:
            if _plain_numeric(t, frame):
                out.append(frame[t.column].to_numpy(dtype=float))
            else:
                block = t.encode(frame)
                out.extend(block[:, j] for j in range(block.shape[1]))
        return out

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The (n, p) float design matrix: a fresh array, never a view of ``frame``."""
        require_columns(frame, self.columns, "covariate")
        if all(_plain_numeric(t, frame) for t in self.terms):
            # all numeric: pandas hands over its block in one copy, no per-column work
            cols = [t.column for t in self.terms]
            out = frame[cols].to_numpy(dtype=float)
            if any(np.may_share_memory(out, frame[c].to_numpy()) for c in cols):
                out = out.copy()
            return out
        # Filling rows of a (p, n) array and returning its transpose writes each column contiguously.
        out = np.empty((len(self.names), len(frame)))
        j = 0
        for t in self.terms:
            block = t.encode(frame)
            out[j:j + block.shape[1]] = block.T
            j += block.shape[1]
        return out.T


def _plain_numeric(t: Term, frame: pd.DataFrame) -> bool:
    return t.expr is None and not t.parts and not t.categorical and not _is_categorical(frame[t.column])


def _fmt(level) -> str:
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return str(int(level))
    if isinstance(level, (bool, np.bool_)):
        return str(bool(level))
    return str(level)


def _distinct_keys(col: pd.Series) -> tuple[np.ndarray, list]:
    """``(codes, keys)``: each row's code (-1 if missing) into the list of distinct level keys. Factorised in
    pandas when the dtype cannot mix value types (categorical, numeric, bool, all-string), so a 10^5-row factor
    costs one hash pass instead of a Python call per row; mixed object columns (where 1 and True hash alike but
    are different levels) go row by row."""
    if (isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_numeric_dtype(col) or col.dtype == bool
            or pd.api.types.infer_dtype(col, skipna=True) == "string"):
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        keys = [_level_key(v) for v in uniques]
        merged = {k: i for i, k in reversed(list(enumerate(keys)))}     # 2 and 2.0 are one level: first code wins
        remap = np.array([merged[k] for k in keys] + [-1], dtype=np.int64)
        return remap[codes], keys
    keys, codes, seen = [], np.empty(len(col), dtype=np.int64), {}
    for i, v in enumerate(col):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            codes[i] = -1
            continue
        codes[i] = seen.setdefault(_level_key(v), len(seen))
        if codes[i] == len(keys):
            keys.append(_level_key(v))
    return codes, keys


def _level_key(v):
    # Levels compare by value; 2 and 2.0 (a float column because of NaN) are the same level.
    if isinstance(v, (bool, np.bool_)):
        return ("b", bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return ("n", float(v))
    return ("s", str(v))


def _parse_ref(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        try:   # a level holding both quote characters comes escaped, as repr() writes it: 'a"b\'c'
            return ast.literal_eval(text)   # a string literal only: nothing is evaluated
        except (ValueError, SyntaxError):
            return text[1:-1]
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text


def _split_formula(formula: str) -> list[str]:
    formula = formula.strip()
    if "~" in formula:
        formula = formula.split("~", 1)[1]
    parts = _split_top(formula, "+")
    if any(not p for p in parts):
        raise ValueError(f"cannot parse covariate formula {formula!r}: empty term")
    return parts


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside parentheses and quotes (a level such as ``ref='a) : b'`` stays whole)."""
    parts, depth, cur, quote, escaped = [], 0, [], None, False
    for ch in text:
        if quote:   # inside '...' or "...": only the closing quote (not a backslash-escaped one) matters
            quote = None if ch == quote and not escaped else quote
            escaped = ch == "\\" and not escaped
            cur.append(ch)
            continue
        quote = ch if ch in "'\"" and depth > 0 else None   # outside C()/I() a quote is part of a name
        depth += (ch == "(") - (ch == ")")
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def _atom(item: str) -> TermSpec:
    """One term without ``:``/``*``: a column, ``C(col, ref=)``, ``I(expr)`` or a bare function call."""
    m = _C_TERM.match(item)
    if m:
        ref = _parse_ref(m.group("ref")) if m.group("ref") is not None else None
        col = m.group("col").strip()
        return TermSpec(column=col, categorical=True, ref=ref, text=item, sources=(col,))
    m = _I_TERM.match(item)
    expr = m.group("expr") if m else (item if _FUNC_TERM.match(item) else None)
    if expr is not None:
        return TermSpec(column=item, text=item, expr=expr.strip(), sources=_expression_sources(expr, item))
    return TermSpec(column=item, text=item, sources=(item,))


def _expand(item: str) -> list[list[TermSpec]]:
    """A term with ``*``/``:`` -> its terms, each a list of atoms (R: ``a*b`` = ``a + b + a:b``)."""
    factors = _split_top(item, "*")
    if len(factors) > 1 and any(not f for f in factors):
        raise ValueError(f"cannot parse covariate term {item!r}: empty factor around '*'")
    atoms = []
    for f in factors:
        pieces = _split_top(f, ":")
        if any(not x for x in pieces):
            raise ValueError(f"cannot parse covariate term {item!r}: empty factor around ':'")
        atoms.append([_atom(x) for x in pieces])
    out = []
    for size in range(1, len(atoms) + 1):
        for combo in itertools.combinations(atoms, size):
            term = list({a.text: a for part in combo for a in part}.values())
            out.append(term)
    return out


def _interaction_spec(atoms: list[TermSpec]) -> TermSpec:
    label = ":".join(a.column for a in atoms)        # rx:age for C(rx):age, as zph and errors name terms
    return TermSpec(column=label, text=":".join(a.text for a in atoms), parts=tuple(atoms),
                    sources=tuple(dict.fromkeys(c for a in atoms for c in a.sources)))


def parse_covariates(covariates: str | Sequence[str]) -> list[TermSpec]:
    """Parse a formula string or a list of names/terms into :class:`TermSpec`s (no data needed).

    Main effects keep their order; interactions follow them, in the order written (R's ``terms``)."""
    if isinstance(covariates, str):
        items = _split_formula(covariates)
    else:
        items = []
        for c in covariates:
            if not isinstance(c, str):
                raise ValueError(f"covariates must be column names or terms (strings), got {c!r}")
            items.append(c.strip())  # one list item = one term (a column may be named "a+b")
    if not items:
        raise ValueError("no covariates given")
    mains, interactions, seen = [], [], {}
    for item in items:
        expanded = _expand(item) if (len(_split_top(item, "*")) > 1 or len(_split_top(item, ":")) > 1) \
            else [[_atom(item)]]
        explicit = len(expanded) == 1
        for atoms in expanded:
            key = frozenset(a.text for a in atoms)
            if key in seen:
                if explicit and len(atoms) == 1 and seen[key]:
                    raise ValueError(f"covariate {atoms[0].column!r} is given twice")
                continue               # a main effect repeated by a*b expansion, as R drops duplicates
            seen[key] = explicit
            if len(atoms) == 1:
                mains.append(atoms[0])
            else:
                interactions.append(_interaction_spec(atoms))
    plain = [s.column for s in mains if s.plain]
    dup = {c for c in plain if plain.count(c) > 1}
    if dup:
        raise ValueError(f"covariate {sorted(dup)[0]!r} is given twice")
    return mains + interactions


def _is_categorical(col: pd.Series) -> bool:
    return (isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == bool
            or not pd.api.types.is_numeric_dtype(col))


def _factor_term(s: TermSpec, col: pd.Series) -> Term:
    """Treatment-contrast coding of a column (or an evaluated logical expression)."""
    codes, keys = _distinct_keys(col)
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = {keys[c] for c in np.unique(codes[codes >= 0])}
        levels = [lv for lv in col.cat.categories if _level_key(lv) in present]
    else:
        uniq = {}
        present, first_row = np.unique(codes, return_index=True)    # each level's first row, as dropna() order
        for code, row in sorted(zip(present, first_row), key=lambda cr: cr[1]):
            if code >= 0:
                uniq.setdefault(keys[code], col.iloc[row])
        levels = sorted(uniq.values(), key=_sort_key) if col.dtype != bool else sorted(uniq.values())
    _refuse_lookalike_levels(s.column, col, levels)
    if len(levels) < 2:
        only = _fmt(levels[0]) if levels else "none"
        raise ValueError(f"covariate {s.column!r} has a single level ({only}) in the analysed rows; "
                         f"it cannot be estimated (remove it or check the filter)")
    if s.ref is not None:
        match = [lv for lv in levels if _level_key(lv) == _level_key(s.ref) or _fmt(lv) == str(s.ref)]
        if not match:
            raise ValueError(f"covariate {s.column!r}: reference level {s.ref!r} is not among the levels "
                             f"{', '.join(map(_fmt, levels))}")
        ref = match[0]
    else:
        ref = levels[0]
    names = tuple(f"{s.column}[{_fmt(lv)}]" for lv in levels if _level_key(lv) != _level_key(ref))
    return Term(column=s.column, categorical=True, levels=tuple(levels), ref=ref, names=names, expr=s.expr,
                sources=s.sources)


def _refuse_lookalike_levels(column: str, col: pd.Series, levels: list) -> None:
    """Distinct values that print alike (1 and "1", True and "True") would give two dummies with one name and
    two groups labelled the same. Which of them the user meant as one level is a guess, so refuse."""
    by_name: dict[str, list] = {}
    for lv in levels:
        by_name.setdefault(_fmt(lv), []).append(lv)
    clashes = [vals for vals in by_name.values() if len(vals) > 1]
    if not clashes:
        return
    keys = [_level_key(v) for v in col]
    parts = []
    for vals in clashes:
        where = []
        for lv in vals:
            rows = [i for i, k in enumerate(keys) if k == _level_key(lv)]
            where.append(f"{lv!r} ({type(lv).__name__}) at {_rows(col.index[rows])}")
        parts.append("; ".join(where))
    raise ValueError(f"covariate {column!r} mixes values of different types that read the same: "
                     f"{' / '.join(parts)}. Make the column one type first, e.g. df[{column!r}] = "
                     f"df[{column!r}].astype(str), or fix the rows that differ")


def _main_term(frame: pd.DataFrame, s: TermSpec) -> Term:
    col = frame[s.column] if s.expr is None else _evaluate(frame, s.expr, s.column)
    if s.categorical or _is_categorical(col):
        return _factor_term(s, col)
    return Term(column=s.column, categorical=False, names=(s.column,), expr=s.expr, sources=s.sources)


def build_design(frame: pd.DataFrame, specs: Sequence[TermSpec], known: Mapping[str, Term] | None = None) -> Design:
    """Decide each term's coding from the analysed rows (after complete-case handling).

    ``known``: terms already coded on data whose columns equal ``frame``'s, by their spec's text; they are
    taken as they are (e.g. the unchanged columns of the completed datasets of an imputation)."""
    require_columns(frame, list(dict.fromkeys(c for s in specs for c in s.sources)), "covariate")
    known = known or {}
    terms, mains = [], {}
    for s in specs:
        if s.text in known:
            terms.append(known[s.text])
            if not s.parts:
                mains[s.text] = known[s.text]
            continue
        if not s.parts:
            term = _main_term(frame, s)
            mains[s.text] = term
            terms.append(term)
            continue
        parts = []
        for a in s.parts:
            part = mains.get(a.text)
            if part is None:
                part = _main_term(frame, a)
                if part.categorical:
                    raise ValueError(f"interaction {s.column!r}: add the main effect {a.text!r} to the model "
                                     "(without it R codes the factor differently in the interaction)")
            parts.append(part)
        terms.append(Term(column=s.column, categorical=False, names=_interaction_names(parts), parts=tuple(parts),
                          sources=s.sources))
    return Design(terms=tuple(terms))


# Level identity and printing, shared with the propensity model's R-style column names (matching/propensity.py).
level_key = _level_key
level_text = _fmt
