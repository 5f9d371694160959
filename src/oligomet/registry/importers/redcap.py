"""REDCap flat (raw, "CSV / Microsoft Excel (raw data)") export -> registry tables.

Mapping (documented in ``docs/registry.md``):

* the record id (column ``patient_id``, else ``record_id``, else the first column) is ``patient_id``
  in every table;
* rows with an empty ``redcap_repeat_instrument`` are the record's non-repeating fields: the
  ``patients`` table (``site`` falls back to ``redcap_data_access_group``);
* each repeating instrument is one table; its name is the table name or its singular
  (``lesions``/``lesion``, ``treatments``, ``complications``, ``events``, ``labs``, ``mdt_decisions``,
  ``adverse_events``);
* REDCap variable names are unique per project, so fields whose names repeat across tables use
  the prefixed variable names in :data:`ALIASES` (``event_date``, ``lab_date`` ...); the plain
  field name is accepted too;
* ``lesion_id`` / ``treatment_id`` left empty become ``<record>-L<instance>`` /
  ``<record>-T<instance>``; a reference written as a bare instance number (``event_lesion = 2``,
  ``complication_treatment = 1``, checkbox ``lesion_ids___2``) means that instance of the same record;
* checkbox columns ``field___code`` hold 0/1: for a list field (``lesion_ids``) the ticked codes
  are joined with ``;``; for a code field (``modality___sabr``) exactly one may be ticked.

Problems specific to the export (rule class 8): ``redcap_missing_instance``,
``redcap_duplicate_instance``, ``redcap_checkbox_value``, ``redcap_unknown_instrument``,
``redcap_checkbox_multiple``. A value typed on the row of another instrument (e.g. a lab date
on a ``lesions`` row, or ``histology`` on a ``labs`` row) cannot be read, since each row holds one
instrument; it is reported as a ``redcap_value_on_other_instrument`` warning, never dropped silently.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..fields import TABLES
from ..identifiers import identifier_name
from ..parse import as_string as as_text
from ..report import ProblemLog
from .redcap_dictionary import apply_dictionary, find_dictionary, read_dictionary, report_dictionary
from .csvfile import decode, read_records
from .tabular import RawTables, drop_blank_rows
from .tabular import _with_header as with_header

#: (table, field) -> REDCap variable name used in the export for that field.
ALIASES: dict[tuple[str, str], str] = {
    ("complications", "treatment_id"): "complication_treatment",
    ("complications", "date"): "complication_date",
    ("complications", "description"): "complication_description",
    ("events", "lesion_id"): "event_lesion",
    ("events", "date"): "event_date",
    ("events", "type"): "event_type",
    ("events", "organ"): "event_organ",
    ("labs", "date"): "lab_date",
    ("mdt_decisions", "date"): "mdt_date",
    ("mdt_decisions", "recommendation"): "mdt_recommendation",
    ("adverse_events", "date"): "ae_date",
    ("adverse_events", "term"): "ae_term",
    ("adverse_events", "grade"): "ae_grade",
    ("adverse_events", "drug_related"): "ae_drug_related",
}
INSTRUMENTS = {"lesions": "lesions", "lesion": "lesions", "treatments": "treatments", "treatment": "treatments",
               "complications": "complications", "complication": "complications", "events": "events",
               "event": "events", "labs": "labs", "lab": "labs", "mdt_decisions": "mdt_decisions",
               "mdt_decision": "mdt_decisions", "mdt": "mdt_decisions", "adverse_events": "adverse_events",
               "adverse_event": "adverse_events"}
#: Export columns REDCap adds itself; never reported as unknown.
REDCAP_COLUMNS = ("redcap_repeat_instrument", "redcap_repeat_instance", "redcap_event_name",
                  "redcap_data_access_group", "redcap_survey_identifier", "record_id")
_ID_SUFFIX = {"lesions": "L", "treatments": "T"}


def looks_like_redcap(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline().lower()
    except OSError:
        return False
    return ("redcap_repeat_instrument" in header or "___" in header or header.startswith("record_id")
            or "redcap_event_name" in header or header.lstrip('"').startswith("record id")   # label export
            or "repeat instrument" in header or find_dictionary(path) is not None)


def read_redcap(path: Path, log: ProblemLog, dictionary: Path | None = None) -> RawTables:
    """Read an export; ``dictionary`` is the project's data dictionary CSV (found next to the export
    by REDCap's file names when not given; without one, choice fields must hold registry codes)."""
    frame = _read_export(path, log)
    if frame is None or frame.shape[1] == 0:
        if frame is not None:
            log.error("redcap", "file_unreadable", f"{path.name} is empty")
        return {}
    frame, rows = drop_blank_rows(frame)
    frame = frame.reset_index(drop=True)
    dictionary = dictionary if dictionary is not None else find_dictionary(path)
    dd = read_dictionary(Path(dictionary), log) if dictionary is not None else None
    if dd is not None:
        frame = apply_dictionary(frame, dd, log)
    if "redcap_event_name" in frame.columns:
        frame, rows = split_events(frame, rows)
    if frame.columns.has_duplicates:
        dup = sorted(set(frame.columns[frame.columns.duplicated()]))
        log.error("redcap", "duplicate_column", f"columns appear twice: {', '.join(dup)}", field=dup[0])
        frame = frame.loc[:, ~frame.columns.duplicated()]
    id_col = "patient_id" if "patient_id" in frame.columns else (
        "record_id" if "record_id" in frame.columns else frame.columns[0])
    record = as_text(frame[id_col]).astype(object)
    record = record.where(record.notna(), None)
    instr_raw = as_text(frame["redcap_repeat_instrument"]) if "redcap_repeat_instrument" in frame else \
        pd.Series(pd.NA, index=frame.index, dtype="string")
    inst_raw = as_text(frame["redcap_repeat_instance"]) if "redcap_repeat_instance" in frame else \
        pd.Series(pd.NA, index=frame.index, dtype="string")
    instance = pd.to_numeric(inst_raw, errors="coerce")
    table = instr_raw.str.lower().map(INSTRUMENTS).astype(object)
    keep = np.ones(len(frame), dtype=bool)

    def flag(mask, rule, message, field=None, value=None):
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            log.error("redcap", rule, message, rows=rows[mask], patient_id=record[mask].to_numpy(),
                      field=field, value=None if value is None else value[mask])

    unknown = instr_raw.notna() & table.isna()
    for name in pd.unique(instr_raw[unknown]):
        # every real project has instruments of its own (pathology, quality of life): kept aside, not an error
        m = (instr_raw == name).fillna(False).to_numpy()
        log.warning("redcap", "redcap_unknown_instrument",
                    f"repeating instrument {name!r} is not a registry table (registry instruments: "
                    f"{', '.join(sorted(set(INSTRUMENTS.values())))}); its {int(m.sum())} row(s) are kept aside, "
                    "not imported", field="redcap_repeat_instrument", value=[name])
    no_instance = instr_raw.notna() & inst_raw.isna()
    flag(no_instance, "redcap_missing_instance", "repeating instrument row without redcap_repeat_instance",
         "redcap_repeat_instance", inst_raw)
    # The upper bound keeps the Int64 casts below exact; it also rejects "1e309", which pandas 3 parses
    # as inf (pandas 2 as missing).
    bad_instance = inst_raw.notna() & ~((instance >= 1) & (instance <= 2.0 ** 53)
                                        & (instance == np.floor(instance))).fillna(False)
    flag(bad_instance, "redcap_missing_instance", "redcap_repeat_instance must be a whole number >= 1 "
         "(at most 2^53)",
         "redcap_repeat_instance", inst_raw)
    orphan = instr_raw.isna() & inst_raw.notna() & ~bad_instance
    flag(orphan, "redcap_missing_instance", "redcap_repeat_instance without redcap_repeat_instrument (repeating "
         "events are not supported; export repeating instruments)", "redcap_repeat_instance", inst_raw)
    keep &= ~(unknown | no_instance | bad_instance | orphan).to_numpy()
    table = table.where(instr_raw.notna(), "patients")
    key = pd.DataFrame({"r": record, "t": table, "i": instance})
    dup = key.duplicated(keep="first").to_numpy() & keep & instr_raw.notna().to_numpy()
    flag(dup, "redcap_duplicate_instance", "the same (record, instrument, instance) appears more than once; "
         "only the first is read", "redcap_repeat_instance", inst_raw)
    keep &= ~dup

    checkboxes = _checkboxes(frame, rows, record, log)
    instance_ids = _instance_ids(frame, record, table, instance, keep)
    out: RawTables = {}
    for name in TABLES:
        m = keep & (table == name).to_numpy()
        if name != "patients" and not m.any() and not _has_instrument(frame, name):
            # a project without this instrument: an empty table, as a CSV folder without the file
            log.warning(name, "redcap_missing_instrument", f"the export has no {name} instrument (no rows and none "
                        f"of its fields); {name} is read as an empty table")
            continue
        sub = frame.loc[m]
        out[name] = (_table_frame(name, sub, record[m], instance[m], checkboxes, instance_ids, rows[m], log), rows[m])
    aside = set()
    if dd is not None:
        report_dictionary(frame, dd, set(pd.unique(instr_raw[unknown].dropna())), log)
        aside = {c for c in frame.columns if (f := dd.form_of(c)) is not None
                 and f.lower() not in INSTRUMENTS and f.lower() != "patients"}
    _report_unknown_columns(frame.drop(columns=list(aside)), id_col, log)
    _report_other_instrument_values(frame, rows, record, table, instr_raw, keep, id_col, log)
    return out


