"""The numbers behind R's two residual plots for a Cox model, as tidy frames for the report's figures.

* :func:`scaled_schoenfeld_smooth`: ``plot(cox.zph(fit))``: per term the scaled Schoenfeld residuals
  β(t) = β + scaled residual (R's ``cox.zph(fit)$y``) against transformed time, with ``plot.cox.zph``'s
  least-squares natural spline (``df = 4``, 40 points) and its ± 2 SE band. A curve that is not flat
  means the term's effect changes with time (non-proportional hazards).
* :func:`martingale_smooth`: martingale residuals against a covariate with R's ``lowess``, to choose a
  covariate's functional form (a straight line: linear is fine; a bend: transform or split it).

The figures (``oligomet.report.figures.residuals``) draw these frames and compute nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from ._smooth import lowess, spline_smooth
from .zph import zph_residuals

if TYPE_CHECKING:  # pragma: no cover
    from .cox import CoxResult

__all__ = ["ResidualSmooth", "scaled_schoenfeld_smooth", "martingale_smooth"]


@dataclass(frozen=True)
class ResidualSmooth:
    """Tidy frames of a residual plot.

    ``points``: columns ``term``, ``x``, ``residual`` (and ``time`` for scaled Schoenfeld residuals).
    ``curve``: columns ``term``, ``x``, ``fit``, ``lower``, ``upper`` (the band; NaN for lowess).
    ``ticks``: x positions and labels for the axis (``x``, ``label``): original times on the transformed
    axis, as R labels it; empty when x is already in the data's units.
    ``xlabel``, ``ylabel``: axis titles; ``log_x``: draw x on a log scale (``transform="log"``).
    """

    points: pd.DataFrame
    curve: pd.DataFrame
    ticks: pd.DataFrame
    xlabel: str
    ylabel: str
    log_x: bool = False


def _time_ticks(g: np.ndarray, time: np.ndarray) -> pd.DataFrame:
    """R's axis for a transformed time: 8 points evenly spread over g, the times there rounded to 2
    significant digits, placed back on the g scale by linear interpolation (``plot.cox.zph``)."""
    g_u, first = np.unique(g, return_index=True)           # R drops duplicated x before approx()
    t_u = time[first]
    at = np.linspace(g.min(), g.max(), 17)[1::2]
    t_at = np.interp(at, g_u, t_u)
    labels = np.array([float(f"{v:.2g}") for v in t_at])
    o = np.argsort(t_u, kind="stable")
    inside = (labels >= t_u.min()) & (labels <= t_u.max())  # R's approx gives NA outside: no tick
    return pd.DataFrame({"x": np.interp(labels[inside], t_u[o], g_u[o]),
                         "label": [f"{v:g}" for v in labels[inside]]})


def scaled_schoenfeld_smooth(fit: "CoxResult", transform: str | Callable = "km", df: int = 4, nsmo: int = 40,
                             terms=None) -> ResidualSmooth:
    """``plot(cox.zph(fit, transform), df = 4, nsmo = 40)`` as data: residual points, spline and ± 2 SE band.

    ``terms``: the terms to include (default all; a factor is one term, as in ``cox.zph``). Uses the fit's
    analysed rows, strata, weights and ties, like :meth:`CoxResult.zph`."""
    per_column = [t.column for t in fit.design.terms for _ in t.names]
    z = zph_residuals(fit._time, fit._event, fit._X, fit.coef, per_column, strata=fit._strata,
                      weights=fit._weights, ties=fit.ties, transform=transform, start=fit._start)
    names = list(z.var.index)
    chosen = names if terms is None else [terms] if isinstance(terms, str) else list(terms)
    unknown = [t for t in chosen if t not in names]
    if unknown:
        raise ValueError(f"unknown term(s) {unknown}; the model's terms are {names}")
    g = z.table["g"].to_numpy()
    time = z.table["time"].to_numpy()
    log_x = transform == "log"
    x = np.exp(g) if log_x else g
    points, curves = [], []
    for term in chosen:
        y = z.table[term].to_numpy()
        keep = np.isfinite(y)
        points.append(pd.DataFrame({"term": term, "time": time[keep], "x": x[keep], "residual": y[keep]}))
        grid, smooth, half = spline_smooth(g, y, float(z.var.loc[term, term]), df=df, nsmo=nsmo)
        curves.append(pd.DataFrame({"term": term, "x": np.exp(grid) if log_x else grid, "fit": smooth,
                                    "lower": smooth - half, "upper": smooth + half}))
    named = isinstance(transform, str) and transform in ("identity", "log")
    ticks = pd.DataFrame({"x": [], "label": []}) if named or callable(transform) else _time_ticks(g, time)
    return ResidualSmooth(points=pd.concat(points, ignore_index=True), curve=pd.concat(curves, ignore_index=True),
                          ticks=ticks, xlabel="Time", ylabel="Beta(t)", log_x=log_x)


def martingale_smooth(fit: "CoxResult", covariate, f: float = 2 / 3, iterations: int = 3,
                      label: str | None = None) -> ResidualSmooth:
    """Martingale residuals of ``fit`` against ``covariate`` with R's ``lowess(x, resid, f, iter)``.

    ``covariate``: a Series indexed like the fitted data (e.g. ``data["age"]``; only the analysed rows are
    used) or one value per analysed row. For the functional form of a covariate, R's advice is to fit the
    model without it (or with no covariates) and smooth those residuals against it."""
    res = fit.residuals("martingale")
    if isinstance(covariate, pd.Series):
        missing = ~res.index.isin(covariate.index)
        if missing.any():
            raise ValueError(f"covariate: no value for {int(missing.sum())} analysed row(s), e.g. index "
                             f"{res.index[missing][0]!r}")
        x = covariate.loc[res.index].to_numpy(dtype=float)
        label = label or str(covariate.name)
    else:
        x = np.asarray(covariate, dtype=float).ravel()
        if x.size != len(res):
            raise ValueError(f"covariate has {x.size} values but the model analysed {len(res)} rows")
    if not np.isfinite(x).all():
        raise ValueError(f"covariate has {int((~np.isfinite(x)).sum())} missing or infinite value(s) among the "
                         "analysed rows; smooth against a complete covariate")
    label = label or "covariate"
    y = res["martingale"].to_numpy()
    xs, smooth = lowess(x, y, f=f, iterations=iterations)
    points = pd.DataFrame({"term": label, "x": x, "residual": y}, index=res.index)
    curve = pd.DataFrame({"term": label, "x": xs, "fit": smooth, "lower": np.nan, "upper": np.nan})
    return ResidualSmooth(points=points, curve=curve, ticks=pd.DataFrame({"x": [], "label": []}), xlabel=label,
                          ylabel="Martingale residual")
