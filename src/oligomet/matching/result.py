"""Result objects of :func:`oligomet.match` and :func:`oligomet.weight`."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .._validation import DroppedRows
from .propensity import LogisticFit
from .._notebook import TidyTablesHTML


@dataclass(frozen=True)
class MatchResult(TidyTablesHTML):
    """Nearest-neighbour matching, as MatchIt's ``matchit(method = "nearest")``.

    Attributes
    ----------
    propensity : Series
        Propensity score (fitted probability of treatment) for every analysed row, indexed
        like the input (complete cases only).
    distance : Series
        The matching distance: the propensity score, or its logit with ``link="linear.logit"``.
    pairs : DataFrame
        One row per (treated, control) match: ``treated`` and ``control`` hold input index
        labels, ``subclass`` the pair / matched-set id (1, 2, ... in the order of the treated
        rows in the data) and ``round`` the matching round (1 = first match).
    matched_data : DataFrame
        The matched rows (weights > 0) with ``subclass`` and ``weights`` (MatchIt's matching
        weights: 1 for treated; for controls the sum over their matched sets of
        1 / (number of controls in the set), rescaled to sum to the number of matched
        controls). With ``replace=True`` a control can sit in several sets: ``subclass`` is
        then NA, as MatchIt's ``match.data``; use :attr:`pairs` for the set membership.
    weights : Series
        Matching weights for every analysed row (0 = unmatched).
    balance : DataFrame
        Indexed by covariate (``distance`` first); see :mod:`oligomet.matching.balance`.
    unmatched : DataFrame
        Treated rows that got no match: index = input labels, columns ``propensity`` and
        ``reason`` (``outside caliper``, ``no control left``, ``no control in exact stratum``,
        ``no control left in exact stratum``).
    summary : DataFrame
        MatchIt's "Sample Sizes" table: rows ``All``, ``Matched (ESS)``, ``Matched``,
        ``Unmatched``, ``Discarded``; columns ``control``, ``treated``.
    caliper : float or None
        The caliper in distance units actually used (after multiplying by the SD).
    covariate_calipers : dict
        The calipers on covariates in their own units (after multiplying by the SD), by name.
    model : LogisticFit
        The propensity model (coefficients in R's term names).
    dropped : DroppedRows
        Rows removed for missing values before fitting.
    """

    _html_tables = ("summary", "balance")

    propensity: pd.Series
    distance: pd.Series
    pairs: pd.DataFrame
    matched_data: pd.DataFrame
    weights: pd.Series
    balance: pd.DataFrame
    unmatched: pd.DataFrame
    summary: pd.DataFrame
    caliper: float | None
    model: LogisticFit
    dropped: DroppedRows = field(default_factory=DroppedRows)
    treatment: str = "treatment"
    settings: dict = field(default_factory=dict)
    covariate_calipers: dict = field(default_factory=dict)

    @property
    def n_unmatched_treated(self) -> int:
        return len(self.unmatched)

    def __repr__(self) -> str:
        s = self.summary
        return (f"MatchResult(matched treated={int(s.loc['Matched', 'treated'])}, "
                f"matched controls={int(s.loc['Matched', 'control'])}, "
                f"unmatched treated={self.n_unmatched_treated})")


@dataclass(frozen=True)
class WeightResult(TidyTablesHTML):
    """Propensity-score weighting (IPTW / overlap), as WeightIt's ``method = "glm"``.

    Attributes
    ----------
    weights : Series
        The weights, indexed like the analysed rows.
    propensity : Series
        Propensity scores.
    data : DataFrame
        The analysed rows with a ``weights`` column.
    balance : DataFrame
        Balance before (unweighted) and after weighting (see :mod:`oligomet.matching.balance`).
    ess : DataFrame
        Kish's effective sample size ``(sum w)^2 / sum w^2`` per group: index ``control``,
        ``treated``; columns ``n``, ``ess``, ``sum_weights``, ``max_weight``.
    estimand : str
    model : LogisticFit
    dropped : DroppedRows
    """

    _html_tables = ("estimand", "ess", "balance")

    weights: pd.Series
    propensity: pd.Series
    data: pd.DataFrame
    balance: pd.DataFrame
    ess: pd.DataFrame
    estimand: str
    model: LogisticFit
    dropped: DroppedRows = field(default_factory=DroppedRows)
    treatment: str = "treatment"

    def __repr__(self) -> str:
        e = self.ess
        return (f"WeightResult(estimand={self.estimand}, ESS control={e.loc['control', 'ess']:.1f}, "
                f"ESS treated={e.loc['treated', 'ess']:.1f})")
