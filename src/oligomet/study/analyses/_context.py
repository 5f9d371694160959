"""What every analysis receives (the protocol and the cohort) and the base of what it returns."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from ..cohort import EXPOSURE_TERM, GROUP
from ..protocol import Endpoint, Protocol


@dataclass(frozen=True)
class Computed:
    """What a compute function returns: ``numbers`` (plain data; results.json, under the analysis' key),
    the estimators' ``warnings`` as text, and (in subclasses) the tidy frames its section builder needs."""

    numbers: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Ctx:
    proto: Protocol
    cohort: pd.DataFrame
    adjusted: pd.DataFrame | None = None  # matched rows or weighted data, set by the propensity step

    @property
    def unit(self) -> str:
        return self.proto.time_unit

    @property
    def unit_label(self) -> str:
        return "Months" if self.unit == "months" else "Days"

    @property
    def group_col(self) -> str | None:
        return GROUP if self.proto.exposure is not None else None

    @property
    def group_names(self) -> list[str]:
        return [g.name for g in self.proto.exposure.groups] if self.proto.exposure is not None else []

    @property
    def weights_exposure(self) -> bool:
        """The study compares its exposure groups in an IPTW/overlap-weighted cohort."""
        ps = self.proto.analyses.propensity
        return ps is not None and ps.method == "weight" and self.adjusted is not None

    def weighted_cohort(self, adjusted: bool = True) -> tuple[pd.DataFrame, str | None]:
        """The rows a group comparison runs on, and their weight column: the propensity step's weighted
        cohort (its complete cases, column ``weights``) when the study weights and ``adjusted``, else the
        cohort unweighted."""
        if adjusted and self.weights_exposure:
            return self.adjusted, "weights"
        return self.cohort, None

    def endpoint_data(self, ep: Endpoint, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """Rows where the endpoint is defined (e.g. DFS only after a curative local treatment)."""
        d = self.cohort if frame is None else frame
        ok = d[ep.time_col].notna() & d[ep.event_col].notna()
        return d.loc[ok]

    # --- Cox terms and their labels -------------------------------------------------------------
    def term(self, column: str) -> str:
        """The Cox/propensity term for a declared covariate (categorical → ``C(col)``)."""
        if column == "exposure":
            # An object-dtype twin of the categorical group column: the Cox design cannot take a
            # pandas Categorical yet (survival/design.py), so the reference is named explicitly.
            return f"C({EXPOSURE_TERM}, ref={self.group_names[0]!r})"
        cov = self.proto.covariate(column)
        if cov.type == "categorical":
            return f"C({column}, ref={cov.reference!r})" if cov.reference is not None else f"C({column})"
        return column

    def term_label(self, name: str) -> str:
        """Readable label of a design column (``col``, ``col[level]``)."""
        if "[" in name and name.endswith("]"):
            col, level = name[:-1].split("[", 1)
        else:
            col, level = name, None
        if col in (GROUP, EXPOSURE_TERM):
            if level is None:   # the exposure as a whole (a cox.zph row), not one of its contrasts
                return self.proto.exposure.label
            ref = self.group_names[0] if self.group_names else "reference"
            return f"{self.proto.exposure.label}: {level} vs {ref}"
        cov = self.proto.covariate(col)
        if level is None:
            return cov.title + (" (yes vs no)" if cov.type == "binary" else "")
        return f"{cov.title}: {level}"


def quiet(fn, *args, **kwargs):
    """Call an estimator, collecting its warnings (complete-case drops, convergence) as text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, [str(w.message) for w in caught]
