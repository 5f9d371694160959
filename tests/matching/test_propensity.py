"""The propensity model: R's glm iterates, and the large-n least-squares path agrees with the QR path."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oligomet.matching import propensity
from oligomet.matching.propensity import design_matrix, fit_logistic

from matching_data import COVARIATES, load_data


def _fit(d, treatment, covs):
    X, names = design_matrix(d, covs)
    return fit_logistic(X, d[treatment].to_numpy(dtype=float), names)


@pytest.mark.parametrize("name", ["colon", "lung"])
def test_normal_equations_path_equals_qr_path(name, monkeypatch):
    treatment, covs = COVARIATES[name]
    d = load_data(name)
    qr = _fit(d, treatment, covs)
    monkeypatch.setattr(propensity, "NORMAL_EQUATIONS_MIN_ROWS", 0)
    ne = _fit(d, treatment, covs)
    assert ne.iterations == qr.iterations
    np.testing.assert_allclose(ne.fitted, qr.fitted, rtol=1e-11)
    np.testing.assert_allclose(ne.coef, qr.coef, rtol=1e-8)


def test_badly_scaled_covariate(monkeypatch):
    # calendar year (mean 2010, SD 3) next to a 0/1 variable: ill-conditioned without centring
    rng = np.random.default_rng(4)
    n = 3000
    d = pd.DataFrame({"year": rng.integers(2004, 2017, n).astype(float), "male": rng.integers(0, 2, n)})
    d["t"] = (rng.random(n) < 1 / (1 + np.exp(-(0.15 * (d.year - 2010) + 0.4 * d.male - 0.3)))).astype(int)
    qr = _fit(d, "t", ["year", "male"])
    monkeypatch.setattr(propensity, "NORMAL_EQUATIONS_MIN_ROWS", 0)
    ne = _fit(d, "t", ["year", "male"])
    np.testing.assert_allclose(ne.fitted, qr.fitted, rtol=1e-10)
    # and the fit solves the score equations X'(y - mu) = 0 (converged to R's tolerance)
    X, _ = design_matrix(d, ["year", "male"])
    score = X.T @ (d.t.to_numpy() - qr.fitted)
    assert np.all(np.abs(score) < 1e-4 * np.abs(X).sum(axis=0))


def test_propensity_design_is_the_cox_design_with_r_names():
    """One design builder: the propensity model's columns are the Cox model's (same coding, same level
    order), named as R's model.matrix pastes them."""
    import numpy as np
    import pandas as pd

    from oligomet.matching.propensity import design_matrix
    from oligomet.survival.design import build_design, parse_covariates
    d = pd.DataFrame({"age": [50.0, 61, 72, 45, 58], "race": ["white", "black", "hispan", "white", "black"],
                      "married": [True, False, True, True, False],
                      "ecog": pd.Categorical([1, 0, 2, 1, 0], categories=[0, 1, 2])})
    X, names = design_matrix(d, ["age", "race", "married", "ecog"])
    cox = build_design(d, parse_covariates(["age", "race", "married", "ecog"]))
    np.testing.assert_array_equal(X[:, 1:], cox.matrix(d))
    assert names == ["(Intercept)", "age", "racehispan", "racewhite", "marriedTRUE", "ecog1", "ecog2"]
    assert design_matrix(d, ["race"], names="design")[1] == ["(Intercept)", "race[hispan]", "race[white]"]
