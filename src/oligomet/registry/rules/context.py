"""What every rule module works on: positional tables, their file rows and patient ids."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..._pandas_compat import lookup
from ..._validation import lock_date
from ..fields import TABLE_ORDER
from ..report import ProblemLog


@dataclass
class Context:
    tables: dict[str, pd.DataFrame]       # positional (RangeIndex) copies of the registry tables
    rows: dict[str, np.ndarray]           # 1-based file row of each table row
    pid: dict[str, pd.Series]             # patient id of each table row (complications via treatment)
    log: ProblemLog
    data_lock: pd.Timestamp | None = None

    @classmethod
    def build(cls, tables: dict[str, pd.DataFrame], log: ProblemLog, data_lock=None) -> "Context":
        t, rows, pid = {}, {}, {}
        for name in TABLE_ORDER:
            frame = tables[name]
            rows[name] = (frame.index.to_numpy(dtype=object) if frame.index.name == "row"
                          else np.arange(1, len(frame) + 1, dtype=object))
            t[name] = frame.reset_index(drop=True)
        for name in TABLE_ORDER:
            if "patient_id" in t[name]:
                pid[name] = t[name]["patient_id"]
        owner = t["treatments"].drop_duplicates("treatment_id").set_index("treatment_id")["patient_id"]
        pid["complications"] = lookup(t["complications"]["treatment_id"], owner)
        lock = None if data_lock is None else lock_date(data_lock).normalize()
        return cls(t, rows, pid, log, lock)

    @property
    def treated_lesions(self) -> pd.DataFrame:
        """One row per (treatment row position, listed lesion id): ``pos``, ``lesion_id``."""
        if not hasattr(self, "_treated"):
            # ``str.split(";").explode()`` without pandas' per-cell lists: the cells joined and split once,
            # each cell's position repeated once per id in it. Non-text cells list nothing (the str
            # accessor gives them NaN).
            cells = self.tables["treatments"]["lesion_ids"].to_numpy(dtype=object)
            where = np.array([i for i, v in enumerate(cells) if isinstance(v, str)], dtype=np.int64)
            ids = np.array(";".join(cells[where]).split(";") if len(where) else [], dtype=object)
            pos = np.repeat(where, np.fromiter((v.count(";") + 1 for v in cells[where]), dtype=np.int64,
                                               count=len(where)))
            keep = ids != ""
            self._treated = pd.DataFrame({"pos": pos[keep], "lesion_id": ids[keep]})
        return self._treated

    def patient_pos(self, table: str) -> np.ndarray:
        """Position of each row's patient in the de-duplicated patients table (-1: unknown).

        Found for every table at once and cached: the string lookups are the validator's main cost.
        One ``factorize`` of the patients' ids followed by every table's ids numbers each id by its
        first appearance, so the patients' ids get 0, 1, ... in the order of ``patient_index``, and an
        id that no patients row has gets a higher number: ~5 times faster than ``get_indexer`` per table.
        """
        cache = self.__dict__.setdefault("_patient_pos", {})
        if table not in cache:
            names = [n for n in self.pid if n not in cache]
            ids = self.tables["patients"]["patient_id"].to_numpy(dtype=object)
            keys = [self.pid[n].to_numpy(dtype=object) for n in names]
            codes, uniques = pd.factorize(np.concatenate([ids, *keys]), use_na_sentinel=True)
            known = len(self.patient_index)  # the distinct non-missing ids of the patients table
            start = len(ids)
            for n, k in zip(names, keys):
                c = codes[start:start + len(k)]
                cache[n] = np.where(c < known, c, -1).astype(np.intp)
                start += len(k)
        return cache[table]

    @property
    def treated_lesion_rows(self) -> np.ndarray:
        """Position in ``lesions`` of the first row of each ``treated_lesions`` id (-1: no such lesion).

        What a lookup in ``lesions.drop_duplicates("lesion_id")`` gives, for the lesion-level rules;
        the listed ids are never missing, so missing lesion ids cannot match.
        """
        if "_treated_rows" not in self.__dict__:
            self._treated_rows = first_positions(self.tables["lesions"]["lesion_id"].to_numpy(dtype=object),
                                                 self.treated_lesions["lesion_id"].to_numpy(dtype=object))
        return self._treated_rows

    def treated_lesion_value(self, field: str) -> np.ndarray:
        """``lesions.<field>`` of the first row of each ``treated_lesions`` id; NaT or None where unknown."""
        column = self.tables["lesions"][field]
        dtype = "datetime64[ns]" if field.endswith("date") else object
        values = np.append(column.to_numpy(dtype=dtype), np.array([None], dtype=dtype))
        return values[self.treated_lesion_rows]  # -1 (no such lesion) picks the appended missing value

    @property
    def patient_index(self) -> pd.Index:
        if "_patient_index" not in self.__dict__:
            p = self.tables["patients"]
            first = ~p["patient_id"].duplicated().to_numpy() & p["patient_id"].notna().to_numpy()
            self._first_patient_rows = np.flatnonzero(first)
            self._patient_index = pd.Index(p["patient_id"].to_numpy()[first])
        return self._patient_index

    def patient_value(self, table: str, field: str) -> pd.Series:
        """``patients.<field>`` of each row's patient (missing when the patient is unknown)."""
        pos = self.patient_pos(table)
        values = self.tables["patients"][field].iloc[self._first_patient_rows]
        out = values.iloc[np.where(pos < 0, 0, pos)].reset_index(drop=True) if len(values) else \
            pd.Series(pd.NaT if field.endswith("date") else None, index=range(len(pos)))
        out.index = self.tables[table].index
        return out.mask(pos < 0)

    def death(self, table: str) -> pd.Series:
        """Death date of each row's patient (first patients row of that id)."""
        return self.patient_value(table, "death_date")

    def flag(self, severity: str, table: str, rule: str, mask, field: str | None, message, value=None) -> None:
        """Add one problem per True in ``mask`` (aligned with the positional table)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        frame = self.tables[table]
        if value is None and field is not None and field in frame:
            value = frame[field]
        if callable(message):  # built only for the offending rows: formatting 1M dates costs seconds
            message = pd.Series(np.asarray(message(mask), dtype=object))
        elif isinstance(message, pd.Series):
            message = message[mask].reset_index(drop=True)
        self.log.add(severity, table, rule, message, rows=self.rows[table][mask],
                     patient_id=self.pid[table][mask].astype(object).where(self.pid[table][mask].notna(), None)
                     .to_numpy(dtype=object),
                     field=field, value=None if value is None else value[mask].reset_index(drop=True))

    def error(self, table, rule, mask, field, message, value=None) -> None:
        self.flag("error", table, rule, mask, field, message, value)

    def warning(self, table, rule, mask, field, message, value=None) -> None:
        self.flag("warning", table, rule, mask, field, message, value)


def first_positions(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Position of the first element of ``values`` equal to each key (-1: none, or a missing key).

    One ``factorize`` of values then keys numbers each distinct value by its first appearance, so a
    key's code is a value's code when it occurs in ``values``; 5 times faster than ``get_indexer``
    or ``Series.map`` on 10^5 text ids, which convert them to Arrow strings and back.
    """
    codes, _ = pd.factorize(np.concatenate([values, keys]), use_na_sentinel=True)
    n = len(values)
    seen, first = np.unique(codes[:n], return_index=True)  # each code of values, where it first occurs
    known = int(seen.max(initial=-1)) + 1                  # values hold codes 0..known-1 (-1: missing)
    table = np.full(known, -1, dtype=np.intp)
    table[seen[seen >= 0]] = first[seen >= 0]
    key_codes = codes[n:]
    inside = (key_codes >= 0) & (key_codes < known)
    return np.where(inside, table[np.where(inside, key_codes, 0)] if known else -1, -1).astype(np.intp)


def iso(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").fillna("")
