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

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..fields import TABLE_ORDER, TABLES
from ..report import PROBLEM_COLUMNS, ProblemLog, ValidationReport
from . import fhir_codes as C
from .tabular import RawTables


def looks_like_fhir(path: Path) -> bool:
    """A ``.json`` file, or a folder holding ``.json`` files and no ``.csv`` (a folder of bundles)."""
    if path.is_dir():
        files = list(path.iterdir())
        return any(p.suffix.lower() == ".json" for p in files) and not any(p.suffix.lower() == ".csv" for p in files)
    return path.suffix.lower() == ".json"


def bundle_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".json") if path.is_dir() \
        else [path]


@dataclass
class Entry:
    """One bundle entry: where it is (for every message) and its parsed resource."""

    file: str
    index: int
    full_url: str | None
    type: str
    resource: Any

    @property
    def id(self) -> str | None:
        return getattr(self.resource, "id", None)

    def at(self, path: str = "") -> str:
        ref = self.full_url or f"{self.type}/{self.id}"
        return f"{self.file} entry[{self.index}] ({ref}){' ' + path if path else ''}"

    def profiles(self) -> list[str]:
        meta = getattr(self.resource, "meta", None)
        return [str(p) for p in (getattr(meta, "profile", None) or [])]

    def has_profile(self, *names: str) -> bool:
        return any(p.rstrip("/").rsplit("/", 1)[-1] in names for p in self.profiles())


@dataclass
class Origins:
    """Per table and row (1..n): where each field's value came from (``file entry[i] (url) Path``)."""

    where: dict[str, pd.DataFrame] = field(default_factory=dict)   # table -> columns: fields + "_row", "_entry"


class _Table:
    def __init__(self) -> None:
        self.values: list[dict] = []
        self.where: list[dict] = []

    def add(self, entry: Entry, values: dict, where: dict[str, str]) -> int:
        self.values.append(values)
        self.where.append({**where, "_row": entry.at(), "_entry": entry.index})
        return len(self.values) - 1


# ----------------------------------------------------------------------------------------- reading
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


def _entries(path: Path, log: ProblemLog, invalid: set[str]) -> list[Entry]:
    """The bundle's entries with parsed resources; the references of resources that failed to parse go
    into ``invalid`` (what points at them is not reported again: their own error says it)."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        log.error("patients", "file_unreadable", f"cannot read {path.name}: {exc}")
        return []
    except json.JSONDecodeError as exc:
        log.error("patients", "file_unreadable", f"{path.name} is not JSON: {exc.msg} at line {exc.lineno} "
                                                 f"column {exc.colno}; fix the file (or export the bundle again)")
        return []
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        kind = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        log.error("patients", "file_unreadable", f"{path.name} is a {kind!r}, not a FHIR Bundle; export the "
                                                 "patients' data as a Bundle (type collection or transaction)")
        return []
    out = []
    for i, item in enumerate(data.get("entry") or []):
        res = item.get("resource") if isinstance(item, dict) else None
        url = item.get("fullUrl") if isinstance(item, dict) else None
        rtype = res.get("resourceType") if isinstance(res, dict) else None
        where = f"{path.name} entry[{i}]{f' ({url})' if url else ''}"
        if not rtype:
            log.error("patients", "fhir_invalid", f"{where} has no resource with a resourceType; remove the entry "
                                                  "or give its resource")
            continue
        try:
            model = get_fhir_model_class(rtype)
        except (KeyError, ValueError):
            log.warning("patients", "fhir_not_read", f"{where}: {rtype!r} is not a FHIR R4 resource type; ignored")
            continue
        try:
            resource = model.model_validate(res)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(x) for x in err["loc"] if x != "__root__")
                log.error(_table_of(rtype), "fhir_invalid",
                          f"{where} {rtype}.{loc}: {err['msg']} (value {_show(err.get('input'))}); "
                          "the resource was not read: correct the value to FHIR R4", field=loc or None)
            invalid.update(x for x in (url, f"{rtype}/{res.get('id')}") if x)
            continue
        out.append(Entry(path.name, i, url, rtype, resource))
    return out


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _table_of(rtype: str) -> str:
    return {"Patient": "patients", "Condition": "lesions", "Procedure": "treatments",
            "Observation": "labs"}.get(rtype, "patients")


class _Index:
    """Resolve references (``Patient/p1``, ``urn:uuid:...``, an absolute URL) to entries."""

    def __init__(self, entries: list[Entry], invalid: set[str] = frozenset()) -> None:
        self.entries = entries
        self.invalid = invalid
        self.by_ref: dict[str, Entry] = {}
        for e in entries:
            if e.full_url:
                self.by_ref[e.full_url] = e
            if e.id:
                self.by_ref.setdefault(f"{e.type}/{e.id}", e)

    def resolve(self, ref) -> Entry | None:
        text = getattr(ref, "reference", None) if ref is not None else None
        if not text:
            return None
        hit = self.by_ref.get(text)
        if hit is None and "/" in text:          # an absolute URL ending in Type/id
            hit = self.by_ref.get("/".join(text.rstrip("/").split("/")[-2:]))
        return hit

    def of_type(self, rtype: str) -> list[Entry]:
        return [e for e in self.entries if e.type == rtype]


# ------------------------------------------------------------------------------------------ values
def _date(value) -> str | None:
    """A FHIR date/dateTime as ISO ``YYYY-MM-DD`` (the date as written, whatever its time zone);
    a partial date (``2019``, ``2019-04``) stays as written so that the parser reports it."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _codings(concept) -> list:
    return list(getattr(concept, "coding", None) or []) if concept is not None else []


