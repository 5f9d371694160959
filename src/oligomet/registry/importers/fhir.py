"""HL7 FHIR R4 Bundles following the mCODE profiles -> registry tables (issue 15 part 5).

A source is one Bundle (``.json``) or a folder of them. Every entry's resource is parsed with
``fhir.resources`` (its R4B models read R4 content: the resources used here did not change), so a
value that breaks FHIR's own rules (a date such as ``2019-13-01``) is an error naming the entry. What
is read (``docs/registry.md``, "FHIR / mCODE"):

* ``Patient`` -> ``patients``: ``id`` (a pseudonym: the bundle must not carry the hospital's
  number as the id), ``gender``, the year of ``birthDate`` (the date itself is never kept),
  ``deceasedDateTime``, ``managingOrganization`` -> ``Organization.name`` as the site;
* the primary cancer condition -> ``primary_site``, ``histology``, ``primary_sidedness`` and
  ``primary_diagnosis_date``; a surgical procedure whose ``reasonReference`` is the primary
  condition -> ``primary_resection_date``;
* each secondary cancer condition -> one ``lesions`` row (``Condition.id``, organ from ``bodySite``
  or the code, ``onsetDateTime``); its diameter from a Tumor Size observation whose ``focus`` is
  the condition or a Tumor ``BodyStructure`` related to it;
* surgical procedures (resection, RFA / MWA / cryoablation) and radiotherapy course summaries
  (SABR when the technique says stereotactic) -> ``treatments``; the lesions treated are the
  secondary conditions in ``reasonReference``; intent from the mCODE procedure-intent extension;
* ECOG (LOINC 89247-1) -> ``patients.ecog``: the score nearest in time to the first metastasis;
* CEA (2039-6) and CA 19-9 (24108-3) -> ``labs``;
* ``last_contact_date``: the death date, else the latest date of any of the patient's resources.

Direct identifiers (``Patient.name``, ``identifier``, ``telecom``, ``address``, ``contact``,
``photo``) are never stored: without an identifier key each is a ``direct_identifier`` error naming
the entry (and its value is not shown); with a key the first four become the keyed pseudonym.

Problems of the registry rules are told in the bundle's terms by :func:`in_fhir_terms`:
``bundle.json entry[3] (urn:uuid:...) Condition.onsetDateTime -> lesions.detection_date: ...``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..fields import TABLE_ORDER
from ..report import PROBLEM_COLUMNS, ProblemLog, ValidationReport
from .fhir_bundle import Entry, _Index, _entries, bundle_files, looks_like_fhir
from .fhir_mcode import _Reader
from .tabular import RawTables

__all__ = ["read_fhir", "check_fhir", "in_fhir_terms", "looks_like_fhir", "bundle_files"]


@dataclass
class Origins:
    """Per table and row (1..n): where each field's value came from (``file entry[i] (url) Path``)."""

    where: dict[str, pd.DataFrame] = field(default_factory=dict)   # table -> columns: fields + "_row", "_entry"


def read_fhir(path: Path, log: ProblemLog, *, identifier_key: bytes | None = None, site: str | None = None,
              ) -> tuple[RawTables, Origins]:
    """Read a bundle (or a folder of bundles) into raw registry tables, every problem in the log."""
    entries: list[Entry] = []
    invalid: set[str] = set()
    for f in bundle_files(path):
        entries += _entries(f, log, invalid)
    index = _Index(entries, invalid)
    reader = _Reader(index, log, identifier_key is not None, site)
    tables = reader.read()
    raw: RawTables = {}
    origins = Origins()
    for name in TABLE_ORDER:
        t = tables.get(name)
        if t is None or (not t.values and name != "patients"):
            continue
        positions = np.arange(1, len(t.values) + 1)
        frame = pd.DataFrame(t.values, index=range(len(t.values)), dtype=object)
        raw[name] = (frame.reset_index(drop=True), positions)
        origins.where[name] = pd.DataFrame(t.where, dtype=object).set_axis(positions)
    if not entries or not any(e.type == "Patient" for e in entries):
        log.error("patients", "missing_table", f"no Patient resource in {path.name}; an mCODE bundle holds one "
                                               "Patient entry per patient")
    return raw, origins


def in_fhir_terms(report: ValidationReport, origins: Origins) -> ValidationReport:
    """Registry problems told in the bundle's terms: the entry, its fullUrl, the FHIR element, then
    ``-> table.field``; ``row`` becomes the entry's index in its bundle."""
    p = report.problems
    if p.empty:
        return report
    msgs = p["message"].to_numpy(dtype=object).copy()
    rows = p["row"].to_numpy(dtype=object).copy()
    for i, (t, r, fld, rule) in enumerate(zip(p["table"], p["row"], p["field"], p["rule"])):
        where = origins.where.get(t)
        if where is None or not isinstance(r, (int, np.integer)) or r not in where.index:
            continue
        rows[i] = int(where.at[r, "_entry"])
        if rule.startswith("fhir_"):
            continue   # the importer's own problems already name the entry and element
        at = where.at[r, fld] if fld in where.columns and isinstance(where.at[r, fld], str) else where.at[r, "_row"]
        msgs[i] = f"{at}{f' -> {t}.{fld}' if fld else ''}: {msgs[i]}"
    out = p.copy()
    out["message"], out["row"] = msgs, rows
    from ..rules.ids import redact, redacted

    return redact(ValidationReport(out[list(PROBLEM_COLUMNS)]), redacted(report))


def check_fhir(path, *, data_lock=None, identifier_key=None, site: str | None = None,
               ) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Read a bundle (or folder of bundles) and validate it; every problem in the bundle's terms."""
    from ..identifiers import normalise_key
    from ..io import conform_tables
    from ..validate import combine, validate

    key = normalise_key(identifier_key)
    log = ProblemLog()
    raw, origins = read_fhir(Path(path), log, identifier_key=key, site=site)
    tables = conform_tables(raw, log, key=key)
    report = combine(log.report(), validate(tables, data_lock=data_lock))
    return tables, in_fhir_terms(report, origins)

