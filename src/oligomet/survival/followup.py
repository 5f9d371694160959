"""Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith, 1996).

The event indicator is flipped (a censoring becomes the "event", a death a
censoring) and the median of that curve is taken, exactly as R's
``quantile(survfit(Surv(time, 1 - status) ~ 1), 0.5)``, with quantile.survfit's
midpoint rule and near-tie merging. Unlike the median of observed times it is not
shortened by early deaths.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import event_array, require_frame, require_roles
from .kaplan_meier import kaplan_meier


@dataclass(frozen=True)
class FollowUp:
    """Reverse-KM follow-up: ``median`` with its CI (``lower``, ``upper``, log CI as R's
    default), ``q25`` and ``q75`` (the IQR), ``n`` patients and ``n_censored``."""

    median: float
    lower: float
    upper: float
    q25: float
    q75: float
    n: int
    n_censored: int

    def __float__(self) -> float:
        return float(self.median)

    def __str__(self) -> str:
        return (f"median follow-up {self.median:g} (95% CI {self.lower:g} to {self.upper:g}; "
                f"IQR {self.q25:g} to {self.q75:g}), n = {self.n}")


def median_followup(data: pd.DataFrame, time: str, event: str, details: bool = False,
                    conf_level: float = 0.95) -> float | FollowUp:
    """Reverse Kaplan-Meier median follow-up (a float; ``details=True`` gives a :class:`FollowUp`)."""
    data = require_frame(data)
    require_roles(data, time=time, event=event)
    flipped = pd.DataFrame({"time": data[time], "censored": 1.0 - event_array(data, event)}, index=data.index)
    km = kaplan_meier(flipped, time="time", event="censored", conf_level=conf_level)
    if not details:
        return float(km.medians["median"].iloc[0])
    q = km.quantile([0.25, 0.5, 0.75]).set_index("quantile")
    return FollowUp(median=float(q.loc[0.5, "time"]), lower=float(q.loc[0.5, "lower"]),
                    upper=float(q.loc[0.5, "upper"]), q25=float(q.loc[0.25, "time"]), q75=float(q.loc[0.75, "time"]),
                    n=len(data), n_censored=int(np.sum(flipped["censored"].to_numpy())))
