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


class Paragraph(list):
    """The sentences of the "Results in brief" paragraph.

    A clinician reads the primary comparison first, so :meth:`lead` files it before everything else
    (several leads keep their order); :meth:`caution` files a failed check right after the last
    sentence filed, i.e. next to the finding it qualifies, even when that finding led.
    """

    def __init__(self, *args):
        super().__init__(*args)
        self.n_lead = 0       # sentences at the front that lead
        self._last = len(self) - 1

    def append(self, text: str) -> None:
        super().append(text)
        self._last = len(self) - 1

    def lead(self, text: str) -> None:
        self.insert(self.n_lead, text)
        self._last = self.n_lead
        self.n_lead += 1

    def caution(self, text: str) -> None:
        at = self._last + 1
        self.insert(at, text)
        if at <= self.n_lead:   # keep a lead's cautions with it
            self.n_lead += 1
        self._last = at


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
    results_text: Paragraph = field(default_factory=Paragraph)   # "Results in brief", primary comparison first
    results_detail: list[str] = field(default_factory=list)      # second paragraph: covariate details
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


def count(n) -> str:
    """A count of patients or events as the tables print it: '11,468'."""
    return f"{round(float(n)):,}"


def ci(est, lo, hi, digits: int = 1, sep: str = "–") -> str:
    """'71.0 (50.2–92.1)'; NR where not reached (an upper limit that is not reached is NR)."""
    return f"{num(est, digits)} ({num(lo, digits)}{sep}{num(hi, digits)})"


def ci_p(est, lo, hi, p=None, digits: int = 2) -> str:
    """For sentences, without nested parentheses: '1.55 (95% CI 1.27–1.89; p < 0.001)'."""
    inner = f"95% CI {num(lo, digits)}–{num(hi, digits)}"
    return f"{num(est, digits)} ({inner}" + (f"; {p_text(p)})" if p is not None else ")")


def contrast(label: str) -> str:
    """'Ablation timing: Delayed ablation vs Upfront ablation' -> 'delayed ablation vs upfront ablation'."""
    levels = [lower_first(x) for x in label.split(": ", 1)[-1].split(" vs ")]
    if len(levels) == 2:
        a, b = (x.rsplit(" ", 1) for x in levels)
        # 'delayed ablation vs upfront ablation' -> 'delayed vs upfront ablation'
        if len(a) == len(b) == 2 and a[1] == b[1]:
            levels[0] = a[0]
    return " vs ".join(levels)


def join_and(items: list[str], word: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or another ``word``)."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]


def pct(x, digits: int = 1) -> str:
    return "NR" if x is None or not np.isfinite(x) else f"{100 * float(x):.{digits}f}%"


def p_value(p) -> str:
    if p is None or not np.isfinite(p):
        return ""
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


#: Said under every weighted curve whose at-risk table counts sums of weights.
PSEUDO_NOTE = "Numbers at risk are sums of the weights (a weighted pseudo-population), not patients."
EM_DASH = "—"   # a reference level's HR: the comparator, not a missing number
INDENT = "\u00a0" * 4   # a level under its variable; non-breaking, so HTML keeps it


#: Words of registry codes that are acronyms or gene names, written as clinicians write them
#: ('sabr' -> 'SABR', 'msi_high' -> 'MSI high', 'kras_mut' -> 'KRAS mut').
CODE_ACRONYMS = {w: w.upper() for w in ("sabr", "sbrt", "rfa", "mwa", "tace", "sirt", "mss", "msi", "ras", "kras",
                                        "nras", "braf", "cea", "ecog", "asa", "fev1", "mdt", "os", "dfs", "pfs",
                                        "tbs", "dfi", "tfi", "ct", "pet")}


def code_label(code) -> str:
    """A registry code for display: 'wild_type' -> 'Wild type', 'mutant' -> 'Mutant', 'sabr' -> 'SABR';
    text that already carries capitals ('KRAS G12C', 'Upfront ablation') is kept as written."""
    text = str(code)
    if text != text.lower():
        return text
    words = [CODE_ACRONYMS.get(w, w) for w in text.replace("_", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def group_label(group) -> str:
    """A group as a table prints it: the single group of an unstratified estimate ('all' in the estimator
    tables) is 'All patients', as in the figures' at-risk tables; other groups as they are."""
    return "All patients" if str(group).lower() == "all" else str(group)


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
