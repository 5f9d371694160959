"""Results shown in Jupyter as their tidy tables (``_repr_html_``), so a notebook user sees the numbers a
result holds without knowing its attribute names. Nothing here prints; the tables are the result's own frames."""
from __future__ import annotations

import html

import pandas as pd

_MAX_ROWS = 20   # a notebook cell, not a data dump: ``result.<table>`` gives the whole frame


class TidyTablesHTML:
    """Mixin: ``_html_tables`` names the attributes (DataFrame/Series, or a scalar) to show, in order."""

    _html_tables: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        parts = [f"<div class='oligomet-result'><p><strong>{html.escape(type(self).__name__)}</strong></p>"]
        scalars = {}
        for name in self._html_tables:
            value = getattr(self, name)
            if isinstance(value, pd.Series):
                value = value.to_frame()
            if isinstance(value, pd.DataFrame):
                parts.append(f"<p><code>.{html.escape(name)}</code></p>"
                             + value.to_html(max_rows=_MAX_ROWS, border=0, float_format=lambda x: f"{x:.6g}"))
            else:
                scalars[name] = value
        if scalars:
            parts.insert(1, pd.DataFrame({"value": [_scalar(v) for v in scalars.values()]},
                                         index=[f".{k}" for k in scalars]).to_html(border=0))
        return "".join(parts) + "</div>"


def _scalar(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
