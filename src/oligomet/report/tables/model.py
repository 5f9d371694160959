"""The report table: what every writer receives."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class ReportTable:
    """``data`` is tidy (numbers; goes to CSV, XLSX and results.json); ``display`` is the same table
    formatted for reading (strings; goes to HTML and DOCX). ``display`` defaults to ``data``.

    ``name`` is the file stem (``table1``, ``cox_os``); ``title`` the caption; ``note`` a footnote
    (abbreviations, tests used).
    """

    name: str
    title: str
    data: pd.DataFrame
    display: pd.DataFrame | None = None
    note: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def shown(self) -> pd.DataFrame:
        return self.display if self.display is not None else self.data


def format_cell(v) -> str:
    """Text of one table cell in HTML and Word: missing -> empty, floats to 4 significant digits."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return str(v)
