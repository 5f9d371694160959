"""Survival outcome analysis after matching or weighting, through the survival core's public API.

Follows MatchIt's vignette "Estimating Effects After Matching" (Greifer):

* matched without replacement: Cox on the matched data with the matching weights and a
  cluster-robust SE clustered on the matched set (``subclass``); KM by group (weighted by the
  matching weights when they are not all 1); log-rank on the matched sample (only when all
  matching weights are 1, since the log-rank test takes no weights);
* matched with replacement: as above but with a robust (sandwich) SE on the individual, since
  a control can sit in several matched sets (MatchIt's recommendation without cluster
  bootstrap);
* weighting: weighted KM (robust SE, as R's survfit with non-integer weights) and weighted Cox
  with a robust SE (R's ``coxph(..., weights = w, robust = TRUE)``); no log-rank test.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .result import MatchResult, WeightResult


@dataclass(frozen=True)
class MatchedSurvival:
    """``km``: oligomet.kaplan_meier result by treatment; ``logrank``: log-rank result or None;
    ``cox``: Cox result (coefficient of the treatment = log HR treated vs control, robust SE);
    ``data``: the analysed rows; ``notes``: what was done and why."""

    km: object
    logrank: object | None
    cox: object
    data: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def matched_survival(result: MatchResult | WeightResult, time: str, event: str) -> MatchedSurvival:
    """KM, log-rank and Cox (robust SE) for the treatment effect after :func:`match` / :func:`weight`.

    ``time`` and ``event`` must be columns of the data given to ``match``/``weight`` (they are
    carried in ``matched_data`` / ``data``).
    """
    import oligomet as om  # the survival core, through its public API

    treatment = result.treatment
    notes: list[str] = []
    if isinstance(result, MatchResult):
        d = result.matched_data
        replace = bool(result.settings.get("replace"))
        w = d["weights"].to_numpy(dtype=float)
        unit_weights = bool(np.allclose(w, 1.0))
        if replace:
            cox = om.cox(d, time=time, event=event, covariates=[treatment], weights="weights", robust=True)
            notes.append("matched with replacement: Cox with matching weights and robust SE (no pair clustering)")
        else:
            d = d.assign(subclass=d["subclass"].astype("int64"))
            cox = om.cox(d, time=time, event=event, covariates=[treatment], weights="weights", cluster="subclass")
            notes.append("Cox with matching weights and SE clustered on the matched set (subclass)")
    elif isinstance(result, WeightResult):
        d = result.data
        unit_weights = False
        cox = om.cox(d, time=time, event=event, covariates=[treatment], weights="weights", robust=True)
        notes.append(f"weighted Cox ({result.estimand} weights) with robust SE")
    else:
        raise TypeError(f"matched_survival needs a MatchResult or WeightResult, got {type(result).__name__}")
    if unit_weights:
        km = om.kaplan_meier(d, time=time, event=event, by=treatment)
        lr = om.logrank(d, time=time, event=event, by=treatment)
    else:
        km = om.kaplan_meier(d, time=time, event=event, by=treatment, weights="weights")
        lr = None
        notes.append("weighted KM; log-rank omitted (it takes no weights): use the robust Cox test")
    return MatchedSurvival(km=km, logrank=lr, cox=cox, data=d, notes=notes)
