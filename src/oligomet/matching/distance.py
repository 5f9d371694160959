"""Shared front end of :func:`match` and :func:`weight`: input checks, complete cases, the score.

``distance="glm"`` fits R's logistic ``glm`` (see :mod:`.propensity`). ``link="logit"``
(default) matches on the propensity score itself, as MatchIt does; ``link="linear.logit"``
matches on its logit (the linear predictor), which is where the common "caliper of 0.2 SD
of the logit of the propensity score" (Austin 2011) lives. MatchIt's older spellings are
accepted: ``distance="linear.logit"`` = glm + linear.logit; ``distance="logit"`` = glm +
logit, i.e. the *probability* scale (MatchIt's meaning, kept for scripts ported from R).
A numeric array / Series / column name may be given as a user-supplied distance.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._validation import DroppedRows, _rows, complete_cases, require_columns, require_frame
from .propensity import LogisticFit, PropensityWarning, design_matrix, fit_logistic, separating_covariates


def prepare(data, treatment: str, covariates, extra: list[str | None], what: str
            ) -> tuple[pd.DataFrame, np.ndarray, DroppedRows, list[str]]:
    """Validate, drop incomplete rows (reported), return the frame, the 0/1 treatment and the covariates."""
    data = require_frame(data)
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates or [])
    if not covariates:
        raise ValueError(f"{what}: give at least one covariate for the propensity model")
    require_columns(data, [treatment], "treatment column")
    require_columns(data, covariates, "covariate")
    if treatment in covariates:
        raise ValueError(f"{what}: the treatment column {treatment!r} is also listed as a covariate")
    frame, dropped = complete_cases(data, [treatment, *covariates, *extra], what=what)
    t = treatment_array(frame, treatment)
    n1 = int(t.sum())
    if n1 == 0 or n1 == len(t):
        which = "treated (1)" if n1 == 0 else "control (0)"
        raise ValueError(f"{what}: treatment column {treatment!r} has no {which} rows among the "
                         f"{len(t)} complete cases; both groups are needed")
    return frame, t, dropped, covariates


def treatment_array(data: pd.DataFrame, column: str) -> np.ndarray:
    """Treatment as int 0/1; anything other than {0, 1, True, False} is an error naming the rows."""
    raw = data[column]
    if raw.dtype == bool:
        return raw.to_numpy(dtype=np.int64)
    v = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(v, (0.0, 1.0))
    if bad.any():
        examples = sorted({repr(x) for x in raw[bad].head(5)})
        levels = raw.dropna().unique()
        hint = (f" (it has {len(levels)} distinct values; recode it to 1 = treated, 0 = control)"
                if len(levels) != 2 else " (recode it to 1 = treated, 0 = control)")
        raise ValueError(f"treatment column {column!r} must be binary 0/1 or True/False; found "
                         f"{', '.join(examples)} at {_rows(data.index[bad])}{hint}")
    return v.astype(np.int64)


def fit_propensity(frame: pd.DataFrame, t: np.ndarray, covariates: list[str]) -> LogisticFit:
    """R's ``glm(treat ~ covariates, family = binomial)``; warns on separation and aliasing."""
    X, names = design_matrix(frame, covariates)
    if X.shape[1] >= X.shape[0]:
        # glm would interpolate the treatment exactly: every score 0 or 1, nothing left to match on
        raise ValueError(f"propensity model: {X.shape[1]} terms (intercept and {X.shape[1] - 1} covariate column(s) "
                         f"from {len(covariates)} covariate(s)) but only {X.shape[0]} analysed rows; a logistic "
                         f"regression needs more rows than terms (and about 10 patients of the smaller group per "
                         f"term). Use fewer covariates or more patients")
    sep = separating_covariates(frame, covariates, t)
    if sep:
        warnings.warn(f"propensity model: covariate(s) {', '.join(map(repr, sep))} perfectly separate treated "
                      f"from control rows; the propensity scores will be 0 or 1 and matching on them is "
                      f"meaningless", PropensityWarning, stacklevel=3)
    return fit_logistic(X, t.astype(float), names)


LINKS = ("logit", "linear.logit")   # the scale a caliper and the distance are on (MatchIt's ``link``)


def resolve_distance(distance, link: str | None) -> str:
    """MatchIt's distance/link spelling -> "glm" with link "logit" or "linear.logit"."""
    if not isinstance(distance, str):
        return "user"
    d = distance.lower()
    if d == "linear.logit":
        return "linear.logit"
    if d == "mahalanobis":
        return "mahalanobis"
    if d in ("glm", "logit"):
        lk = (link or "logit").lower()
        if lk not in LINKS:
            raise ValueError(f"link must be 'logit' or 'linear.logit', got {link!r}")
        return lk
    raise ValueError(f"distance must be 'glm' (optionally with link='linear.logit'), 'linear.logit', 'mahalanobis', "
                     f"or a numeric array / column name of user distances; got {distance!r}")
