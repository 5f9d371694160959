"""Endpoint derivation: registry dates -> (time, event) per patient or lesion (DATECAN conventions).

* :func:`derive_endpoints` (also ``oligomet.derive_endpoints``): the analysis frame.
* :func:`cci`, :func:`per_procedure`: Comprehensive Complication Index and worst Clavien-Dindo grade.
* :func:`tumor_burden_score`: TBS from the largest diameter and the number of lesions.
* :data:`DAYS_PER_MONTH`: 30.4375, the month used for every time in months.

Definitions: ``docs/endpoints.md``.
"""
from ._common import DAYS_PER_MONTH
from .burden import tumor_burden_score
from .complications import cci, per_procedure
from .derive import derive_endpoints

__all__ = ["DAYS_PER_MONTH", "cci", "derive_endpoints", "per_procedure", "tumor_burden_score"]
