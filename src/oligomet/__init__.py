"""oligomet: multicenter cohort studies of lung and liver metastases.

The public API, by layer (see ``docs/architecture.md``):

* survival: :func:`kaplan_meier`, :func:`cumulative_hazard`, :func:`rmst` (restricted mean survival
  time), :func:`median_followup`, :func:`logrank`,
  :func:`logrank_trend`, :func:`cox`, :func:`time_dependent` (R's ``tmerge`` for time-dependent
  treatment indicators)
* competing risks: :func:`cumulative_incidence`, :func:`fine_gray`
* confounding control: :func:`match`, :func:`weight`
* description: :func:`table_one`
* registry and endpoints: :func:`derive_endpoints`, ``oligomet.registry``
* data: ``oligomet.datasets``

Names are imported on first use (PEP 562) so that ``import oligomet`` stays cheap:
the statistics do not pull in SQLAlchemy or matplotlib.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "kaplan_meier": "oligomet.survival.kaplan_meier",
    "cumulative_hazard": "oligomet.survival.cumhaz",
    "rmst": "oligomet.survival.rmst",
    "median_followup": "oligomet.survival.followup",
    "logrank": "oligomet.survival.logrank",
    "logrank_trend": "oligomet.survival.logrank",
    "cox": "oligomet.survival.cox",
    "time_dependent": "oligomet.survival.time_dependent",
    "landmark": "oligomet.survival.landmark",
    "cumulative_incidence": "oligomet.competing.cuminc",
    "fine_gray": "oligomet.competing.finegray",
    "match": "oligomet.matching.nearest",
    "weight": "oligomet.matching.weighting",
    "table_one": "oligomet.describe.table_one",
    "derive_endpoints": "oligomet.endpoints.derive",
    **dict.fromkeys(("impute", "pool", "pool_cox", "pool_fine_gray", "pool_logistic", "nelsonaalen"),
                    "oligomet.missing"),
}
_SUBPACKAGES = {"datasets", "survival", "competing", "matching", "describe", "missing", "registry", "endpoints",
                "study", "report"}

__all__ = sorted(_PUBLIC) + ["datasets", "CompleteCaseWarning", "DroppedRows"]

from ._validation import CompleteCaseWarning, DroppedRows  # noqa: E402  (light, no heavy deps)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"oligomet.{name}")
    else:
        raise AttributeError(f"module 'oligomet' has no attribute {name!r}")
    globals()[name] = value  # cache: later lookups are plain attribute access
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
