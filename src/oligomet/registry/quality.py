"""Data quality per site, side by side: completeness per field, rule violations per 100 patients, and
follow-up completeness (Clark's C).

:func:`quality_summary` returns a :class:`QualitySummary` holding one tidy frame (``frame``, columns
:data:`COLUMNS`); ``quality_html.render_quality`` draws the page from that frame alone.

**Completeness** of a field at a site: the share of the site's rows *to which the field applies* that
hold a value (:data:`APPLIES`: a SABR dose is asked of SABR treatments only, a margin of resections,
RAS of colorectal primaries, a last contact date of living patients). The code ``unknown`` counts as
missing: it records that nobody knows. Not measured: ids and required fields (validation refuses a
stored row without them, so they are complete everywhere), and fields whose absence is itself
information (:data:`NOT_MEASURED`: no death date means alive). A field added to the data model is
measured over all its table's rows until :data:`APPLIES` says otherwise.

**Violations**: every problem the registry rules find (``validate`` on the site's rows with the data
lock), per rule and severity, per 100 patients of the site.

**Clark's C** (Clark, Altman, De Stavola, Lancet 2002; 359: 1309-10): observed person-time divided by
the person-time that could have been observed up to the data lock, summed over the site's patients.
Per patient, from entry (the first metastasis detected, else the primary diagnosis):

* potential time ends at death when the patient died on or before the lock, else at the lock;
* observed time ends at death (on or before the lock), else at the last contact, at most the lock; a
  death after the lock means the patient was followed to the lock; without a last contact (and no
  death) nothing is observed;

both clipped at zero; a patient who entered after the lock adds nothing to either. C = 1 means every
patient was followed to death or to the lock.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .fields import ABLATION_MODALITIES, LOCAL_MODALITIES, TABLE_ORDER, TABLES
from .validate import validate

#: Columns of :attr:`QualitySummary.frame`.
#: ``measure``: ``patients`` (``value`` = patients of the site), ``completeness`` (``item`` = field,
#: ``value`` = numerator / denominator: rows with a value / rows the field applies to),
#: ``violations`` (``item`` = rule, ``severity``, ``value`` = problems per 100 patients,
#: ``numerator`` = problems, ``denominator`` = patients; ``item`` ``all rules`` sums them) and
#: ``followup`` (``item`` ``clark_c``: ``numerator`` observed days, ``denominator`` potential days).
COLUMNS = ("site", "measure", "table", "item", "severity", "value", "numerator", "denominator")
ALL_RULES = "all rules"

#: Fields whose absence carries meaning, not missing data.
NOT_MEASURED = {("patients", "death_date"): "no death date means alive",
                ("patients", "primary_resection_date"): "not every primary is resected",
                ("patients", "pseudonym"): "written by the importer, not the site"}


def _modality(*codes):
    return lambda t: t["modality"].isin(codes)


def _colorectal(t):
    return t["primary_site"] == "colorectal"


#: (table, field) -> the rows the field applies to; fields not named apply to every row of their table.
APPLIES = {
    ("patients", "primary_sidedness"): _colorectal,
    ("patients", "ras"): _colorectal,
    ("patients", "braf"): _colorectal,
    ("patients", "msi"): _colorectal,
    ("patients", "last_contact_date"): lambda t: t["death_date"].isna(),
    ("treatments", "lesion_ids"): _modality(*LOCAL_MODALITIES),
    ("treatments", "approach"): _modality(*LOCAL_MODALITIES),
    ("treatments", "margin"): _modality("resection"),
    ("treatments", "dose_gy"): _modality("sabr"),
    ("treatments", "fractions"): _modality("sabr"),
    ("treatments", "ablation_margin_mm"): _modality(*ABLATION_MODALITIES),
    ("treatments", "regimen"): _modality("systemic"),
    ("treatments", "line"): _modality("systemic"),
    ("treatments", "setting"): _modality("systemic"),
    ("events", "lesion_id"): lambda t: t["type"] == "local_recurrence",
}


@dataclass(frozen=True)
class QualitySummary:
    """``frame``: the tidy measures (:data:`COLUMNS`); ``data_lock``: the lock Clark's C and the rules
    used; ``lock_source``: where that date came from (for the page)."""

    frame: pd.DataFrame
    data_lock: pd.Timestamp
    lock_source: str

    @property
    def sites(self) -> list[str]:
        return sorted(self.frame["site"].unique().tolist())


def measured_fields() -> list[tuple[str, str]]:
    """(table, field) of every field the page measures: the optional non-id fields not in
    :data:`NOT_MEASURED`, and the fields :data:`APPLIES` names (``events.lesion_id`` is an id, and optional)."""
    return [(t, f.name) for t in TABLE_ORDER for f in TABLES[t].fields
            if (not f.required and not f.name.endswith("_id") and (t, f.name) not in NOT_MEASURED)
            or (t, f.name) in APPLIES]


def split_by_site(tables: dict[str, pd.DataFrame]) -> dict[str, dict[str, pd.DataFrame]]:
    """The registry of each site (``patients.site``): its patients and every row that belongs to them."""
    out = {}
    patients = tables["patients"]
    for site, pids in patients.groupby("site", sort=True)["patient_id"]:
        keep = set(pids)
        part = {name: frame[frame["patient_id"].isin(keep)] for name, frame in tables.items()
                if "patient_id" in frame.columns}
        part["complications"] = tables["complications"][
            tables["complications"]["treatment_id"].isin(set(part["treatments"]["treatment_id"]))]
        out[str(site)] = part
    return out


def completeness(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One site's completeness: ``table``, ``item`` (field), ``numerator``, ``denominator``."""
    rows = []
    for t, f in measured_fields():
        frame = tables[t]
        applies = APPLIES.get((t, f))
        rows_of = frame if applies is None else frame[applies(frame).fillna(False).to_numpy(dtype=bool)]
        col = rows_of[f]
        present = col.notna()
        if TABLES[t].get(f).type == "code":
            present &= col != "unknown"
        rows.append((t, f, int(present.sum()), len(col)))
    return pd.DataFrame(rows, columns=["table", "item", "numerator", "denominator"])


