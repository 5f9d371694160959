"""mCODE resources -> registry rows: which FHIR element gives which registry field (see ``fhir.py``).

``_Reader`` walks the parsed entries of one source (``fhir_bundle``) and fills ``patients``,
``lesions``, ``treatments`` and ``labs`` with raw values and, per value, the entry and element it came
from (for messages in the bundle's terms). The codes it understands are in ``fhir_codes``.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..report import ProblemLog
from . import fhir_codes as C
from .fhir_bundle import Entry, _Index, _show, _table_of


class _Table:
    def __init__(self) -> None:
        self.values: list[dict] = []
        self.where: list[dict] = []

    def add(self, entry: Entry, values: dict, where: dict[str, str]) -> int:
        self.values.append(values)
        self.where.append({**where, "_row": entry.at(), "_entry": entry.index})
        return len(self.values) - 1


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
                if value is None:
                    self.log.warning("patients", "fhir_not_read",
                                     f"{e.at('Observation.value[x]')}: an ECOG observation without a score the "
                                     "importer reads (valueInteger 0-5, or the LOINC answers LA9622-7 ... LA9627-6); "
                                     "not used", patient_id=pid, field="ecog")
                    continue
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

