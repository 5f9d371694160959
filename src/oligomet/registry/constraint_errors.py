"""Turn a database constraint error of an import into problems that name table, row, patient and value.

Validation catches nearly everything before the store is touched; what is left for the database
is what only the store knows, above all an id already stored for a patient of another import (a
lesion or treatment id two sites both use). The driver names at best a table, a column and one
value (SQLite: ``UNIQUE constraint failed: lesions.lesion_id``; a foreign-key error names
nothing), so the offending source rows are looked up here, after the rollback.
"""
from __future__ import annotations

import re

import pandas as pd
import sqlalchemy as sa

from .fields import TABLES
from .report import ProblemLog, ValidationReport
from .schema import registry_tables

_PG_KINDS = {"23505": "unique", "23502": "not_null", "23503": "foreign_key"}
_RULE = "store_constraint"
_REFUSED = "the database refused the import (nothing was written): "


def _driver_text(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def _parse(exc: Exception) -> tuple[str, str | None, list[str]]:
    """(kind, table, columns) of the violated constraint, as far as the driver tells."""
    orig = getattr(exc, "orig", None) or exc
    diag, code = getattr(orig, "diag", None), getattr(orig, "pgcode", None)
    if diag is not None and code:
        detail = diag.message_detail or ""
        m = re.match(r"Key \((.+?)\)=", detail)
        cols = [c.strip().strip('"') for c in m.group(1).split(",")] if m else (
            [diag.column_name] if diag.column_name else [])
        if "still referenced" in detail:  # a DELETE of a parent row another patient's row points to
            return "referenced", diag.table_name, cols
        return _PG_KINDS.get(code, "other"), diag.table_name, cols
    text = _driver_text(exc)
    m = re.search(r"(UNIQUE|NOT NULL) constraint failed: (.+)$", text)
    if m:
        pairs = [part.strip().split(".", 1) for part in m.group(2).split(",")]
        return ("unique" if m.group(1) == "UNIQUE" else "not_null"), pairs[0][0], [c for _, c in pairs]
    if "FOREIGN KEY constraint failed" in text:
        return "foreign_key", None, []
    return "other", None, []


def _patients_of(tables: dict[str, pd.DataFrame], name: str, frame: pd.DataFrame) -> pd.Series:
    if "patient_id" in frame:
        return frame["patient_id"]
    owner = tables["treatments"].set_index("treatment_id")["patient_id"]  # complications
    return frame["treatment_id"].map(owner)


def _stored(conn, table: str, cols: list[str]) -> pd.DataFrame:
    t = registry_tables[table]
    extra = ["patient_id"] if "patient_id" in t.c and "patient_id" not in cols else []
    return pd.DataFrame(conn.execute(sa.select(*[t.c[c] for c in cols + extra])).all(), columns=cols + extra)


def _replaced(tables, conn) -> set:
    """Ids of the stored patients the import replaces: its ids, stored for the same site."""
    incoming = tables["patients"][["patient_id", "site"]]
    stored = _stored(conn, "patients", ["patient_id", "site"])
    return set(incoming.merge(stored, on=["patient_id", "site"])["patient_id"])


def _unique(log, tables, conn, table, cols, driver) -> None:
    frame = tables[table]
    key = frame[cols].astype(str).agg("\x1f".join, axis=1)
    patients = _patients_of(tables, table, frame)
    twice = frame.duplicated(cols, keep=False)
    stored = _stored(conn, table, cols)
    if "patient_id" in stored:  # a replaced patient's own rows were to be deleted first
        stored = stored[~stored["patient_id"].isin(_replaced(tables, conn))]
    owner = dict(zip(stored[cols].astype(str).agg("\x1f".join, axis=1),
                     stored["patient_id"] if "patient_id" in stored else [None] * len(stored)))
    in_store = key.isin(owner.keys())
    label = ", ".join(cols)
    stored_for = "already stored for patient " + key.map(owner).astype(str) + f" (another import); {label} " \
                 "must be unique in the whole store"
    for bad, why in ((twice, pd.Series(f"{label} appears more than once in the source", index=frame.index)),
                     (in_store & ~twice, stored_for)):
        if bad.any():
            log.error(table, _RULE, (_REFUSED + why[bad] + f" ({driver})").reset_index(drop=True),
                      rows=frame.index[bad].to_numpy(), patient_id=patients[bad].to_numpy(), field=cols[0],
                      value=frame.loc[bad, cols[0]])


def _not_null(log, tables, table, cols, driver) -> None:
    frame = tables[table]
    for col in cols:
        bad = frame[col].isna()
        if bad.any():
            log.error(table, _RULE, _REFUSED + f"{col} is empty "
                                    f"({driver})", rows=frame.index[bad].to_numpy(),
                      patient_id=_patients_of(tables, table, frame)[bad].to_numpy(), field=col,
                      value=frame.loc[bad, col])


def _foreign_key(log, tables, conn, table, driver) -> None:
    names = [table] if table in TABLES else list(TABLES)
    for name in names:
        frame = tables[name]
        for col, target in TABLES[name].references.items():
            parent, parent_col = target.split(".")
            known = set(tables[parent][parent_col]) | set(_stored(conn, parent, [parent_col])[parent_col])
            bad = frame[col].notna() & ~frame[col].isin(known)
            if bad.any():
                log.error(name, _RULE, _REFUSED + f"{col} refers to "
                                       f"no {parent} row in the source or the store ({driver})",
                          rows=frame.index[bad].to_numpy(), patient_id=_patients_of(tables, name, frame)[bad]
                          .to_numpy(), field=col, value=frame.loc[bad, col])


def constraint_problems(exc: Exception, tables: dict[str, pd.DataFrame], conn) -> ValidationReport:
    """``store_constraint`` errors for the source rows behind ``exc`` (one per row found; else one
    problem with the driver's text and whatever table, field and value it names)."""
    kind, table, cols = _parse(exc)
    driver = _driver_text(exc)
    log = ProblemLog()
    known = table in TABLES and all(c in tables[table] for c in cols)
    if kind == "unique" and known and cols:
        _unique(log, tables, conn, table, cols, driver)
    elif kind == "not_null" and known and cols:
        _not_null(log, tables, table, cols, driver)
    elif kind == "foreign_key":
        _foreign_key(log, tables, conn, table, driver)
    report = log.report()
    if len(report.problems):
        return report
    orig = getattr(exc, "orig", None) or exc
    detail = getattr(getattr(orig, "diag", None), "message_detail", None)
    value = re.search(r"\)=\((.*)\)", detail or "")
    log.error(table if table in TABLES else "store", _RULE, _REFUSED + driver
              + (f" ({detail})" if detail else ""), field=cols[0] if cols else None,
              value=value.group(1) if value else None)
    return log.report()
