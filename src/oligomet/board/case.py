"""The case: one patient's facts at a date, as the tumor board sees them.

A :class:`Case` is built from the registry (:func:`case_from_registry`, a patient id and an "as of"
date) or read from a case file (:func:`load_case`, TOML or YAML), and the two can be combined
(:meth:`Case.updated`: the board's own judgements on top of what the registry knows).

Unknown is never false. Every fact is ``None`` until something says otherwise, and the rules treat
``None`` as "cannot decide", naming the fact. The specialists' judgements per organ (resectable,
ablatable, curable), the disease extent (bilobar, bilateral, extrahepatic, extrapulmonary), the
Charlson index, ASA class and FEV1 come from the registry's MDT decisions (``mdt_decisions``, as of
the latest meeting on or before the case date; ``unknown`` or a blank is unknown) or from a case
file; which resection is the harder one comes only from a case file.

A judgement holds for the disease the board saw. When a lesion was detected or the disease recurred
or progressed after the latest meeting (and on or before the case date), that meeting's judgements
and disease extent no longer describe the patient: they stay unknown, and ``sources["assessment"]``
says why. The measurements (Charlson, ASA, FEV1) are each the latest recorded on or before the date.

:meth:`Case.facts` flattens the case to the fact names declared in ``vocabulary.toml``; the rules
see nothing else.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..registry.fields import (ABLATION_MODALITIES, MODALITY, MSI, MUTATION, ORGAN, PRIMARY_SIDEDNESS,
                               PRIMARY_SITE)

MAX_CASE_BYTES = 200_000

Organ = Literal[ORGAN]  # type: ignore[valid-type]
_LIVER_LOCAL = ("resection",) + ABLATION_MODALITIES
_RECURRENCE_TYPES = ("local_recurrence", "new_metastasis", "regional_recurrence", "distant_progression",
                     "progression")


class CaseError(ValueError):
    """A case that cannot be built: ``problems`` lists (where, message); ``where`` names the field
    (and the file and line when the case came from a file)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s):\n" + "\n".join(f"  {w}: {m}" for w, m in problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganStatus(_Model):
    """Metastases in one organ, and the specialists' judgement of them (None = not known)."""

    n_lesions: int | None = Field(None, ge=0)
    largest_mm: float | None = Field(None, ge=0, description="largest diameter in mm")
    bilateral: bool | None = Field(None, description="bilobar (liver) or bilateral (lung)")
    technically_resectable: bool | None = None
    ablatable: bool | None = None
    curable: bool | None = None


class PriorTreatment(_Model):
    modality: Literal[MODALITY]  # type: ignore[valid-type]
    date: dt.date
    organ: Organ | None = None
    setting: str | None = None


class Recurrence(_Model):
    date: dt.date
    organ: Organ | None = None
    type: str = "local_recurrence"
    after_modality: str | None = Field(None, description="the local treatment this recurrence followed")
    months_after: float | None = Field(None, ge=0, description="months from that treatment to the recurrence")


