"""A REDCap project's data dictionary (metadata CSV): choice codes -> registry values, label exports -> variables.

REDCap's raw export writes a choice field as its code (``sex = 1``), the label export as its label
(``Male``) under a header that is the field's label (``Sex``), with checkboxes as ``Label (choice=Lesion
1)`` = ``Checked``/``Unchecked``. The dictionary says which is which: for every variable its form
(instrument), type, label and choices (``1, Male | 2, Female``). With it both exports become the raw
export the reader knows (``importers/redcap.py``), with choice values recoded to registry codes
(``Male`` -> ``male``, ``SBRT`` -> ``sabr``; the shipped synonyms of ``mapping_synonyms.yaml`` apply).

The dictionary is found next to the export by REDCap's own file names (``<Project>_DATA_<date>.csv``,
``<Project>_DATA_LABELS_<date>.csv`` and ``<Project>_DataDictionary_<date>.csv``), or given explicitly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..fields import TABLES
from ..report import ProblemLog
from .csvfile import decode, read_records

#: Columns REDCap adds to a label export, by their label.
LABEL_COLUMNS = {"record_id": "record_id", "repeat_instrument": "redcap_repeat_instrument",
                 "repeat_instance": "redcap_repeat_instance", "event_name": "redcap_event_name",
                 "data_access_group": "redcap_data_access_group", "survey_identifier": "redcap_survey_identifier"}
_CHOICE_HEADER = re.compile(r"^(.*)\s*\(choice=(.*)\)\s*$", re.S)
_CHOICE_TYPES = ("radio", "dropdown", "checkbox")


def _fold(text) -> str:
    from ..mapping import fold

    return fold(text)


@dataclass(frozen=True)
class DataDictionary:
    path: Path
    variables: pd.DataFrame          # index: variable; columns: form, type, label
    choices: dict[str, dict[str, str]]   # variable -> {code: label}

    @property
    def forms(self) -> list[str]:
        return list(dict.fromkeys(self.variables["form"]))

    def form_of(self, variable: str) -> str | None:
        base = variable.split("___", 1)[0]
        return self.variables["form"].get(base)


def find_dictionary(export: Path) -> Path | None:
    """The dictionary REDCap exported with ``export``: same project prefix, ``DataDictionary`` in the name."""
    m = re.match(r"^(.*?)_DATA(?:_LABELS)?_", export.name, re.I)
    if not m:
        return None
    candidates = sorted(p for p in export.parent.glob(f"{m.group(1)}_DataDictionary*.csv") if p.is_file())
    return candidates[-1] if candidates else None   # several dates: the newest name


def read_dictionary(path: Path, log: ProblemLog) -> DataDictionary | None:
    text = decode(path.read_bytes(), path.name, "redcap", log)
    split = read_records(text, path.name, "redcap", log)
    if split is None:
        return None
    header, frame = split
    names = [re.sub(r"[^a-z0-9]+", "_", _fold(h)).strip("_") for h in header]

    def col(*candidates):
        for c in candidates:
            if c in names:
                return frame[names.index(c)].astype(str).str.strip()
        return None

    var, form, kind = col("variable_field_name", "field_name"), col("form_name"), col("field_type")
    label = col("field_label")
    choices = col("choices_calculations_or_slider_labels", "select_choices_or_calculations")
    if var is None or form is None or kind is None:
        log.error("redcap", "file_unreadable", f"{path.name} is not a REDCap data dictionary: it needs the columns "
                  "'Variable / Field Name', 'Form Name' and 'Field Type'")
        return None
    label = label if label is not None else var
    table = pd.DataFrame({"form": form.to_numpy(), "type": kind.str.lower().to_numpy(),
                          "label": label.map(_strip_html).to_numpy()}, index=pd.Index(var.to_numpy(), name="variable"))
    table = table[~table.index.duplicated()]
    parsed: dict[str, dict[str, str]] = {}
    if choices is not None:
        for v, k, c in zip(var, table["type"].reindex(var).to_numpy(), choices):
            if k in _CHOICE_TYPES and c:
                parsed[v] = _parse_choices(c)
    return DataDictionary(path, table, parsed)


def _strip_html(text: str) -> str:
    return re.sub(r"<[^>]+>", "", str(text)).strip()


def _parse_choices(text: str) -> dict[str, str]:
    """``"1, Male | 2, Female"`` -> ``{"1": "Male", "2": "Female"}`` (labels may hold commas)."""
    out = {}
    for part in text.split("|"):
        code, _, label = part.partition(",")
        if code.strip():
            out[code.strip()] = _strip_html(label.strip() or code.strip())
    return out


def _registry_field(variable: str) -> tuple[str, str] | None:
    """The (table, field) a REDCap variable feeds: its alias, else the first table with that field name."""
    from .redcap import ALIASES

    for (t, f), alias in ALIASES.items():
        if alias == variable:
            return t, f
    for t in TABLES.values():
        if variable in t.field_names and variable != "patient_id":
            return t.name, variable
    return None


@lru_cache(maxsize=1)
def _no_mapping():
    from ..mapping import SiteMapping

    return SiteMapping.model_validate({"tables": {}})


def _registry_value(label: str, table: str, field: str) -> str:
    """A choice label as a registry code when it names one (directly or through a shipped synonym)."""
    from ..mapping import value_map

    spec = TABLES[table].get(field)
    if spec.type != "code":
        return label
    codes = {_fold(c): c for c in spec.codes}
    key = _fold(label)
    return codes.get(key) or value_map(_no_mapping(), table, field).get(key) or label


# complexity: one pass over the export's columns, each kind of REDCap field (checkbox, choice, text) in its branch
def apply_dictionary(frame: pd.DataFrame, dd: DataDictionary, log: ProblemLog) -> pd.DataFrame:  # noqa: C901
    """A raw or label export as the raw export with registry codes: headers -> variable names, choice codes or
    labels -> registry values, checkbox ``Checked``/``Unchecked`` -> 1/0."""
    by_label = {}
    for v, label in dd.variables["label"].items():
        by_label.setdefault(_fold(label), v)
    forms = {_fold(f): f for f in dd.forms}
    rename, complete = {}, 0
    for c in frame.columns:
        if c in dd.variables.index or "___" in c or c.startswith("redcap_") or c.endswith("_complete"):
            continue
        key = _fold(c)
        if key in LABEL_COLUMNS and LABEL_COLUMNS[key] != "record_id":
            rename[c] = LABEL_COLUMNS[key]
        elif key in ("complete", "complete?") or key.startswith("complete"):
            complete += 1
            rename[c] = f"form{complete}_complete"      # "Complete?" of each form: status, never data
        elif key in by_label:
            rename[c] = by_label[key]
        else:
            m = _CHOICE_HEADER.match(str(c))
            if m and _fold(m.group(1)) in by_label:
                var = by_label[_fold(m.group(1))]
                code = next((k for k, lab in dd.choices.get(var, {}).items() if _fold(lab) == _fold(m.group(2))),
                            None)
                if code is not None:
                    rename[c] = f"{var}___{code.lower()}"
    if rename:
        frame = frame.rename(columns=rename)
    if "redcap_repeat_instrument" in frame.columns:
        inst = frame["redcap_repeat_instrument"]
        frame["redcap_repeat_instrument"] = inst.map(lambda v: forms.get(_fold(v), v) if isinstance(v, str) and
                                                     v.strip() else v)
    out = {}
    for c in frame.columns:
        base, _, code = c.partition("___")
        choices = dd.choices.get(base)
        target = _registry_field(base)
        s = frame[c]
        if code and choices is not None:
            # checkbox: "Checked"/"Unchecked" in label exports; the column's code as the registry code
            s = s.map(lambda v: {"checked": "1", "unchecked": "0"}.get(str(v).strip().lower(), v)
                      if isinstance(v, str) else v)
            if target is not None and TABLES[target[0]].get(target[1]).type == "code":
                label = choices.get(code) or next((lab for k, lab in choices.items() if k.lower() == code), code)
                c = f"{base}___{_registry_value(label, *target)}"
        elif choices is not None and target is not None:
            lookup = {}
            for k, lab in choices.items():
                lookup[k] = _registry_value(lab, *target)
                lookup.setdefault(lab, lookup[k])
                lookup.setdefault(lab.strip().lower(), lookup[k])
            uniq = pd.unique(s.astype(object))
            conv = {u: lookup.get(str(u).strip(), lookup.get(str(u).strip().lower(), u)) for u in uniq
                    if isinstance(u, str) and u.strip()}
            s = s.map(lambda v, conv=conv: conv.get(v, v))
        out[c] = s
    return pd.DataFrame(out, index=frame.index)


def report_dictionary(frame: pd.DataFrame, dd: DataDictionary, used_forms: set[str], log: ProblemLog) -> None:
    """Instruments of the project that are not registry tables: their fields are kept aside, one warning each."""
    from .redcap import INSTRUMENTS

    extra = [f for f in dd.forms if f.lower() not in INSTRUMENTS and f.lower() != "patients" and f not in used_forms]
    for form in extra:
        variables = [v for v, f in dd.variables["form"].items() if f == form]
        present = [v for v in variables if v in frame.columns or any(c.startswith(v + "___") for c in frame.columns)]
        log.warning("redcap", "redcap_extra_instrument",
                    f"instrument {form!r} ({len(variables)} field(s): {', '.join(variables[:8])}"
                    f"{', ...' if len(variables) > 8 else ''}) is not part of the registry; its "
                    f"{len(present)} exported field(s) are kept aside, not imported")
