"""Several hospitals in one registry: the site of an import, and site-namespaced ids.

An import with a site (``Store.import_registry(..., site="Rotterdam")``, ``oligomet registry import
DIR --site Rotterdam``) is that hospital's whole export:

* :func:`assign_site` gives every patient of the source the site: an empty or absent ``site``
  column is filled, a value that names another hospital is an error (``site_mismatch``), since the
  export and the command line disagree on whose data this is;
* :func:`namespace_ids` then prefixes every id of the source with ``"<site>:"`` (``patient_id``,
  ``lesion_id``, ``treatment_id`` and each id of ``treatments.lesion_ids``), so that two hospitals'
  ``17`` are stored as ``Rotterdam:17`` and ``Leuven:17`` and never collide. Ids are prefixed after
  validation, so that every problem names the id as the hospital wrote it.

A site name may not contain ``:`` (the separator: ``Rotterdam:17`` splits at its first colon, so
a source id may itself contain colons), control characters or surrounding spaces, and has at most
:data:`MAX_SITE_LENGTH` characters (ids stay far below PostgreSQL's index-entry limit).
"""
from __future__ import annotations

import re

import pandas as pd

from .fields import TABLE_ORDER
from .report import ProblemLog, ValidationReport
from .rules.ids import ID_FIELDS, LIST_FIELDS, redact, redacted

SEPARATOR = ":"
MAX_SITE_LENGTH = 64
_BAD_SITE = re.compile(r"[:\x00-\x1f\x7f]")


def check_site_name(site) -> str:
    """``site`` as given, or ValueError saying what a site name may hold."""
    if not isinstance(site, str) or not site.strip():
        raise ValueError("a site name is a non-empty text, e.g. --site Rotterdam")
    if site != site.strip():
        raise ValueError(f"site name {site!r} has spaces at its start or end; write {site.strip()!r}")
    if _BAD_SITE.search(site):
        raise ValueError(f"site name {site!r} may not contain ':' (it separates the site from the patient id "
                         "in the stored ids, e.g. Rotterdam:17) or control characters")
    if len(site) > MAX_SITE_LENGTH:
        raise ValueError(f"site name {site[:20]!r}... has {len(site)} characters; at most {MAX_SITE_LENGTH}")
    return site


def prefix(site: str) -> str:
    return f"{site}{SEPARATOR}"


def assign_site(tables: dict[str, pd.DataFrame], site: str, read_report: ValidationReport) -> ValidationReport:
    """Give the source's patients ``site`` (in place). Returns ``read_report`` with a ``site_mismatch``
    error per patient whose ``site`` names another hospital, and without the ``missing_column``
    error of ``patients.site`` (with a site given, the export need not have that column)."""
    log = ProblemLog()
    patients = tables["patients"]
    given = patients["site"]
    other = given.notna() & (given.astype(object) != site)
    if other.any():
        bad = patients[other]
        log.error("patients", "site_mismatch",
                  ("the export says site " + bad["site"].astype(str).map(repr) + f", the import is for site "
                   f"{site!r}: correct --site, or the export's site column (or drop it: the site is then "
                   f"{site!r} for every patient)").reset_index(drop=True),
                  rows=bad.index.to_numpy(), patient_id=bad["patient_id"].to_numpy(), field="site",
                  value=bad["site"].reset_index(drop=True))
    patients["site"] = given.astype(object).where(given.notna() & ~other, site)
    p = read_report.problems
    absent = (p["table"] == "patients") & (p["field"] == "site") & (p["rule"] == "missing_column")
    kept = ValidationReport(p[~absent].reset_index(drop=True)) + log.report()
    return redact(kept, redacted(read_report))   # identifier values masked by the reader stay masked


def namespace_ids(tables: dict[str, pd.DataFrame], site: str) -> dict[str, pd.DataFrame]:
    """A copy of ``tables`` with every id prefixed ``"<site>:"`` (missing ids stay missing)."""
    head = prefix(site)
    out = {}
    for name in TABLE_ORDER:
        frame = tables[name].copy()
        for f in ID_FIELDS[name]:
            frame[f] = _prefixed(frame[f], head)
        for f in LIST_FIELDS[name]:
            # parsed lists are ";"-joined without spaces (parse.py): prefix the first id and each after a ";"
            col = frame[f]
            joined = col.astype(object).where(col.isna(), head + col.astype(str).str.replace(
                ";", ";" + head, regex=False))
            frame[f] = joined.astype(object).where(col.notna(), None)
        out[name] = frame
    return out


def _prefixed(col: pd.Series, head: str) -> pd.Series:
    present = col.notna()
    return (head + col.astype(str)).astype(object).where(present, None)