def _words(concept) -> str:
    parts = [getattr(concept, "text", None) or ""] + [c.display or "" for c in _codings(concept)]
    return " ".join(parts).lower()


def _first_code(concepts, system) -> str | None:
    systems = (system,) if isinstance(system, str) else system
    for concept in concepts:
        for c in _codings(concept):
            if c.system in systems and c.code:
                return str(c.code)
    return None


def _icd10(code: str, table: dict[str, str]) -> str | None:
    """Longest prefix of ``code`` in ``table`` (``C78.71`` -> ``C78.7``)."""
    code = code.upper()
    for k in sorted(table, key=len, reverse=True):
        if code.startswith(k):
            return table[k]
    return None


def _quantity(q, units: dict[str, float]) -> tuple[float | None, str | None]:
    """(value in the registry's unit, None) or (None, the unit that is not known)."""
    if q is None or q.value is None:
        return None, None
    unit = (q.code or q.unit or "").strip().lower()
    if unit not in units:
        return None, (q.code or q.unit or "(none)")
    return round(float(q.value) * units[unit], 9), None


def _extension(resource, name: str):
    for ext in getattr(resource, "extension", None) or []:
        if str(ext.url).rstrip("/").rsplit("/", 1)[-1] == name:
            return ext
    return None


def _sub_extensions(ext, name: str) -> list:
    return [e for e in (getattr(ext, "extension", None) or []) if str(e.url).rsplit("/", 1)[-1] == name]


def _performed(resource) -> tuple[str | None, str | None, str]:
    if getattr(resource, "performedDateTime", None) is not None:
        return _date(resource.performedDateTime), None, "Procedure.performedDateTime"
    period = getattr(resource, "performedPeriod", None)
    if period is not None:
        return _date(period.start), _date(period.end), "Procedure.performedPeriod.start"
    return None, None, "Procedure.performed[x]"


def _effective(resource) -> tuple[str | None, str]:
    if getattr(resource, "effectiveDateTime", None) is not None:
        return _date(resource.effectiveDateTime), "Observation.effectiveDateTime"
    period = getattr(resource, "effectivePeriod", None)
    if period is not None:
        return _date(period.start), "Observation.effectivePeriod.start"
    return None, "Observation.effective[x]"


