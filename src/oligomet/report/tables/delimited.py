"""CSV writer: the tidy numbers, full precision, ISO dates, empty cell for missing; text that starts like a
formula (``=``, ``+``, ``-``, ``@``) is prefixed with a single quote."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..._spreadsheet import csv_safe_frame
from .model import ReportTable


def write_csv(table: ReportTable, folder: str | Path) -> Path:
    path = Path(folder) / f"{table.name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    # index only when it carries meaning (e.g. Cox terms); a RangeIndex is noise
    keep_index = not isinstance(table.data.index, pd.RangeIndex)
    # no float_format: pandas writes the shortest repr that round-trips, so the CSV loses no precision
    # text cells that a spreadsheet would run as a formula get a leading quote (see oligomet._spreadsheet)
    csv_safe_frame(table.data).to_csv(path, index=keep_index, lineterminator="\n", date_format="%Y-%m-%d")
    return path
