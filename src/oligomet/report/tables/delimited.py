"""CSV writer: the tidy numbers, full precision, ISO dates, empty cell for missing."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .model import ReportTable


def write_csv(table: ReportTable, folder: str | Path) -> Path:
    path = Path(folder) / f"{table.name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    # index only when it carries meaning (e.g. Cox terms); a RangeIndex is noise
    keep_index = not isinstance(table.data.index, pd.RangeIndex)
    # no float_format: pandas writes the shortest repr that round-trips, so the CSV loses no precision
    table.data.to_csv(path, index=keep_index, lineterminator="\n", date_format="%Y-%m-%d")
    return path