def _nearest(items: list[tuple[str | None, Any]], ref: str | None):
    """The item dated nearest to ``ref`` (ties: the earlier); the earliest when ``ref`` is None."""
    dated = [(d, x) for d, x in items if d is not None and len(d) == 10]
    if not dated:
        return items[0][1] if items else None
    if ref is None or len(ref) != 10:
        return min(dated, key=lambda t: t[0])[1]
    r = dt.date.fromisoformat(ref)
    return min(dated, key=lambda t: (abs((dt.date.fromisoformat(t[0]) - r).days), t[0]))[1]


# ------------------------------------------------------------------------------------------ reader
class _Reader:
    def __init__(self, index: _Index, log: ProblemLog, keyed: bool, site: str | None) -> None:
        self.ix, self.log, self.keyed, self.site = index, log, keyed, site
        self.tables = {name: _Table() for name in ("patients", "lesions", "treatments", "labs")}
        self.patient_of: dict[int, str] = {}          # id(entry) -> patient id
        self.dates: dict[str, list[str]] = {}         # patient id -> every date of their resources
        self.primary: dict[str, list[Entry]] = {}
        self.secondary: dict[int, Entry] = {}         # id(condition entry) -> entry
        self.not_read_codes: dict[tuple[str, str | None], list[Entry]] = {}

    def read(self) -> dict[str, _Table]:
        rows = [i for i in map(self._patient, self.ix.of_type("Patient")) if i is not None]
        self._conditions()
        self._lesions()
        self._procedures()
        self._observations()
        self._not_read()
        for i in rows:
            row, where = self.tables["patients"].values[i], self.tables["patients"].where[i]
            self._primary_fields(row["patient_id"], row, where, i + 1)
            dates = [d for d in self.dates.get(row["patient_id"], []) if d and len(d) == 10]
            if row.get("death_date"):
                row["last_contact_date"] = row["death_date"]
            elif dates:
                row["last_contact_date"] = max(dates)
        return self.tables

    # -- subjects
    def _subject(self, e: Entry, ref, path: str) -> str | None:
        target = self.ix.resolve(ref)
        if target is None or target.type != "Patient" or id(target) not in self.patient_of:
            shown = getattr(ref, "reference", None) if ref is not None else None
            if shown in self.ix.invalid:
                return None     # the patient's own fhir_invalid error says why it was not read
            self.log.error(_table_of(e.type), "fhir_reference",
                           f"{e.at(path)} is {shown!r}, which is no Patient of the bundle(s); the {e.type} was not "
                           "read. Put the patient's Patient resource in the bundle, or correct the reference")
            return None
        pid = self.patient_of[id(target)]
        return pid

    def _dated(self, pid: str, *dates: str | None) -> None:
        self.dates.setdefault(pid, []).extend(d for d in dates if d)

    # -- Patient
    def _patient(self, e: Entry) -> int | None:
        p = e.resource
        if not p.id:
            self.log.error("patients", "fhir_invalid", f"{e.at('Patient.id')} is empty; the patient id of the "
                                                       "registry is the Patient's (pseudonymised) id")
            return None
        self.patient_of[id(e)] = p.id
        values = {"patient_id": p.id, "sex": p.gender, "birth_year": None, "death_date": None}
        where = {"patient_id": e.at("Patient.id"), "sex": e.at("Patient.gender"),
                 "birth_year": e.at("Patient.birthDate"), "death_date": e.at("Patient.deceasedDateTime"),
                 "site": e.at("Patient.managingOrganization"),
                 "last_contact_date": e.at("(latest date of the patient's resources, or the death date)")}
        if p.birthDate is not None:
            values["birth_year"] = _date(p.birthDate)[:4]   # the year only: a birth date identifies
        if p.deceasedDateTime is not None:
            values["death_date"] = _date(p.deceasedDateTime)
        elif p.deceasedBoolean:
            self.log.warning("patients", "fhir_death_without_date",
                             f"{e.at('Patient.deceasedBoolean')} says the patient died but gives no date; the "
                             "death is not recorded. Give Patient.deceasedDateTime", patient_id=p.id,
                             field="death_date")
        org = self.ix.resolve(p.managingOrganization)
        values["site"] = (getattr(org.resource, "name", None) if org is not None and org.type == "Organization"
                          else None) or self.site
        for element, column in C.PATIENT_IDENTIFIERS.items():
            given = getattr(p, element, None)
            if not given:
                continue
            if not self.keyed:
                self.log.error("patients", "direct_identifier",
                               f"{e.at('Patient.' + element)} identifies the person and is never stored; remove it "
                               "from the export (the Patient id must be a pseudonym), or pass an identifier key to "
                               "store a keyed hash (pseudonym) instead", patient_id=p.id, field=element)
            elif column is not None:
                values[column] = _identifier_text(given)
                where[column] = e.at("Patient." + element)
            else:
                self.log.warning("patients", "fhir_identifier_dropped",
                                 f"{e.at('Patient.' + element)} identifies the person: dropped, not stored",
                                 patient_id=p.id, field=element)
        self._dated(p.id, values["death_date"])
        return self.tables["patients"].add(e, values, where)

    # -- Conditions
    def _conditions(self) -> None:
        for e in self.ix.of_type("Condition"):
            kind = self._condition_kind(e)
            if kind is None:
                continue
            pid = self._subject(e, e.resource.subject, "Condition.subject")
            if pid is None:
                continue
            self.patient_of[id(e)] = pid
            if kind == "primary":
                self.primary.setdefault(pid, []).append(e)
            else:
                self.secondary[id(e)] = e

    def _condition_kind(self, e: Entry) -> str | None:
        if e.has_profile(C.PRIMARY_PROFILE):
            return "primary"
        if e.has_profile(C.SECONDARY_PROFILE):
            return "secondary"
        code = e.resource.code
        icd = _first_code([code], C.ICD10)
        sct = _first_code([code], C.SNOMED)
        if (icd and _icd10(icd, C.ICD10_SECONDARY)) or sct in C.SNOMED_SECONDARY:
            return "secondary"
        if (icd and icd.upper().startswith("C")) or sct in C.SNOMED_PRIMARY:
            return "primary"
        self.log.warning("patients", "fhir_not_read",
                         f"{e.at('Condition.code')}: not an mCODE primary or secondary cancer condition (no mCODE "
                         "profile, and its code is no cancer code the importer knows); ignored")
        return None

    def _primary_fields(self, pid: str, row: dict, where: dict, position: int) -> None:
        found = self.primary.get(pid, [])
        if not found:
            self.log.error("patients", "fhir_missing_primary",
                           f"{where['_row']}: the patient has no primary cancer condition (mCODE "
                           "PrimaryCancerCondition); give one, with its code and onsetDateTime", patient_id=pid,
                           field="primary_site")
            return
        found.sort(key=lambda e: _date(e.resource.onsetDateTime) or "9999")
        e = found[0]
        for other in found[1:]:
            self.log.warning("patients", "fhir_second_primary",
                             f"{other.at()} is a second primary cancer condition of patient {pid}; the registry holds "
                             f"one primary (the earliest, {e.at()}), so this one is not read", patient_id=pid)
        c = e.resource
        row["primary_site"] = self._primary_site(e, pid, position)
        where["primary_site"] = e.at("Condition.code")
        icd = _first_code([c.code], C.ICD10)
        if icd and row["primary_site"] == "colorectal":
            row["primary_sidedness"] = _icd10(icd, C.ICD10_SIDE)
            where["primary_sidedness"] = e.at("Condition.code")
        hist = _extension(c, "mcode-histology-morphology-behavior")
        if hist is not None and hist.valueCodeableConcept is not None:
            concept = hist.valueCodeableConcept
            row["histology"] = concept.text or next((x.display for x in _codings(concept) if x.display), None)
            where["histology"] = e.at("Condition.extension[histologyMorphologyBehavior]")
        if c.onsetDateTime is not None:
            row["primary_diagnosis_date"], path = _date(c.onsetDateTime), "Condition.onsetDateTime"
        else:
            row["primary_diagnosis_date"], path = _date(c.recordedDate), "Condition.recordedDate"
        where["primary_diagnosis_date"] = e.at(path)
        self._dated(pid, row["primary_diagnosis_date"])
        ecog = self.ecog.get(pid)
        if ecog:
            first_met = min((r["detection_date"] for r in self.tables["lesions"].values
                             if r["patient_id"] == pid and r["detection_date"]), default=None)
            value, oe, path = _nearest([(d, (v, oe, p)) for d, v, oe, p in ecog],
                                       first_met or row["primary_diagnosis_date"])
            row["ecog"], where["ecog"] = value, oe.at(path)
        resection = self.primary_resection.get(pid)
        if resection:
            date, pe, path = min(resection, key=lambda t: t[0] or "9999")
            row["primary_resection_date"], where["primary_resection_date"] = date, pe.at(path)

    def _primary_site(self, e: Entry, pid: str, position: int) -> str | None:
        code = e.resource.code
        icd = _first_code([code], C.ICD10)
        if icd:
            return _icd10(icd, C.ICD10_PRIMARY) or ("other" if icd.upper().startswith("C") else None)
        sct = _first_code([code], C.SNOMED)
        if sct in C.SNOMED_PRIMARY:
            return C.SNOMED_PRIMARY[sct]
        shown = ", ".join(f"{x.system}|{x.code}" for x in _codings(code)) or "(no coding)"
        self.log.error("patients", "fhir_code",
                       f"{e.at('Condition.code')} {shown}: the importer does not know this primary cancer code; "
                       "add an ICD-10-CM coding (C18-C20 colorectal, C34 lung, C50 breast, ...) to Condition.code",
                       rows=[position], patient_id=[pid], field="primary_site")
        return None

    def _lesions(self) -> None:
        sizes = self._tumour_sizes()
        for e in self.secondary.values():
            c, pid = e.resource, self.patient_of[id(e)]
            organ, path = self._organ(e, pid, len(self.tables["lesions"].values) + 1)
            detected = _date(c.onsetDateTime) if c.onsetDateTime is not None else _date(c.recordedDate)
            values = {"lesion_id": c.id, "patient_id": pid, "organ": organ, "detection_date": detected,
                      "diameter_mm": None}
            where = {"lesion_id": e.at("Condition.id"), "patient_id": e.at("Condition.subject"),
                     "organ": e.at(path), "detection_date": e.at("Condition.onsetDateTime"),
                     "diameter_mm": e.at("(no Tumor Size observation)")}
            measured = sizes.get(id(e))
            if measured:
                value, oe, where_size = _nearest([(d, (v, oe, p)) for d, v, oe, p in measured], detected)
                values["diameter_mm"], where["diameter_mm"] = value, oe.at(where_size)
            self._dated(pid, detected)
            self.tables["lesions"].add(e, values, where)

    def _organ(self, e: Entry, pid: str, position: int) -> tuple[str | None, str]:
        c = e.resource
        site = _first_code(c.bodySite or [], C.SNOMED)
        if site in C.SNOMED_SITE:
            return C.SNOMED_SITE[site], "Condition.bodySite"
        icd = _first_code([c.code], C.ICD10)
        organ = _icd10(icd, C.ICD10_SECONDARY) if icd else None
        organ = organ or C.SNOMED_SECONDARY.get(_first_code([c.code], C.SNOMED) or "")
        if organ is None:
            shown = ", ".join(f"{x.system}|{x.code}" for x in _codings(c.code) + [
                y for b in (c.bodySite or []) for y in _codings(b)]) or "(no coding)"
            self.log.error("lesions", "fhir_code",
                           f"{e.at('Condition.bodySite')} {shown}: cannot tell the organ of this metastasis; give "
                           "Condition.bodySite in SNOMED CT (liver 10200004, lung 39607008, peritoneum 15425007, "
                           "bone 272673000, brain 12738006, lymph node 59441001, adrenal 23451007) or an ICD-10 "
                           "C77-C79 code", rows=[position], patient_id=[pid], field="organ")
        return organ, "Condition.bodySite" if c.bodySite else "Condition.code"

    def _tumour_sizes(self) -> dict[int, list]:
        """{id(secondary condition entry): [(date, mm, entry, path)]} from Tumor Size observations."""
        out: dict[int, list] = {}
        for e in self.ix.of_type("Observation"):
            o = e.resource
            if _first_code([o.code], C.LOINC) != C.TUMOR_SIZE:
                continue
            conditions = []
            for ref in o.focus or []:
                target = self.ix.resolve(ref)
                if target is not None and target.type == "BodyStructure":
                    rel = _extension(target.resource, "mcode-related-condition")
                    target = self.ix.resolve(getattr(rel, "valueReference", None)) if rel is not None else None
                if target is not None and id(target) in self.secondary:
                    conditions.append(target)
            if not conditions:
                continue   # the size of a primary tumour: not a registry field
            q, path = o.valueQuantity, "Observation.valueQuantity"
            for i, comp in enumerate(o.component or []):
                if _first_code([comp.code], C.LOINC) == C.LONGEST_DIMENSION:
                    q, path = comp.valueQuantity, f"Observation.component[{i}].valueQuantity"
            value, bad = _quantity(q, C.SIZE_UNITS)
            if bad is not None:
                self.log.error("lesions", "fhir_unit", f"{e.at(path)}: unit {bad!r} is not a length the importer "
                                                       "converts; give the size in mm or cm", field="diameter_mm")
                continue
            date, _ = _effective(o)
            for target in conditions:
                out.setdefault(id(target), []).append((date, value, e, path))
        return out

    # -- Procedures
    def _procedures(self) -> None:
        self.primary_resection: dict[str, list] = {}
        for e in self.ix.of_type("Procedure"):
            p = e.resource
            if p.status in ("entered-in-error", "not-done"):
                self.log.warning("treatments", "fhir_not_read", f"{e.at('Procedure.status')} is {p.status!r}; "
                                                                "the procedure is not read")
                continue
            radio = e.has_profile(*C.RADIOTHERAPY_PROFILES) or \
                _first_code([p.code], C.SNOMED) == C.RADIOTHERAPY_COURSE
            modality = "radiotherapy" if radio else self._surgical_modality(e)
            if modality is None:
                continue
            pid = self._subject(e, p.subject, "Procedure.subject")
            if pid is None:
                continue
            start, end, path = _performed(p)
            self._dated(pid, start, end)
            targets = [self.ix.resolve(r) for r in p.reasonReference or []]
            lesions = [t for t in targets if t is not None and id(t) in self.secondary]
            if any(t is not None and t in self.primary.get(pid, []) for t in targets) and modality == "resection":
                self.primary_resection.setdefault(pid, []).append((start, e, path))
                if not lesions:
                    continue
            values = {"treatment_id": p.id, "patient_id": pid,
                      "lesion_ids": ";".join(t.id for t in lesions) or None, "start_date": start, "end_date": end,
                      "intent": self._intent(e)}
            where = {"treatment_id": e.at("Procedure.id"), "patient_id": e.at("Procedure.subject"),
                     "lesion_ids": e.at("Procedure.reasonReference"), "start_date": e.at(path),
                     "end_date": e.at("Procedure.performedPeriod.end"), "modality": e.at("Procedure.code"),
                     "intent": e.at("Procedure.extension[procedureIntent]")}
            if modality == "radiotherapy":
                self._radiotherapy(e, values, where)
            else:
                values["modality"] = modality
            self.tables["treatments"].add(e, values, where)

    def _surgical_modality(self, e: Entry) -> str | None:
        code = e.resource.code
        sct = _first_code([code], C.SNOMED)
        words = _words(code)
        if sct in C.SNOMED_ABLATION:
            return C.SNOMED_ABLATION[sct]
        for word, modality in C.ABLATION_WORDS.items():
            if word in words.split() or (len(word) > 4 and word in words):
                return modality
        if sct in C.SNOMED_RESECTION or any(w in words for w in C.RESECTION_WORDS):
            return "resection"
        what = "an mCODE cancer-related surgical procedure" if e.has_profile(C.SURGERY_PROFILE) else "a procedure"
        self.log.warning("treatments", "fhir_not_read",
                         f"{e.at('Procedure.code')}: {what} that is neither a resection nor an ablation the importer "
                         f"knows ({_show(words.strip() or sct)}); not read as a treatment")
        return None

    def _intent(self, e: Entry) -> str | None:
        ext = _extension(e.resource, "mcode-procedure-intent")
        concept = getattr(ext, "valueCodeableConcept", None) if ext is not None else None
        if concept is None:
            return None
        sct = _first_code([concept], C.SNOMED)
        if sct in C.INTENT:
            return C.INTENT[sct]
        return concept.text   # parsed as a registry code (curative, palliative, ...), or reported

    def _radiotherapy(self, e: Entry, values: dict, where: dict) -> None:
        p = e.resource
        techniques = [t.valueCodeableConcept for mt in _all_extensions(p, "mcode-radiotherapy-modality-and-technique")
                      for t in _sub_extensions(mt, "mcode-radiotherapy-technique") + _sub_extensions(mt, "technique")]
        text = " ".join(_words(t) for t in techniques) + " " + _words(p.code)
        stereotactic = any(w in text for w in C.STEREOTACTIC_WORDS)
        values["modality"] = "sabr" if stereotactic else "other"
        where["modality"] = e.at("Procedure.extension[modalityAndTechnique]")
        if not stereotactic:
            self.log.warning("treatments", "fhir_radiotherapy_not_sabr",
                             f"{e.at('Procedure.extension[modalityAndTechnique]')}: no stereotactic technique, so "
                             "the course is recorded with modality 'other'; if it was SABR, say so in the technique "
                             "(text 'Stereotactic body radiation therapy')", patient_id=values["patient_id"],
                             field="modality")
        volumes = _all_extensions(p, "mcode-radiotherapy-dose-delivered-to-volume")
        doses = []
        for i, v in enumerate(volumes):
            dose = next((x.valueQuantity for x in _sub_extensions(v, "totalDoseDelivered")), None)
            fx = next((x.valueUnsignedInt for x in _sub_extensions(v, "fractionsDelivered")), None)
            gy, bad = _quantity(dose, C.DOSE_UNITS)
            path = f"Procedure.extension[doseDeliveredToVolume][{i}]"
            if bad is not None:
                self.log.error("treatments", "fhir_unit", f"{e.at(path)}.totalDoseDelivered: unit {bad!r} is not a "
                                                          "dose unit; give cGy or Gy", field="dose_gy")
            doses.append((gy, fx, path))
        if doses:
            gy, fx, path = doses[0]
            if len({(d, f) for d, f, _ in doses}) > 1:
                self.log.warning("treatments", "fhir_several_doses",
                                 f"{e.at('Procedure.extension[doseDeliveredToVolume]')}: volumes with different doses; "
                                 "the registry holds one dose per treatment: the first volume's is kept. Record one "
                                 "course (Procedure) per lesion", patient_id=values["patient_id"], field="dose_gy")
            values["dose_gy"], values["fractions"] = gy, fx
            where["dose_gy"] = e.at(path + ".totalDoseDelivered")
            where["fractions"] = e.at(path + ".fractionsDelivered")
        else:
            sessions = _extension(p, "mcode-radiotherapy-sessions")
            values["fractions"] = getattr(sessions, "valueUnsignedInt", None) if sessions is not None else None
            where["fractions"] = e.at("Procedure.extension[actualNumberOfSessions]")

    # -- Observations
    def _observations(self) -> None:
        self.ecog: dict[str, list] = {}
        labs: dict[tuple[str, str], dict] = {}
        for e in self.ix.of_type("Observation"):
            o = e.resource
            code = _first_code([o.code], C.LOINC)
            if code not in (C.ECOG, C.CEA, C.CA19_9):
                if code != C.TUMOR_SIZE:
                    self.not_read_codes.setdefault((e.file, code), []).append(e)
                continue
            if o.status in ("entered-in-error", "cancelled"):
                continue
            pid = self._subject(e, o.subject, "Observation.subject")
            if pid is None:
                continue
            date, dpath = _effective(o)
            self._dated(pid, date)
            if code == C.ECOG:
                value, path = o.valueInteger, "Observation.valueInteger"
                if value is None and o.valueCodeableConcept is not None:
                    value = C.ECOG_ANSWERS.get(_first_code([o.valueCodeableConcept], C.LOINC) or "")
                    path = "Observation.valueCodeableConcept"
                self.ecog.setdefault(pid, []).append((date, value, e, path))
                continue
            fld, units = ("cea", C.CEA_UNITS) if code == C.CEA else ("ca19_9", C.CA19_9_UNITS)
            value, bad = _quantity(o.valueQuantity, units)
            if bad is not None:
                self.log.error("labs", "fhir_unit", f"{e.at('Observation.valueQuantity')}: unit {bad!r} is not "
                                                    f"one the importer converts for {fld} ({', '.join(units)})",
                               patient_id=pid, field=fld)
            key = (pid, date)
            row = labs.get(key)
            if row is None or row["values"].get(fld) is not None:   # a second value the same day: its own row
                row = {"values": {"patient_id": pid, "date": date}, "where": {
                    "patient_id": e.at("Observation.subject"), "date": e.at(dpath)}, "entry": e}
                labs[key if key not in labs else (pid, date, id(e))] = row
            row["values"][fld] = value
            row["where"][fld] = e.at("Observation.valueQuantity")
        for row in labs.values():
            self.tables["labs"].add(row["entry"], row["values"], row["where"])

    def _not_read(self) -> None:
        """One warning per file and kind of resource (or observation code) the importer does not read."""
        read = {"Patient", "Organization", "Condition", "Procedure", "Observation", "BodyStructure", "Encounter"}
        counts: dict[tuple[str, str], int] = {}
        for e in self.ix.entries:
            if e.type not in read:
                counts[(e.file, e.type)] = counts.get((e.file, e.type), 0) + 1
            elif e.type == "Encounter":
                pid = self.patient_of.get(id(self.ix.resolve(e.resource.subject)))
                if pid is not None and e.resource.period is not None:
                    self._dated(pid, _date(e.resource.period.start), _date(e.resource.period.end))
        for (file, rtype), n in counts.items():
            self.log.warning("patients", "fhir_not_read", f"{file}: {n} {rtype} resource(s) are not part of the "
                                                          "registry and were not read")
        for (file, code), found in self.not_read_codes.items():
            self.log.warning("patients", "fhir_not_read",
                             f"{file}: {len(found)} Observation(s) with code {code or '(no LOINC code)'} are not part "
                             f"of the registry and were not read (first: {found[0].at()})")


def _all_extensions(resource, name: str) -> list:
    return [x for x in getattr(resource, "extension", None) or [] if str(x.url).rstrip("/").rsplit("/", 1)[-1] == name]


def _identifier_text(given) -> str:
    """An identifier element as one text for the keyed hash (never stored, never shown)."""
    items = given if isinstance(given, list) else [given]
    return "|".join(json.dumps(x.model_dump(mode="json", exclude_none=True), sort_keys=True) for x in items)


# ----------------------------------------------------------------------------------------- reports
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


__all__ = ["read_fhir", "check_fhir", "in_fhir_terms", "looks_like_fhir", "bundle_files", "TABLES"]
