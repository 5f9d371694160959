"""Missing data: multiple imputation by chained equations (as R's mice 3.15) and Rubin's rules.

* :func:`impute` (``mice.py``): m completed datasets by MICE with predictive mean matching, logistic and
  polytomous regression (``methods.py``); with ``time=``/``event=`` the event indicator and the
  Nelson-Aalen cumulative hazard enter the imputation models (White & Royston 2009, ``nelsonaalen.py``).
* :func:`pool`, :func:`pool_cox`, :func:`pool_fine_gray`, :func:`pool_logistic` (``pool.py``): Rubin's rules
  as ``mice::pool``.

See ``docs/missing.md``.
"""
from __future__ import annotations

from .mice import Imputation, impute
from .nelsonaalen import nelsonaalen
from .pool import LogisticModel, PooledResult, logistic, pool, pool_cox, pool_fine_gray, pool_logistic, rubin

__all__ = ["impute", "Imputation", "nelsonaalen", "pool", "pool_cox", "pool_fine_gray", "pool_logistic", "logistic",
           "LogisticModel", "PooledResult", "rubin"]