def violations(tables: dict[str, pd.DataFrame], data_lock) -> pd.DataFrame:
    """One site's rule problems: ``table`` (of the first problem), ``item`` (rule), ``severity``, ``numerator``."""
    p = validate(tables, data_lock=data_lock).problems
    if p.empty:
        return pd.DataFrame(columns=["table", "item", "severity", "numerator"])
    counts = p.groupby(["rule", "severity"], sort=True).agg(table=("table", "first"), numerator=("rule", "size"))
    return counts.reset_index().rename(columns={"rule": "item"})[["table", "item", "severity", "numerator"]]


def entry_dates(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Per patient id: the first metastasis detection date, else the primary diagnosis date."""
    p = tables["patients"].set_index("patient_id")
    first = tables["lesions"].groupby("patient_id")["detection_date"].min()
    return first.reindex(p.index).fillna(p["primary_diagnosis_date"])


def followup_times(tables: dict[str, pd.DataFrame], data_lock) -> pd.DataFrame:
    """Per patient (index ``patient_id``): ``entry``, ``observed_days``, ``potential_days`` up to ``data_lock``."""
    lock = pd.Timestamp(data_lock).normalize()
    p = tables["patients"].set_index("patient_id")
    entry = entry_dates(tables)
    death = p["death_date"]
    died = death.notna() & (death <= lock)
    potential_end = death.where(died, lock)
    # a death after the lock: the patient was known alive (followed) up to the lock
    observed_end = death.where(died, p["last_contact_date"].clip(upper=lock).where(death.isna(), lock))
    observed_end = observed_end.fillna(entry)   # neither death nor contact: nothing observed
    potential = (potential_end - entry).dt.days.clip(lower=0).fillna(0)
    observed = np.minimum((observed_end - entry).dt.days.clip(lower=0).fillna(0), potential)
    return pd.DataFrame({"entry": entry, "observed_days": observed.astype(int),
                         "potential_days": potential.astype(int)})


def default_data_lock(tables: dict[str, pd.DataFrame], import_locks=()) -> tuple[pd.Timestamp, str]:
    """The latest data lock recorded by an import, else the latest death or last contact date."""
    locks = [pd.Timestamp(x) for x in import_locks if x is not None and not pd.isna(x)]
    if locks:
        return max(locks).normalize(), "the latest data lock recorded by an import"
    p = tables["patients"]
    last = pd.concat([p["death_date"], p["last_contact_date"]]).max()
    if pd.isna(last):
        raise ValueError("the registry has no death or last contact date and no import recorded a data lock; "
                         "give the data lock (--data-lock YYYY-MM-DD)")
    return pd.Timestamp(last).normalize(), ("the latest death or last contact date: no import recorded a lock; "
                                            "set one with --data-lock")


def quality_summary(tables: dict[str, pd.DataFrame], data_lock=None, *, import_locks=()) -> QualitySummary:
    """The quality measures of every site of ``tables`` (an in-memory registry, e.g. ``Store.load()``).

    ``data_lock``: the date Clark's C counts potential follow-up to (and the rules check dates
    against); default: :func:`default_data_lock` (``import_locks``: the locks recorded by the imports).
    """
    if data_lock is None:
        lock, source = default_data_lock(tables, import_locks)
    else:
        lock, source = pd.Timestamp(data_lock).normalize(), "given"
    parts = [_site_measures(part, lock).assign(site=site) for site, part in split_by_site(tables).items()]
    frame = _zero_violations(pd.concat(parts, ignore_index=True)) if parts else pd.DataFrame(columns=list(COLUMNS))
    frame = frame.reindex(columns=list(COLUMNS))
    frame["value"] = frame["value"].astype(float)
    frame[["numerator", "denominator"]] = frame[["numerator", "denominator"]].astype("Int64")
    frame[["table", "severity"]] = frame[["table", "severity"]].astype(object).where(
        frame[["table", "severity"]].notna(), None)
    return QualitySummary(frame, lock, source)


def _site_measures(part: dict[str, pd.DataFrame], lock: pd.Timestamp) -> pd.DataFrame:
    n = len(part["patients"])
    count = pd.DataFrame([{"measure": "patients", "table": "patients", "item": "patients", "value": n,
                           "numerator": n, "denominator": n}])
    comp = completeness(part).assign(measure="completeness")
    comp["value"] = comp["numerator"] / comp["denominator"].where(comp["denominator"] > 0)
    v = violations(part, lock)
    v = pd.concat([v, pd.DataFrame([{"table": None, "item": ALL_RULES, "severity": None,
                                     "numerator": int(v["numerator"].sum())}])], ignore_index=True)
    v = v.assign(measure="violations", denominator=n, value=100 * v["numerator"].astype(float) / n)
    times = followup_times(part, lock)
    obs, pot = int(times["observed_days"].sum()), int(times["potential_days"].sum())
    clark = pd.DataFrame([{"measure": "followup", "table": "patients", "item": "clark_c",
                           "value": obs / pot if pot else np.nan, "numerator": obs, "denominator": pot}])
    return pd.concat([count, comp, v, clark], ignore_index=True)


def _zero_violations(frame: pd.DataFrame) -> pd.DataFrame:
    """A rule found at one site is 0 per 100 patients at a site where it found nothing, not "no data"."""
    v = frame[frame["measure"] == "violations"]
    n = frame[frame["measure"] == "patients"].set_index("site")["value"]
    seen = v[["table", "item", "severity"]].drop_duplicates()
    grid = seen.merge(pd.DataFrame({"site": n.index}), how="cross")
    missing = grid.merge(v[["site", "item", "severity"]], how="left", indicator=True)
    missing = missing[missing["_merge"] == "left_only"].drop(columns="_merge")
    if missing.empty:
        return frame
    zeros = missing.assign(measure="violations", value=0.0, numerator=0, denominator=missing["site"].map(n))
    return pd.concat([frame, zeros], ignore_index=True)
