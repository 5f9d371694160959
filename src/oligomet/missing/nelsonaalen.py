"""The cumulative hazard at each subject's own time, as ``mice::nelsonaalen`` (White & Royston 2009).

White & Royston (Stat Med 2009;28:1982-98) show that an imputation model for a covariate of a Cox model
should contain the event indicator D and the cumulative baseline hazard H(T) at the subject's time, not
T or log T. ``mice::nelsonaalen(data, time, status)`` returns ``basehaz(coxph(Surv(time, status) ~ 1))``
looked up at each row's time. For a model without covariates and R's default Efron ties this is the
Fleming-Harrington estimator: d events tied at a time with n at risk add 1/n + 1/(n-1) + ... + 1/(n-d+1)
(the Nelson-Aalen estimator would add d/n); without ties the two are equal.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import event_array, event_codes, require_frame, require_roles, time_array
from ..survival._ties import merge_near_ties


def nelsonaalen(data: pd.DataFrame, time: str, event: str, cause: int | None = None) -> pd.Series:
    """Cumulative hazard H(T_i) at each row's time, as R's ``mice::nelsonaalen(data, time, event)``.

    ``event`` is 0/1 (or True/False). With ``cause=`` the column holds competing-risk codes (0 =
    censored) and H is the cause-specific cumulative hazard of ``cause`` (other causes count as
    censored), which is ``mice::nelsonaalen`` on the indicator ``event == cause``.
    Returns a Series aligned with ``data``'s index, named ``H(<time>)``.
    """
    data = require_frame(data)
    require_roles(data, time=time, event=event)
    t = merge_near_ties(time_array(data, time))   # coxph's aeqSurv, which basehaz inherits
    if cause is None:
        d = event_array(data, event)
    else:
        d = (event_codes(data, event) == cause).astype(float)
    return pd.Series(cumulative_hazard_at(t, d), index=data.index, name=f"H({time})")


def cumulative_hazard_at(t: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Efron/Fleming-Harrington cumulative hazard of (t, d) evaluated at each t (events at t included)."""
    if t.size == 0:
        return np.zeros(0)
    times, inverse = np.unique(t, return_inverse=True)
    deaths = np.bincount(inverse, weights=d, minlength=times.size)
    rows = np.bincount(inverse, minlength=times.size)
    at_risk = np.cumsum(rows[::-1])[::-1].astype(float)
    # sum_{j<d} 1/(n - j) = H(n) - H(n - d) with harmonic numbers; exact sums are short, so loop on ties only
    incr = np.zeros(times.size)
    single = deaths <= 1
    incr[single] = deaths[single] / at_risk[single]
    for i in np.flatnonzero(~single):
        incr[i] = np.sum(1.0 / (at_risk[i] - np.arange(int(deaths[i]))))
    return np.cumsum(incr)[inverse]