class Case(_Model):
    """One patient's facts at ``as_of``. Every field but the id and the date may be unknown (None)."""

    patient_id: str
    as_of: dt.date
    primary_site: Literal[PRIMARY_SITE] | None = None  # type: ignore[valid-type]
    histology: str | None = None
    node_positive: bool | None = None
    primary_sidedness: Literal[PRIMARY_SIDEDNESS] | None = None  # type: ignore[valid-type]
    primary_diagnosis_date: dt.date | None = None
    metastasis_date: dt.date | None = None
    organs: dict[Organ, OrganStatus] = Field(default_factory=dict,
                                             description="organs known to be examined; an organ absent here is "
                                                         "unknown, one with n_lesions = 0 is known to be free")
    extrahepatic_disease: bool | None = Field(None, description="stated by the board; else derived from organs")
    extrapulmonary_disease: bool | None = Field(None, description="stated by the board; else derived from organs")
    harder_organ: Literal["equal", "liver", "lung"] | None = Field(
        None, description="the surgeon's view of which resection is more difficult")
    prior_treatments: tuple[PriorTreatment, ...] = ()
    recurrences: tuple[Recurrence, ...] = ()
    dfi_months: float | None = Field(None, ge=0)
    tfi_months: float | None = Field(None, ge=0)
    cea: float | None = Field(None, ge=0, description="ng/mL")
    ras: Literal[MUTATION] | None = None  # type: ignore[valid-type]
    braf: Literal[MUTATION] | None = None  # type: ignore[valid-type]
    msi: Literal[MSI] | None = None  # type: ignore[valid-type]
    ecog: int | None = Field(None, ge=0, le=4)
    age: float | None = Field(None, ge=0, le=120)
    comorbidity: float | None = Field(None, ge=0, description="Charlson comorbidity index (the cancer under "
                                                                "treatment not counted)")
    asa_class: int | None = Field(None, ge=1, le=6, description="ASA physical status class")
    fev1_pct: float | None = Field(None, gt=0, le=200, description="FEV1, % of predicted")
    sources: dict[str, str | None] = Field(default_factory=dict, description="where the case's parts came from")

    @model_validator(mode="after")
    def _chronology(self) -> "Case":
        problems = chronology_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(m for _, m in problems))
        return self

    # ------------------------------------------------------------------ facts
    def organ(self, name: str) -> OrganStatus | None:
        return self.organs.get(name)

    def facts(self) -> dict[str, object]:
        """The case as the rules see it: fact name -> value, ``None`` when unknown."""
        liver, lung = self.organ("liver"), self.organ("lung")
        largest = [o.largest_mm for o in self.organs.values() if o.n_lesions and o.largest_mm is not None]
        n_all = [o.n_lesions for o in self.organs.values()]
        tbs = None
        if largest and all(n is not None for n in n_all):
            from ..endpoints.burden import tumor_burden_score
            tbs = float(tumor_burden_score(max(largest), sum(n_all)))
        liver_rec = [r for r in self.recurrences if r.organ == "liver" and r.after_modality in _LIVER_LOCAL]
        treated_liver = any(t.organ == "liver" and t.modality in _LIVER_LOCAL for t in self.prior_treatments)
        sabr_lung = any(t.organ == "lung" and t.modality == "sabr" for t in self.prior_treatments)
        lung_lr = any(r.organ == "lung" and r.type == "local_recurrence" and r.after_modality == "sabr"
                      for r in self.recurrences)
        return {
            "primary_site": self.primary_site,
            "node_positive": self.node_positive,
            "primary_sidedness": _known(self.primary_sidedness),
            "ras": _known(self.ras), "braf": _known(self.braf), "msi": _known(self.msi),
            "ecog": self.ecog, "age": self.age, "cea": self.cea, "fev1_pct": self.fev1_pct,
            "comorbidity": self.comorbidity, "asa_class": self.asa_class,
            "dfi_months": self.dfi_months, "tfi_months": self.tfi_months, "tbs": tbs,
            "largest_mm": max(largest) if largest else None,
            "liver_mets": _has(liver), "lung_mets": _has(lung),
            "liver_n": liver.n_lesions if liver else None,
            "liver_largest_mm": liver.largest_mm if liver else None,
            "lung_n": lung.n_lesions if lung else None,
            "lung_largest_mm": lung.largest_mm if lung else None,
            "extrahepatic_disease": self._outside("liver"),
            "extrapulmonary_disease": self._outside("lung"),
            "liver_bilobar": liver.bilateral if liver else None,
            "lung_bilateral": lung.bilateral if lung else None,
            "liver_resectable": liver.technically_resectable if liver else None,
            "liver_ablatable": liver.ablatable if liver else None,
            "liver_curable": liver.curable if liver else None,
            "lung_resectable": lung.technically_resectable if lung else None,
            "lung_ablatable": lung.ablatable if lung else None,
            "lung_curable": lung.curable if lung else None,
            "harder_organ": self.harder_organ,
            # no local liver treatment yet: there is nothing to recur after, so False, not unknown
            "liver_recurrence": bool(liver_rec) if (treated_liver or liver_rec) else False,
            "liver_recurrence_months": min((r.months_after for r in liver_rec if r.months_after is not None),
                                           default=None),
            "lung_lr_after_sabr": lung_lr if (sabr_lung or lung_lr) else False,
        }

    def _outside(self, organ: str) -> bool | None:
        """Disease in any organ other than ``organ``: True if one is known involved, False only when
        every other examined organ is known free and the registry / case file said so."""
        stated = self.extrahepatic_disease if organ == "liver" else self.extrapulmonary_disease
        if stated is not None:
            return stated
        others = [o for name, o in self.organs.items() if name != organ]
        if any(o.n_lesions for o in others):
            return True
        if self.sources.get("lesions") == "registry":
            return False   # the registry lists every lesion: no lesion elsewhere means none
        return None

    def updated(self, overrides: dict, source: str = "case file") -> "Case":
        """A new case with ``overrides`` (a mapping of case fields; ``organs`` merged per organ)."""
        data = self.model_dump()
        for key, value in overrides.items():
            if key == "organs":
                for organ, status in value.items():
                    data["organs"].setdefault(organ, {}).update(status)
            else:
                data[key] = value
        data["sources"] = {**data.get("sources", {}), **{k: source for k in overrides if k != "sources"}}
        return _validated(data, source)


