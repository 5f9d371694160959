"""Interactive curves: the survival tables the pages show, as plain JSON for ``static/plots.js``, which
draws them with Plotly. Plotly's script is served by the app itself from the installed ``plotly``
Python package (never a CDN, never a copy in this repository); the pages keep their inline SVG as the
fallback when the script is off.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd


@lru_cache(maxsize=1)
def plotly_js() -> Path:
    """The ``plotly.min.js`` shipped in the ``plotly`` package's package_data (the web extra installs it)."""
    try:
        import plotly
    except ImportError:
        raise FileNotFoundError("the interactive plots need the 'plotly' package: "
                                "pip install 'oligomet[web]'") from None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall plotly")
    return path


def _numbers(values) -> list:
    """JSON-safe floats (NaN -> null), rounded: 4 decimals is finer than any screen."""
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4) for v in values]


def curves(frame: pd.DataFrame | None, group_col: str, *, title: str, xmax: float | None = None,
           ytitle: str = "Overall survival", xtitle: str = "Months") -> dict:
    """``{"title", "xmax", "xtitle", "ytitle", "series": [{"name", "time", "survival", "lower", "upper", "n_risk"}]}``
    from a table with ``group_col``, ``time``, ``survival`` and optionally ``lower``/``upper``/``n_risk``
    (one series per group, in order of appearance; a curve starts at (0, 1) as the step plots do)."""
    series = []
    if frame is not None and len(frame):
        for group, g in frame.groupby(group_col, sort=False, observed=True):
            g = g.sort_values("time")
            if xmax is not None:
                g = g[g["time"] <= xmax]
            if not len(g):
                continue
            first = {"time": 0.0, "survival": 1.0, "lower": 1.0, "upper": 1.0}
            if "n_risk" in g:
                first["n_risk"] = g["n_risk"].iloc[0]
            g = pd.concat([pd.DataFrame([first]), g], ignore_index=True) if g["time"].iloc[0] > 0 else g
            item = {"name": str(group), "time": _numbers(g["time"]), "survival": _numbers(g["survival"])}
            for col in ("lower", "upper", "n_risk"):
                item[col] = _numbers(g[col]) if col in g else None
            series.append(item)
    return {"kind": "survival", "title": title, "xmax": xmax, "xtitle": xtitle, "ytitle": ytitle,
            "series": series}


def concordance_series(table: pd.DataFrame) -> dict:
    """Share of concordant decisions per month, one series per site (and all sites), with Wilson CIs."""
    series = []
    for site, g in table.groupby("site", sort=False):
        series.append({"name": str(site), "period": list(g["period"]), "share": _numbers(g["share"]),
                       "lower": _numbers(g["lower"]), "upper": _numbers(g["upper"]), "n": [int(x) for x in g["n"]]})
    return {"kind": "concordance", "title": "Decisions concordant with the rules, per month", "series": series}
