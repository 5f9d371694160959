"""What every rule module works on: positional tables, their file rows and patient ids."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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
        pid["complications"] = t["complications"]["treatment_id"].map(owner)
        lock = None if data_lock is None else pd.Timestamp(data_lock).normalize()
        return cls(t, rows, pid, log, lock)

    def death(self, table: str) -> pd.Series:
        """Death date of each row's patient (first patients row of that id)."""
        p = self.tables["patients"].drop_duplicates("patient_id").set_index("patient_id")["death_date"]
        return self.pid[table].map(p)

    def flag(self, severity: str, table: str, rule: str, mask, field: str | None, message, value=None) -> None:
        """Add one problem per True in ``mask`` (aligned with the positional table)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        frame = self.tables[table]
        if value is None and field is not None and field in frame:
            value = frame[field]
        if isinstance(message, pd.Series):
            message = message[mask].reset_index(drop=True)
        self.log.add(severity, table, rule, message, rows=self.rows[table][mask],
                     patient_id=self.pid[table][mask].astype(object).where(self.pid[table][mask].notna(), None)
                     .to_numpy(dtype=object),
                     field=field, value=None if value is None else value[mask].reset_index(drop=True))

    def error(self, table, rule, mask, field, message, value=None) -> None:
        self.flag("error", table, rule, mask, field, message, value)

    def warning(self, table, rule, mask, field, message, value=None) -> None:
        self.flag("warning", table, rule, mask, field, message, value)


def iso(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").fillna("")
