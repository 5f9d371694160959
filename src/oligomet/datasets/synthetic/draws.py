"""Time units, the data lock and the vectorised random draws every setting of the synthetic registry uses.

Times are drawn in months and stored as whole days since 1970-01-01 (``to_days``: at least one day, so
every event falls strictly after the treatment it follows).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

DATA_LOCK = pd.Timestamp("2024-12-31")
DAYS_PER_MONTH = 30.4375
EPOCH_LOCK = int((DATA_LOCK - pd.Timestamp("1970-01-01")).days)   # the data lock in days since 1970-01-01


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def exp_months(rng, rate):
    return rng.exponential(1.0, size=np.shape(rate)) / rate


def weibull_months(rng, median, shape, size, hr=1.0):
    """Weibull with the given median at HR 1; PH: hazard multiplied by ``hr``."""
    scale = median / np.log(2.0) ** (1.0 / shape)
    return scale * (rng.exponential(1.0, size) / hr) ** (1.0 / shape)


def to_days(months):
    return np.maximum(1, np.ceil(np.asarray(months, dtype=float) * DAYS_PER_MONTH)).astype(np.int64)


def uniform_days(rng, lo, hi, size):
    return rng.integers(lo, hi + 1, size=size).astype(np.int64)


def pick(rng, choices, probs, size):
    return np.asarray(choices, dtype=object)[rng.choice(len(choices), size=size, p=np.asarray(probs) / np.sum(probs))]
