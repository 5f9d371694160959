"""Problem collection and the :class:`ValidationReport` every registry check returns.

Checks never raise on bad data: they add problems here, vectorised (one call per
rule and field, with the offending rows as a frame), so that a registry of a
million rows is checked in seconds and the user sees *all* problems at once.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from .fields import TABLE_ORDER

#: Columns of :attr:`ValidationReport.problems`, in order.
PROBLEM_COLUMNS = ("severity", "table", "row", "patient_id", "field", "value", "rule", "message")
ERROR = "error"
WARNING = "warning"


def _as_text(values: pd.Series) -> pd.Series:
    """Offending values as display strings (dates as ISO, missing as None)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values.dt.strftime("%Y-%m-%d")
    else:
        out = values.astype(object).astype(str)  # vectorised; missing cells are masked just below
    return out.astype(object).where(values.notna(), None)


class ProblemLog:
    """Accumulates problems as small frames; :meth:`report` concatenates them once."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, severity: str, table: str, rule: str, message, *, rows=None, patient_id=None,
            field: str | None = None, value=None) -> None:
        """Add one problem per entry of ``rows`` (or one problem when ``rows`` is None).

        ``message``, ``patient_id`` and ``value`` are scalars or array-likes aligned with ``rows``.
        """
        if rows is None:
            n = 1
            rows_arr = np.array([None], dtype=object)
        else:
            rows_arr = np.asarray(rows, dtype=object)
            n = len(rows_arr)
            if n == 0:
                return

        def col(x):
            if isinstance(x, pd.Series):
                return _as_text(x).to_numpy(dtype=object)
            if x is None or np.isscalar(x):
                return np.full(n, x, dtype=object)
            return np.asarray(x, dtype=object)

        msg = message.to_numpy(dtype=object) if isinstance(message, pd.Series) else col(message)
        self._parts.append(pd.DataFrame({
            "severity": severity, "table": table, "row": rows_arr, "patient_id": col(patient_id),
            "field": field, "value": col(value), "rule": rule, "message": msg,
        }))

    def error(self, *args, **kw) -> None:
        self.add(ERROR, *args, **kw)

    def warning(self, *args, **kw) -> None:
        self.add(WARNING, *args, **kw)

    def extend(self, other: "ProblemLog | ValidationReport") -> None:
        frame = other.problems if isinstance(other, ValidationReport) else other.frame()
        if len(frame):
            self._parts.append(frame)

    def merge(self, other: "ProblemLog") -> None:
        """Add the problems of ``other`` as if they had been added here, one by one (same report order)."""
        self._parts.extend(other._parts)

    def frame(self) -> pd.DataFrame:
        return _concat(self._parts)

    def report(self) -> "ValidationReport":
        return ValidationReport(self.frame())


def _concat(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
    out = pd.concat(parts, ignore_index=True)[list(PROBLEM_COLUMNS)]
    # Errors first, then the data model's table order, then file row: the order a person fixes them in.
    table_rank = {t: i for i, t in enumerate(TABLE_ORDER)}
    key = pd.DataFrame({
        "s": (out["severity"] != ERROR).astype(int),
        "t": out["table"].map(table_rank).fillna(len(table_rank)),
        "r": pd.to_numeric(out["row"], errors="coerce").fillna(-1),
    })
    order = np.lexsort((key["r"].to_numpy(), key["t"].to_numpy(), key["s"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    rows = [None if r is None or r is pd.NA or (isinstance(r, float) and np.isnan(r)) else int(r) for r in out["row"]]
    out["row"] = pd.Series(rows, index=out.index, dtype=object)  # ints and None, never float NaN
    return out


class ValidationReport:
    """All problems found in a registry.

    ``problems`` is a DataFrame with columns ``severity`` (``"error"`` / ``"warning"``), ``table``,
    ``row`` (1-based data row in the source file, the header not counted; None for problems that
    concern a whole table or column), ``patient_id``, ``field``, ``value`` (the offending value as
    text; never the value of a direct identifier), ``rule`` (a rule id from
    :data:`oligomet.registry.rules.RULES`) and ``message``. Errors come first, then warnings,
    each in table order and file row order.
    """

    def __init__(self, problems: pd.DataFrame | None = None) -> None:
        self.problems = _concat([problems]) if problems is not None else _concat([])

    @property
    def errors(self) -> pd.DataFrame:
        return self.problems[self.problems["severity"] == ERROR].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        return self.problems[self.problems["severity"] == WARNING].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not (self.problems["severity"] == ERROR).any()

    def __len__(self) -> int:
        return len(self.problems)

    def __add__(self, other: "ValidationReport") -> "ValidationReport":
        return ValidationReport(_concat([self.problems, other.problems]))

    def counts(self) -> pd.DataFrame:
        """Problems per severity and rule: columns ``severity``, ``rule``, ``n``."""
        if not len(self.problems):
            return pd.DataFrame({"severity": [], "rule": [], "n": []})
        return (self.problems.groupby(["severity", "rule"], sort=True).size().rename("n").reset_index()
                .sort_values(["severity", "n"], ascending=[True, False], ignore_index=True))

    def to_text(self, limit: int | None = None) -> str:
        """Plain-text listing, one problem per line (all of them unless ``limit``)."""
        lines = [self.summary()]
        shown = self.problems if limit is None else self.problems.head(limit)
        for p in shown.itertuples(index=False):
            where = p.table + (f" row {p.row}" if p.row is not None else "")
            who = f" patient {p.patient_id}" if p.patient_id is not None else ""
            fld = f" {p.field}" if p.field is not None else ""
            val = f" = {p.value!r}" if p.value is not None else ""
            lines.append(f"{p.severity.upper():7s} {where}{who}{fld}{val}: {p.message} [{p.rule}]")
        if limit is not None and len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more")
        return "\n".join(lines)

    def summary(self) -> str:
        n_err = int((self.problems["severity"] == ERROR).sum())
        n_warn = len(self.problems) - n_err
        status = "OK" if n_err == 0 else "FAILED"
        return f"registry validation {status}: {n_err} error(s), {n_warn} warning(s)"

    def __str__(self) -> str:
        return self.to_text(limit=20)

    def __repr__(self) -> str:
        return f"<ValidationReport {self.summary()}>"
