"""Bad input to oligomet.match / oligomet.weight: clear errors and R-like warnings."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.matching.propensity import PropensityWarning


def data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"age": rng.normal(60, 10, n), "male": rng.integers(0, 2, n)})
    d["treated"] = (rng.random(n) < 0.4).astype(int)
    return d


@pytest.mark.parametrize("fn", [om.match, om.weight])
def test_treatment_not_binary(fn):
    d = data()
    d.loc[[3, 7], "treated"] = 2
    with pytest.raises(ValueError, match=r"treatment column 'treated' must be binary.*rows 3, 7"):
        fn(d, treatment="treated", covariates=["age"])
    d["treated"] = np.where(d.treated == 1, "surgery", "chemo")
    with pytest.raises(ValueError, match="recode it to 1 = treated"):
        fn(d, treatment="treated", covariates=["age"])


@pytest.mark.parametrize("fn", [om.match, om.weight])
@pytest.mark.parametrize("value,group", [(1, "control"), (0, "treated")])
def test_single_group(fn, value, group):
    d = data()
    d["treated"] = value
    with pytest.raises(ValueError, match=f"has no {group}"):
        fn(d, treatment="treated", covariates=["age"])


def test_constant_covariate_warns_and_is_dropped_as_in_r():
    d = data()
    d["site"] = 1.0
    with pytest.warns(PropensityWarning, match="'site' are constant or collinear"):
        m = om.match(d, treatment="treated", covariates=["age", "site"])
    assert np.isnan(m.model.coef["site"])
    # the score equals the fit without the constant column
    ref = om.match(d, treatment="treated", covariates=["age"])
    np.testing.assert_allclose(m.propensity, ref.propensity, rtol=1e-12)


def test_perfect_separation_warns():
    d = data()
    d["marker"] = d["treated"] * 10 + np.arange(len(d)) * 1e-3
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        om.match(d, treatment="treated", covariates=["age", "marker"])
    msgs = [str(w.message) for w in rec if issubclass(w.category, PropensityWarning)]
    assert any("perfectly separate" in m and "'marker'" in m for m in msgs)
    # R 4.2 on these data: glm.fit stops at maxit = 25 with "algorithm did not converge"
    # (its fitted values range from 2.057118e-12, which our iterate reproduces)
    assert any("did not converge" in m for m in msgs)


@pytest.mark.parametrize("fn", [om.match, om.weight])
def test_missing_values_complete_case_reported(fn):
    d = data()
    d.loc[[4, 9], "age"] = np.nan
    d.loc[11, "treated"] = np.nan
    with pytest.warns(om.CompleteCaseWarning, match="3 row"):
        r = fn(d, treatment="treated", covariates=["age", "male"])
    assert r.dropped.n == 3 and set(r.dropped.rows) == {4, 9, 11}
    assert r.dropped.by_column == {"treated": 1, "age": 2}
    assert set(r.propensity.index) == set(d.index) - {4, 9, 11}


def test_other_bad_arguments():
    d = data()
    with pytest.raises(ValueError, match="unknown covariate 'agee'"):
        om.match(d, treatment="treated", covariates=["agee"])
    with pytest.raises(ValueError, match="order must be one of"):
        om.match(d, treatment="treated", covariates=["age"], order="biggest")
    with pytest.raises(ValueError, match="ratio must be a positive integer"):
        om.match(d, treatment="treated", covariates=["age"], ratio=0)
    with pytest.raises(ValueError, match="caliper must be a positive number"):
        om.match(d, treatment="treated", covariates=["age"], caliper=-0.2)
    with pytest.raises(ValueError, match="method must be one of 'nearest', 'subclass', 'optimal'; got 'genetic'"):
        om.match(d, treatment="treated", covariates=["age"], method="genetic")
    with pytest.raises(ValueError, match="method='subclass' does not take caliper, ratio"):
        om.match(d, treatment="treated", covariates=["age"], method="subclass", caliper=0.2, ratio=2)
    with pytest.raises(ValueError, match="method='optimal' does not take caliper"):
        om.match(d, treatment="treated", covariates=["age"], method="optimal", caliper=0.2)
    with pytest.raises(ValueError, match="estimate the ATT"):
        om.match(d, treatment="treated", covariates=["age"], estimand="ATE")
    with pytest.raises(ValueError, match="discard must be one of"):
        om.match(d, treatment="treated", covariates=["age"], discard="hull")
    with pytest.raises(ValueError, match="reuse_max must be a positive integer"):
        om.match(d, treatment="treated", covariates=["age"], reuse_max=0)
    with pytest.raises(ValueError, match="column 'sex' has a single value"):
        om.match(d.assign(sex=1), treatment="treated", covariates=["age"], antiexact="sex")
    with pytest.raises(ValueError, match="calipers need a numeric variable"):
        om.match(d.assign(site="A"), treatment="treated", covariates=["age"], caliper={"site": 1})
    with pytest.raises(ValueError, match="compat='matchit-4.5.1' reproduces"):
        om.match(d, treatment="treated", covariates=["age"], order="closest", compat="matchit-4.5.1")
    with pytest.raises(ValueError, match="also listed as a covariate"):
        om.match(d, treatment="treated", covariates=["age", "treated"])
