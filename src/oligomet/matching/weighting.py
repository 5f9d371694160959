"""Public :func:`weight`: inverse-probability-of-treatment and overlap weights.

Weights from the logistic propensity score ``e`` (R's ``glm``, as in :func:`match`), with
WeightIt's (``method = "glm"``) definitions:

=========  =====================  ========================
estimand   treated                control
=========  =====================  ========================
ATE        1 / e                  1 / (1 - e)
ATT        1                      e / (1 - e)
ATO        1 - e                  e
=========  =====================  ========================

Balance after weighting follows cobalt / MatchIt: weighted means, SMD with a fixed,
unweighted full-sample SD (pooled ``sqrt((s1^2 + s0^2)/2)`` for ATE and ATO, treated SD for
ATT), binary variables with ``p(1-p)``; see :mod:`oligomet.matching.balance`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .balance import balance_table, covariate_matrix
from .distance import fit_propensity, prepare
from .result import WeightResult

ESTIMANDS = ("ATE", "ATT", "ATO")


def weight(data: pd.DataFrame, treatment: str, covariates, estimand: str = "ATE", stabilize: bool = False,
           trim: float | None = None) -> WeightResult:
    """Propensity-score weights with balance diagnostics and effective sample sizes.

    Parameters
    ----------
    data, treatment, covariates
        As :func:`oligomet.match` (treatment 1/0; rows with missing values dropped and reported).
    estimand : "ATE" | "ATT" | "ATO"
        IPTW for the whole population (ATE), for the treated (ATT), or overlap weights (ATO,
        Li, Morgan & Zaslavsky 2018; exact mean balance of the model's covariates).
    stabilize : bool
        ATE only: multiply each unit's weight by the share of its treatment group in the
        sample (Robins' stabilised weights; WeightIt's ``stabilize = TRUE`` for a binary
        treatment). ATT and ATO weights are already bounded, so it is refused for them.
    trim : float, optional
        Truncate large weights as WeightIt's ``trim(at = trim)``: a value in (0.5, 1) is a
        quantile (weights above the ``trim`` quantile of the weights are set to it; R's type-7
        quantile); a value >= 1 is an absolute cap. Under ATT only control weights are trimmed.

    The effective sample size per group is Kish's ``(sum w)^2 / sum w^2``.
    """
    what = "weight"
    est = str(estimand).upper()
    if est not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {', '.join(ESTIMANDS)}; got {estimand!r}")
    if stabilize and est != "ATE":
        raise ValueError(f"stabilize=True is defined for estimand='ATE' only (got {est!r}): ATT and overlap "
                         f"weights need no stabilisation")
    if trim is not None and not (0.5 < trim < 1 or trim >= 1):
        raise ValueError(f"trim must be a quantile in (0.5, 1) or an absolute cap >= 1; got {trim!r}")
    frame, t, dropped, covariates = prepare(data, treatment, covariates, [], what)
    fit = fit_propensity(frame, t, covariates)
    e = fit.fitted
    if est == "ATE":
        w = np.where(t == 1, 1.0 / e, 1.0 / (1.0 - e))
        if stabilize:
            w = w * np.where(t == 1, t.mean(), 1.0 - t.mean())
    elif est == "ATT":
        w = np.where(t == 1, 1.0, e / (1.0 - e))
    else:
        w = np.where(t == 1, 1.0 - e, e)
    if trim is not None:
        w = _trim(w, t, trim, est)

    X = covariate_matrix(frame, covariates)
    bal = balance_table(X, t, w, est, distance=e)
    ess = pd.DataFrame({name: {"n": int((t == g).sum()), "ess": _kish(w[t == g]), "sum_weights": w[t == g].sum(),
                               "max_weight": w[t == g].max()}
                        for g, name in ((0, "control"), (1, "treated"))}).T
    ess["n"] = ess["n"].astype(int)
    ess.index.name = "group"
    out = frame.copy()
    out["weights"] = w
    return WeightResult(weights=pd.Series(w, index=frame.index, name="weights"),
                        propensity=pd.Series(e, index=frame.index, name="propensity"), data=out, balance=bal,
                        ess=ess, estimand=est, model=fit, dropped=dropped, treatment=treatment)


def _kish(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / np.sum(w ** 2))


def _trim(w: np.ndarray, t: np.ndarray, at: float, est: str) -> np.ndarray:
    w = w.copy()
    sel = (t == 0) if est == "ATT" else np.ones(len(w), dtype=bool)
    cap = float(np.quantile(w[sel], at)) if at < 1 else float(at)
    w[sel & (w > cap)] = cap
    return w