def _checkboxes(frame, rows, record, log) -> dict[str, dict[str, pd.Series]]:
    """``{field: {code: 0/1 series}}`` from ``field___code`` columns; bad values reported."""
    boxes: dict[str, dict[str, pd.Series]] = {}
    for col in frame.columns:
        if "___" not in col:
            continue
        base, code = col.split("___", 1)
        s = as_text(frame[col])
        bad = (s.notna() & ~s.isin(["0", "1"])).fillna(False).to_numpy()
        if bad.any():
            log.error("redcap", "redcap_checkbox_value", "checkbox value must be 0 or 1", rows=rows[bad],
                      patient_id=record[bad].to_numpy(), field=col, value=s[bad])
        boxes.setdefault(base, {})[code] = (s == "1").fillna(False).astype(bool)
    return boxes


def _instance_ids(frame, record, table, instance, keep) -> dict[str, dict[tuple, str]]:
    """``{table: {(record, instance): id}}`` for lesions and treatments (bare-number references)."""
    ids = {}
    for name, suffix in _ID_SUFFIX.items():
        m = keep & (table == name).to_numpy()
        col = name[:-1] + "_id"
        given = as_text(frame.loc[m, col]) if col in frame else pd.Series(pd.NA, index=frame.index[m], dtype="string")
        inst = instance[m].astype("Int64").astype(str)
        default = record[m].astype(str) + "-" + suffix + inst
        val = given.astype(object).where(given.notna(), default)
        ids[name] = dict(zip(zip(record[m], instance[m].astype(int)), val))
    return ids


