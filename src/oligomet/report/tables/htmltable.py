"""HTML table: the display frame, escaped, with caption and footnote."""
from __future__ import annotations

import html

import pandas as pd

from .model import ReportTable, format_cell


def html_table(table: ReportTable, *, index: bool | None = None) -> str:
    frame = table.shown
    if index is None:
        index = not isinstance(frame.index, pd.RangeIndex)
    if index:
        frame = frame.reset_index()
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False, name=None):
        cells = "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in row)
        body.append(f"<tr>{cells}</tr>")
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return (f'<figure class="table" id="{html.escape(table.name)}"><table><caption>{html.escape(table.title)}'
            f"</caption><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}</figure>")