def chronology_problems(data: dict) -> list[tuple[str, str]]:
    """(field, message) for dates after the case date or before the primary diagnosis. Works on raw
    data too (dates as text), so a case file with other problems still gets its dates checked."""
    as_of, dx = _date(data.get("as_of")), _date(data.get("primary_diagnosis_date"))
    dated = [("metastasis_date", data.get("metastasis_date"))]
    for part in ("prior_treatments", "recurrences"):
        items = data.get(part) or []
        dated += [(f"{part}.{i}.date", t.get("date")) for i, t in enumerate(items) if isinstance(t, dict)]
    problems = []
    if dx is not None and as_of is not None and dx > as_of:
        problems.append(("primary_diagnosis_date", f"primary_diagnosis_date {dx} is after the case date {as_of}"))
    for name, raw in dated:
        d = _date(raw)
        if d is None:
            continue
        if dx is not None and d < dx:
            problems.append((name, f"{name} {d} is before the primary diagnosis ({dx}); check both dates"))
        if as_of is not None and d > as_of:
            problems.append((name, f"{name} {d} is after the case date {as_of}; the board cannot know it yet"))
    return problems


def _date(v) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)) if v is not None else None
    except ValueError:
        return None


def _known(code: str | None) -> str | None:
    return None if code in (None, "unknown") else code


def _has(organ: OrganStatus | None) -> bool | None:
    if organ is None or organ.n_lesions is None:
        return None
    return organ.n_lesions > 0


def _validated(data: dict, source: str, lines: dict | None = None) -> Case:
    from .._yaml import nearest_line

    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(map(str, loc)) or "(case)"
            if lines is not None:
                where = f"line {nearest_line(lines, loc) or '?'}: {where}"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown field {loc[-1]!r}; allowed: {', '.join(_allowed(loc))}"
            elif err["type"] in ("greater_than_equal", "greater_than") and loc and loc[-1] == "largest_mm":
                msg = f"a diameter cannot be negative (got {err.get('input')!r})"
            problems.append((where, msg))
        if not any(err["loc"] == () for err in exc.errors()):   # the date check did not run: run it here
            for name, msg in chronology_problems(data):
                loc = tuple(int(p) if p.isdigit() else p for p in name.split("."))
                line = f"line {nearest_line(lines, loc) or '?'}: " if lines is not None else ""
                problems.append((line + name, msg))
        raise CaseError(source, problems) from None


def _allowed(loc: tuple) -> list[str]:
    model = Case
    if len(loc) >= 3 and loc[0] == "organs":
        model = OrganStatus
    elif loc and loc[0] == "prior_treatments":
        model = PriorTreatment
    elif loc and loc[0] == "recurrences":
        model = Recurrence
    return list(model.model_fields)


# ---------------------------------------------------------------------- case files
def load_case(path: str | Path) -> Case:
    """Read a case file (``.toml``, ``.yaml``/``.yml``): the fields of :class:`Case`. Problems are
    reported all at once, each with its line."""
    path = Path(path)
    if not path.is_file():
        raise CaseError(str(path), [("(file)", "no such file")])
    if path.stat().st_size > MAX_CASE_BYTES:
        raise CaseError(str(path), [("(file)", f"larger than {MAX_CASE_BYTES:,} bytes; a case file is a page")])
    text = path.read_text(encoding="utf-8")
    data, lines = parse_case_text(text, path.suffix.lower().lstrip("."), str(path))
    return _validated(data, str(path), lines)