def _resolve(values: pd.Series, record: pd.Series, ids: dict[tuple, str], suffix: str) -> pd.Series:
    """Bare instance numbers -> that instance's id of the same record; other values unchanged.

    An instance that is not in the export keeps the default id ``<record>-<suffix><n>``, which the
    reference rules then report as unknown.
    """
    num = values.str.fullmatch(r"\d+").fillna(False)
    out = values.astype(object).where(values.notna(), None)
    if num.any():
        keys = list(zip(record[num], values[num].astype(int)))
        resolved = [ids.get(k) for k in keys]
        out[num] = [r if r is not None else f"{k[0]}-{suffix}{k[1]}" for r, k in zip(resolved, keys)]
    return out


def _checkbox_value(name, f, boxed, sub, record, instance_ids, rows, log) -> pd.Series:
    """The value of field ``f`` from its ``f___code`` checkbox columns, for the rows of ``sub``."""
    ticked = pd.DataFrame({c: s.loc[sub.index] for c, s in boxed.items()})
    if f.type == "list":
        # REDCap exports are thousands of rows, not millions: a per-row join is fine here.
        codes = list(ticked.columns)
        lesion_ids = instance_ids.get("lesions", {})
        joined = []
        for rec, flags in zip(record, ticked.to_numpy(dtype=bool)):
            ids = [lesion_ids.get((rec, int(c)), f"{rec}-L{c}") if c.isdigit() else c
                   for c, on in zip(codes, flags) if on]
            joined.append(";".join(ids) if ids else None)
        return pd.Series(joined, index=sub.index, dtype="string")
    n = ticked.sum(axis=1)
    multi = (n > 1).to_numpy()
    if multi.any():
        log.error(name, "redcap_checkbox_multiple", f"several boxes ticked for the single-choice field {f.name}",
                  rows=rows[multi], patient_id=record[multi].to_numpy(), field=f.name,
                  value=pd.Series([";".join(ticked.columns[r]) for r in ticked[multi].to_numpy()], dtype=object))
    return ticked.idxmax(axis=1).where(n == 1).astype("string")


