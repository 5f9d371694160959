"""Covariate terms -> design matrix for regression models (Cox, and later Fine–Gray, propensity).

Accepted covariate specifications:

* a list of column names and/or terms, e.g. ``["age", "C(rx)", "C(sex, ref=2)"]``;
* a formula string, e.g. ``"age + C(rx) + C(sex, ref=2)"`` (an optional leading ``~`` is ignored).

Coding rules, as R's ``model.matrix`` with its default treatment contrasts:

* a numeric column enters as-is (one design column named like the column);
* a non-numeric column (object/string, ``category``, ``bool``) and any ``C(col)`` term is
  dummy-coded with *treatment contrasts*: one 0/1 column per level except the reference;
* the reference is the first level: R's factor order, i.e. the categories' order for a
  pandas ``Categorical``, otherwise sorted values (numbers before strings; plain Python string
  order, which equals R's ``C`` locale order); ``C(col, ref="x")`` chooses another reference;
* dummy column names are ``f"{col}[{level}]"``, e.g. ``rx[Lev]``, ``sex[2]``, ``smoker[True]``;
* levels are taken from the rows actually analysed (after complete-case handling); unused
  categories are dropped, as R's ``model.frame`` drops unused levels of character columns.

Interactions and transformations are not supported; derive such columns beforehand.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .._validation import _rows, _sort_key, require_columns

_C_TERM = re.compile(r"^C\(\s*(?P<col>[^,()]+?)\s*(?:,\s*ref\s*=\s*(?P<ref>.+?))?\s*\)$")


@dataclass(frozen=True)
class TermSpec:
    """One parsed covariate term before looking at the data."""

    column: str
    categorical: bool = False   # forced by C()
    ref: object = None          # explicit reference level (C(col, ref=...)), else None
    text: str = ""


@dataclass(frozen=True)
class Term:
    """One term after looking at the data: how to turn the column into design columns."""

    column: str
    categorical: bool
    levels: tuple = ()          # all levels, reference first is NOT implied; see ``ref``
    ref: object = None
    names: tuple = ()           # design-column names this term produces

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        col = frame[self.column]
        if not self.categorical:
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            return values[:, None]
        keys = [_level_key(v) for v in col]
        known = {_level_key(lv): i for i, lv in enumerate(self.levels)}
        unknown = [i for i, k in enumerate(keys) if k not in known]
        if unknown:
            bad = sorted({repr(col.iloc[i]) for i in unknown[:5]})
            raise ValueError(f"covariate {self.column!r}: level(s) {', '.join(bad)} at "
                             f"{_rows(frame.index[unknown])} were not in the fitted data "
                             f"(levels: {', '.join(map(_fmt, self.levels))})")
        idx = np.fromiter((known[k] for k in keys), dtype=np.int64, count=len(keys))
        dummies = [lv for lv in self.levels if _level_key(lv) != _level_key(self.ref)]
        out = np.zeros((len(keys), len(dummies)))
        for j, lv in enumerate(dummies):
            out[:, j] = idx == known[_level_key(lv)]
        return out


@dataclass(frozen=True)
class Design:
    """Parsed terms with their coding; ``matrix(frame)`` encodes any frame with the same columns."""

    terms: tuple

    @property
    def names(self) -> list[str]:
        return [n for t in self.terms for n in t.names]

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(t.column for t in self.terms))

    def column_arrays(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """The design's columns as 1-D float arrays: views of ``frame``'s float64 columns where possible
        (no copy of the data is made for them), fresh arrays for dummies and converted columns.
        Treat them as read-only."""
        require_columns(frame, self.columns, "covariate")
        out = []
        for t in self.terms:
            col = frame[t.column]
            if not t.categorical and pd.api.types.is_numeric_dtype(col) and not _is_categorical(col):
                out.append(col.to_numpy(dtype=float))
            else:
                block = t.encode(frame)
                out.extend(block[:, j] for j in range(block.shape[1]))
        return out

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The (n, p) float design matrix: a fresh array, never a view of ``frame``."""
        require_columns(frame, self.columns, "covariate")
        if all(not t.categorical for t in self.terms) and all(
                pd.api.types.is_numeric_dtype(frame[t.column]) for t in self.terms):
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


def _fmt(level) -> str:
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return str(int(level))
    if isinstance(level, (bool, np.bool_)):
        return str(bool(level))
    return str(level)


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
    parts, depth, cur = [], 0, []
    for ch in formula:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "+" and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    if any(not p for p in parts):
        raise ValueError(f"cannot parse covariate formula {formula!r}: empty term")
    return parts


def parse_covariates(covariates: str | Sequence[str]) -> list[TermSpec]:
    """Parse a formula string or a list of names/terms into :class:`TermSpec`s (no data needed)."""
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
    specs = []
    for item in items:
        m = _C_TERM.match(item)
        if m:
            ref = _parse_ref(m.group("ref")) if m.group("ref") is not None else None
            specs.append(TermSpec(column=m.group("col").strip(), categorical=True, ref=ref, text=item))
        else:
            specs.append(TermSpec(column=item, text=item))
    seen = set()
    for s in specs:
        if s.column in seen:
            raise ValueError(f"covariate {s.column!r} is given twice")
        seen.add(s.column)
    return specs


def _is_categorical(col: pd.Series) -> bool:
    return (isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == bool
            or not pd.api.types.is_numeric_dtype(col))


def build_design(frame: pd.DataFrame, specs: Sequence[TermSpec]) -> Design:
    """Decide each term's coding from the analysed rows (after complete-case handling)."""
    require_columns(frame, [s.column for s in specs], "covariate")
    terms = []
    for s in specs:
        col = frame[s.column]
        if s.categorical or _is_categorical(col):
            if isinstance(col.dtype, pd.CategoricalDtype):
                present = {_level_key(v) for v in col.dropna()}
                levels = [lv for lv in col.cat.categories if _level_key(lv) in present]
            else:
                uniq = {}
                for v in col.dropna():
                    uniq.setdefault(_level_key(v), v)
                levels = sorted(uniq.values(), key=_sort_key) if col.dtype != bool else \
                    sorted(uniq.values())
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
            terms.append(Term(column=s.column, categorical=True, levels=tuple(levels), ref=ref, names=names))
        else:
            terms.append(Term(column=s.column, categorical=False, names=(s.column,)))
    return Design(terms=tuple(terms))