def parse_case_text(text: str, fmt: str, source: str) -> tuple[dict, dict]:
    """(data, line of each key path) of a TOML or YAML case text."""
    from .._toml import toml_lines
    from .._yaml import yaml_lines

    if fmt == "toml":
        import tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CaseError(source, [("(syntax)", f"TOML syntax error: {exc}")]) from None
        return data, toml_lines(text)
    if fmt in ("yaml", "yml"):
        import yaml
        try:
            lines, dups = yaml_lines(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CaseError(source, [("(syntax)", f"YAML syntax error: {exc}")]) from None
        if dups:
            raise CaseError(source, [(f"line {ln}: {where}", msg) for where, ln, msg in dups])
        if not isinstance(data, dict):
            raise CaseError(source, [("line 1", "a case file is a mapping of fields")])
        return data, lines
    raise CaseError(source, [("(file)", f"unknown case format {fmt!r}; use .toml, .yaml or .yml")])


# ---------------------------------------------------------------------- from the registry
def case_from_registry(tables: dict[str, pd.DataFrame], patient_id: str, as_of, *, context=None) -> Case:
    """The case of ``patient_id`` as the registry knew it on ``as_of`` (records dated later are not
    seen). Facts come from the endpoint rules (``derive_endpoints`` with ``data_lock=as_of``: DFI,
    TFI, burden, CEA, age); the specialists' judgements stay unknown (see the module docstring)."""
    from ..endpoints._common import table
    from ..registry.fields import TABLE_ORDER

    as_of = pd.Timestamp(as_of).normalize()
    pts = tables.get("patients")
    if pts is None or "patient_id" not in pts:
        raise CaseError("registry", [("patients", "the registry has no patients table")])
    mask = pts["patient_id"].astype(str) == str(patient_id)
    if not mask.any():
        raise CaseError("registry", [("patient_id", f"unknown patient id {patient_id!r}; check the id (ids are "
                                                     f"case-sensitive) and the database")])
    if context is not None:
        one = context.patient_tables(str(patient_id))
    else:
        one = {name: frame[frame["patient_id"].astype(str) == str(patient_id)]
               for name, frame in tables.items() if "patient_id" in frame}
        comp = tables.get("complications")
        if comp is not None and "treatments" in one:
            one["complications"] = comp[comp["treatment_id"].isin(one["treatments"]["treatment_id"])]
    one = {name: table(one, name) for name in TABLE_ORDER}   # every declared column, dates parsed
    p = one["patients"].iloc[0]
    dx = pd.Timestamp(p["primary_diagnosis_date"])
    if pd.notna(dx) and as_of < dx:
        raise CaseError("registry", [("as_of", f"{as_of.date()} is before patient {patient_id}'s primary "
                                               f"diagnosis ({dx.date()}); pick a later date")])
    frame = _intervals_row(one, patient_id, as_of, context)
    lesions = _dated(one.get("lesions"), "detection_date", as_of)
    treatments = _dated(one.get("treatments"), "start_date", as_of)
    events = _dated(one.get("events"), "date", as_of)

    organs = {}
    for organ in ("liver", "lung"):   # the registry lists every lesion: an organ without one is known free
        organs[organ] = {"n_lesions": 0}
    if len(lesions):
        for organ, grp in lesions.groupby("organ"):
            d = pd.to_numeric(grp["diameter_mm"], errors="coerce")
            organs[organ] = {"n_lesions": int(len(grp)), "largest_mm": float(d.max()) if d.notna().any() else None}
    organ_of = dict(zip(lesions.get("lesion_id", []), lesions.get("organ", [])))
    prior = [_prior(t, organ_of) for t in treatments.itertuples(index=False)]
    recs = _recurrences(events, prior, organ_of)
    board, board_sources = _assessment(_dated(one.get("mdt_decisions"), "date", as_of), lesions, recs)
    for organ, judged in board.pop("organs").items():
        organs[organ] = {**organs.get(organ, {}), **judged}
    data = {
        "patient_id": str(patient_id), "as_of": as_of.date(),
        "primary_site": _nn(p["primary_site"]), "histology": _nn(p.get("histology")),
        "node_positive": None if pd.isna(p.get("node_positive")) else bool(p["node_positive"]),
        "primary_sidedness": _nn(p.get("primary_sidedness")),
        "primary_diagnosis_date": None if pd.isna(dx) else dx.date(),
        "metastasis_date": None if pd.isna(frame["metastasis_date"]) else pd.Timestamp(frame["metastasis_date"]).date(),
        "organs": organs, "prior_treatments": prior, "recurrences": recs,
        "dfi_months": _num(frame["dfi_months"]), "tfi_months": _num(frame["tfi_months"]),
        "cea": _num(frame["cea"]), "ras": _nn(p.get("ras")), "braf": _nn(p.get("braf")), "msi": _nn(p.get("msi")),
        "ecog": None if pd.isna(p.get("ecog")) else int(p["ecog"]),
        "age": None if pd.isna(p.get("birth_year")) else float(as_of.year - int(p["birth_year"])),
        **board,
        "sources": {"registry": f"patient {patient_id} as of {as_of.date()}", "lesions": "registry",
                    "site": _nn(p.get("site")), **board_sources},
    }
    return _validated(data, f"registry, patient {patient_id}")


_YES_NO = {"yes": True, "no": False}     # "unknown" and blanks: None
_ORGAN_JUDGEMENTS = {"liver": {"technically_resectable": "liver_resectable", "ablatable": "liver_ablatable",
                               "curable": "liver_curable", "bilateral": "liver_bilobar"},
                     "lung": {"technically_resectable": "lung_resectable", "ablatable": "lung_ablatable",
                              "curable": "lung_curable", "bilateral": "lung_bilateral"}}
_MEASURES = {"comorbidity": "charlson_index", "asa_class": "asa_class", "fev1_pct": "fev1_pct"}


def _assessment(mdt: pd.DataFrame, lesions: pd.DataFrame, recs: list[dict]) -> tuple[dict, dict]:
    """(case fields, source notes) from the MDT decisions dated on or before the case date.

    Judgements and disease extent: the latest meeting's, unless the disease changed after it (a lesion
    detected, a recurrence or progression), when they no longer hold and stay unknown. Measurements:
    each the latest recorded. ``yes`` / ``no`` are the facts; ``unknown`` and blanks are unknown."""
    out: dict = {"organs": {}}
    notes: dict = {}
    if mdt is None or mdt.empty:
        return out, notes
    for field, column in _MEASURES.items():
        if column in mdt:
            known = mdt[mdt[column].notna()]
            if len(known):
                row = known.iloc[-1]
                out[field] = int(row[column]) if field == "asa_class" else float(row[column])
                notes[field] = f"registry, MDT of {pd.Timestamp(row['date']).date()}"
    last = mdt.iloc[-1]
    met = pd.Timestamp(last["date"])
    changes = [pd.Timestamp(d) for d in lesions.get("detection_date", [])] + [pd.Timestamp(r["date"]) for r in recs]
    later = [d for d in changes if d > met]
    if later:
        notes["assessment"] = (f"MDT of {met.date()}: its judgements are not used, the disease changed after it "
                               f"(on {min(later).date()}); record a new MDT assessment")
        return out, notes
    notes["assessment"] = f"registry, MDT of {met.date()}"
    for organ, fields in _ORGAN_JUDGEMENTS.items():
        judged = {field: _YES_NO.get(last.get(column)) for field, column in fields.items() if column in mdt}
        out["organs"][organ] = {k: v for k, v in judged.items() if v is not None}
    for field in ("extrahepatic_disease", "extrapulmonary_disease"):
        if field in mdt and _YES_NO.get(last[field]) is not None:
            out[field] = _YES_NO[last[field]]
    return out, notes


def _intervals_row(one: dict, patient_id: str, as_of: pd.Timestamp, context) -> pd.Series:
    """DFI, TFI, CEA and the metastasis date from the endpoint rules (``derive_endpoints`` with the
    metastasis diagnosis as origin and ``data_lock=as_of``). They depend only on records up to the
    metastasis date, so once the case date is on or after it the registry-wide frame of the context
    (derived once) holds the same numbers; before it, or without a context, derive for this patient."""
    from ..endpoints import derive_endpoints

    if context is not None:
        fr = context.frame("metastasis_diagnosis")
        pos = context.position(patient_id)
        if pos is not None:
            row = fr.iloc[pos]
            if pd.notna(row["metastasis_date"]) and row["metastasis_date"] <= as_of:
                return row
    return derive_endpoints(one, origin="metastasis_diagnosis", data_lock=as_of).iloc[0]


def _dated(frame: pd.DataFrame | None, col: str, as_of: pd.Timestamp) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame()
    d = pd.to_datetime(frame[col], errors="coerce")
    return frame.assign(**{col: d})[d <= as_of].sort_values(col, kind="mergesort")


def _prior(t, organ_of: dict) -> dict:
    ids = [] if pd.isna(t.lesion_ids) else [s.strip() for s in str(t.lesion_ids).split(";") if s.strip()]
    organs = {organ_of.get(i) for i in ids} - {None}
    return {"modality": t.modality, "date": pd.Timestamp(t.start_date).date(),
            "organ": organs.pop() if len(organs) == 1 else None, "setting": _nn(t.setting)}


def _recurrences(events: pd.DataFrame, prior: list[dict], organ_of: dict) -> list[dict]:
    """Each recurrence with the local treatment of the same organ it followed (the latest before it)."""
    out = []
    for e in events.itertuples(index=False):
        if e.type not in _RECURRENCE_TYPES:
            continue
        organ = _nn(e.organ) or organ_of.get(e.lesion_id)
        day = pd.Timestamp(e.date).date()
        before = [t for t in prior if t["organ"] == organ and t["modality"] != "systemic" and t["date"] < day]
        last = before[-1] if before else None
        out.append({"date": day, "organ": organ, "type": e.type,
                    "after_modality": last["modality"] if last else None,
                    "months_after": (day - last["date"]).days / 30.4375 if last else None})
    return out


def _nn(v):
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def _num(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)