def _table_frame(name, sub, record, instance, checkboxes, instance_ids, rows, log) -> pd.DataFrame:
    """One registry table from its rows of the export: aliases, checkboxes, default ids, references."""
    cols = {}
    for f in TABLES[name].fields:
        alias = ALIASES.get((name, f.name))
        value = None
        for var in (alias, f.name):
            if var and var in sub.columns:
                v = as_text(sub[var])
                value = v if value is None else value.fillna(v)
        boxed = checkboxes.get(alias) if alias and alias in checkboxes else checkboxes.get(f.name)
        if boxed:
            box_val = _checkbox_value(name, f, boxed, sub, record, instance_ids, rows, log)
            value = box_val if value is None else value.fillna(box_val)
        if f.name == "patient_id":
            value = pd.Series(record.to_numpy(), index=sub.index, dtype="string")
        if name in _ID_SUFFIX and f.name == name[:-1] + "_id":
            default = record.astype(str) + "-" + _ID_SUFFIX[name] + instance.astype("Int64").astype(str)
            value = default.astype("string") if value is None else value.fillna(default.astype("string"))
        if (name, f.name) in (("complications", "treatment_id"), ("events", "lesion_id")) and value is not None:
            target = "treatments" if f.name == "treatment_id" else "lesions"
            value = _resolve(value, record, instance_ids[target], _ID_SUFFIX[target])
        if name == "patients" and f.name == "site" and "redcap_data_access_group" in sub.columns:
            dag = as_text(sub["redcap_data_access_group"])
            value = dag if value is None else value.fillna(dag)
        if value is not None:
            cols[f.name] = value
    if name == "patients":
        # Identifier columns travel with the record row so the shared identifier rule sees them.
        for c in sub.columns:
            if identifier_name(c) is not None:
                cols[c] = sub[c]
    return pd.DataFrame(cols, index=sub.index)


def _report_unknown_columns(frame, id_col, log) -> None:
    known = {id_col, *REDCAP_COLUMNS, *ALIASES.values()}
    for t in TABLES.values():
        known.update(t.field_names)
    for c in frame.columns:
        base = c.split("___", 1)[0]
        if c in known or base in known or c.endswith("_complete") or identifier_name(c) is not None:
            continue
        log.warning("redcap", "unknown_column", f"column {c!r} is not a registry field; ignored", field=c)


def _owners(column: str, id_col: str) -> set[str]:
    """The tables whose rows read ``column`` (a field, its REDCap alias, or one of its checkboxes)."""
    base = column.split("___", 1)[0]
    if column == id_col or column in REDCAP_COLUMNS or column.endswith("_complete"):
        return set(TABLES)
    owners = {name for name, t in TABLES.items() if base in t.field_names}
    owners |= {name for (name, f), alias in ALIASES.items() if alias == base}
    if identifier_name(base) is not None:
        owners.add("patients")
    return owners


def _report_other_instrument_values(frame, rows, record, table, instr_raw, keep, id_col, log) -> None:
    """Warn about values typed on a row whose instrument does not read that column (they are lost)."""
    row_table = table.astype(object).where(pd.Series(keep, index=table.index), None)
    instrument = instr_raw.astype(object).where(instr_raw.notna(), None)
    for col in frame.columns:
        owners = _owners(col, id_col)
        if not owners or owners == set(TABLES):   # unknown columns are reported once, as unknown_column
            continue
        s = as_text(frame[col])
        # An unticked checkbox is "0" (or empty) on every row; only a tick is a typed value.
        typed = (s == "1") if "___" in col else (s.notna() & (s.str.strip() != ""))
        lost = (typed.fillna(False).astype(bool) & row_table.notna() & ~row_table.isin(owners)).to_numpy()
        if not lost.any():
            continue
        base = col.split("___", 1)[0]
        field = next((TABLES[t].get(f) for (t, f), alias in ALIASES.items() if alias == base),
                     next((t.get(base) for t in TABLES.values() if base in t.field_names), None))
        # Free text and identifier columns may hold personal data: locate the cell, do not echo it.
        echo = field is not None and field.type not in ("str", "list") and identifier_name(base) is None
        where = pd.Series(["the non-repeating (patients) row" if i is None else f"a row of instrument {i!r}"
                           for i in instrument[lost]], dtype=object)
        read_on = " or ".join(f"the record's {'non-repeating (patients)' if o == 'patients' else o} row"
                              for o in sorted(owners))
        log.warning("redcap", "redcap_value_on_other_instrument",
                    col + " has a value on " + where + ", which does not read that field, so the value is "
                    "not imported: enter it on " + read_on,
                    rows=rows[lost], patient_id=record[lost].to_numpy(), field=col,
                    value=s[lost].reset_index(drop=True) if echo else None)


