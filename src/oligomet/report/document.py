"""The report's document model: a study's numbers (→ results.json), tables, figure specifications
and text, in report order, plus the number formatting used for display.

The study layer fills a :class:`StudyResults`; :func:`oligomet.report.html.write_report` turns it into
files. A :class:`FigureItem` is a *specification* (the drawing function and its tidy data), drawn
only when a report is written: ``run_study(out=None)`` creates no matplotlib figure at all.

Nothing here imports from ``oligomet.study``: the report layer sits below it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from .tables import ReportTable


@dataclass
class FigureItem:
    """A figure to draw: ``draw(**data)`` returns a matplotlib Figure.

    ``draw`` may also be an already drawn Figure (``data`` then stays empty), for callers that
    build their own figures.
    """

    name: str
    title: str
    draw: Callable[..., Any] | Any
    caption: str = ""
    data: dict = field(default_factory=dict)

    def render(self):
        """The matplotlib Figure: drawn now, from the specification (or the one given)."""
        return self.draw(**self.data) if callable(self.draw) else self.draw


@dataclass
class TextItem:
    text: str
    kind: str = "p"  # "p" paragraph, "note"


@dataclass(frozen=True)
class Check:
    """One check of the analysis' validity (balance, proportional hazards, complete cases...).

    Every check is listed in the report's "Checks" panel; a failed one also cautions the results
    paragraph next to the finding it qualifies. ``values`` holds the numbers behind it (and the
    threshold); :func:`oligomet.report.sections.checks.describe` words it.
    """

    name: str            # "balance", "proportional_hazards", "complete_cases", ...
    title: str           # what was checked, for the panel
    passed: bool
    values: dict = field(default_factory=dict)


@dataclass
class Section:
    key: str
    title: str
    items: list = field(default_factory=list)  # ReportTable | FigureItem | TextItem


@dataclass
class StudyResults:
    """``numbers`` is nested plain data (every number in the report); ``sections`` the report body."""

    title: str
    name: str
    numbers: dict = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)   # sentences, joined into the methods paragraph
    results_text: list[str] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def section(self, key: str, title: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        s = Section(key, title)
        self.sections.append(s)
        return s

    @property
    def tables(self) -> list[ReportTable]:
        return [i for s in self.sections for i in s.items if isinstance(i, ReportTable)]

    @property
    def figures(self) -> list[FigureItem]:
        return [i for s in self.sections for i in s.items if isinstance(i, FigureItem)]


# --- number formatting (display only; results.json keeps full precision) ------------------------

def num(x, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or x is pd.NA:
        return "NR"
    return f"{float(x):.{digits}f}"


def ci(est, lo, hi, digits: int = 1, sep: str = "–") -> str:
    """'71.0 (50.2–92.1)'; NR where not reached (an upper limit that is not reached is NR)."""
    return f"{num(est, digits)} ({num(lo, digits)}{sep}{num(hi, digits)})"


def pct(x, digits: int = 1) -> str:
    return "NR" if x is None or not np.isfinite(x) else f"{100 * float(x):.{digits}f}%"


def p_value(p) -> str:
    if p is None or not np.isfinite(p):
        return ""
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def lower_first(text: str) -> str:
    """'Overall survival' -> 'overall survival'; 'SABR dose' stays (an acronym)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def p_text(p) -> str:
    """'p = 0.012' or 'p < 0.001', for sentences."""
    s = p_value(p)
    return "p not estimable" if not s else ("p < 0.001" if s.startswith("<") else f"p = {s}")


def clean(x: Any):
    """Plain JSON-able data: NaN → None, numpy scalars → Python, frames → records."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, pd.DataFrame):
        return [clean(r) for r in x.to_dict(orient="records")]
    if isinstance(x, pd.Series):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if x is pd.NA or x is pd.NaT or x is None:
        return None
    if isinstance(x, pd.Timestamp):
        return x.strftime("%Y-%m-%d")
    return x