def _read_export(path: Path, log: ProblemLog) -> pd.DataFrame | None:
    """The export as strings (see ``tabular.read_csv_text``); a label export repeats the header
    "Complete?" once per instrument (the form status, never data): those are numbered, not an error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.error("redcap", "file_unreadable", f"cannot read {path.name}: {exc}")
        return None
    split = read_records(decode(data, path.name, "redcap", log), path.name, "redcap", log)
    if split is None:
        return None
    header, frame = split
    n = 0
    for i, h in enumerate(header):
        if h.strip().lower() in ("complete?", "complete"):
            n += 1
            header[i] = f"form{n}_complete"
    return with_header(header, frame, path.name, "redcap", log)


def _own_columns(name: str) -> set[str]:
    """The export columns (variables, or checkbox bases) that belong to table ``name``'s instrument."""
    own = {f for f in TABLES[name].field_names if f != "patient_id"}
    own |= {alias for (t, f), alias in ALIASES.items() if t == name}
    if name != "patients":   # a field name shared with the patients table (none today) stays with patients
        own -= set(TABLES["patients"].field_names) if name != "patients" else set()
    return own


def _has_instrument(frame: pd.DataFrame, name: str) -> bool:
    own = _own_columns(name)
    return any(c.split("___", 1)[0] in own for c in frame.columns)


def split_events(frame: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """A longitudinal export as a classic one: one row per record for the patients fields, and the
    non-repeating instruments filled in follow-up events as numbered instances.

    In a longitudinal project each (record, event) has a row for the non-repeating instruments of that
    event (baseline: the patient form; each follow-up: e.g. a lab form), and repeating instruments
    restart their instance numbers in every event. Here the patient fields of a record's rows are
    merged (first value in event order), each event's filled non-repeating instrument becomes an
    instance of its table (numbered in event order), and repeated instance numbers of one instrument in
    several events are renumbered in event order, so that no row is read twice or lost.
    """
    instr = as_text(frame["redcap_repeat_instrument"]) if "redcap_repeat_instrument" in frame else \
        pd.Series(pd.NA, index=frame.index, dtype="string")
    id_col = "patient_id" if "patient_id" in frame.columns else (
        "record_id" if "record_id" in frame.columns else frame.columns[0])
    shared = {id_col, *REDCAP_COLUMNS} - {"redcap_repeat_instrument", "redcap_repeat_instance"}
    base = frame.columns.to_series().str.split("___", n=1).str[0]
    filled = frame.apply(lambda s: as_text(s).notna() & ~as_text(s).isin(["0"]) if "___" in s.name
                         else as_text(s).notna())
    plain = instr.isna().to_numpy()
    parts, part_rows = [], []
    for name in TABLES:
        own = _own_columns(name) if name != "patients" else \
            {c for c in frame.columns if base[c] not in shared and not any(base[c] in _own_columns(t)
                                                                            for t in TABLES if t != "patients")}
        cols = [c for c in frame.columns if base[c] in own or c in own]
        if not cols:
            continue
        has = plain & filled[cols].any(axis=1).to_numpy()
        if not has.any():
            continue
        sub = frame.loc[has, [c for c in frame.columns if c in shared or c in cols]].copy()
        if name == "patients":
            # one patients row per record: its fields' first values in event order
            first_rows = pd.Series(rows[has], index=sub.index).groupby(sub[id_col].to_numpy()).first()
            sub = sub.groupby(id_col, sort=False).first().reset_index()
            parts.append(sub)
            part_rows.append(first_rows.reindex(sub[id_col]).to_numpy())
            continue
        sub["redcap_repeat_instrument"] = name
        sub["redcap_repeat_instance"] = (sub.groupby(id_col).cumcount() + 1).astype(str).to_numpy()
        parts.append(sub)
        part_rows.append(rows[has])
    repeating = frame.loc[~plain].copy()
    if len(repeating):
        key = [as_text(repeating[id_col]), as_text(repeating["redcap_repeat_instrument"]).str.lower()]
        inst = as_text(repeating["redcap_repeat_instance"]) if "redcap_repeat_instance" in repeating else None
        if inst is not None:
            events = as_text(repeating["redcap_event_name"])
            clash = pd.DataFrame({"r": key[0], "t": key[1], "i": inst, "e": events})
            spans = clash.groupby(["r", "t"])["e"].transform("nunique") > 1
            renumbered = (clash.groupby(["r", "t"]).cumcount() + 1).astype(str)
            repeating.loc[spans.to_numpy(), "redcap_repeat_instance"] = renumbered[spans].to_numpy()
        parts.append(repeating)
        part_rows.append(rows[~plain])
    out = pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]
    new_rows = np.concatenate(part_rows) if part_rows else rows[:0]
    order = np.argsort(new_rows, kind="stable")
    return out.iloc[order].reset_index(drop=True).reindex(columns=frame.columns), new_rows[order]
