"""Bad input to oligomet.cox: a ValueError naming the column, the rows and what is wrong; design coding."""
import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.survival.design import build_design, parse_covariates


@pytest.fixture(scope="module")
def lung():
    d = om.datasets.load("lung")
    d["dead"] = (d["status"] == 2).astype(int)
    return d.dropna(subset=["ph.ecog"]).reset_index(drop=True)


def fit(data, covariates=("age", "sex"), **kw):
    return om.cox(data, time=kw.pop("time", "time"), event=kw.pop("event", "dead"), covariates=list(covariates)
                  if not isinstance(covariates, str) else covariates, **kw)


@pytest.mark.parametrize("kw, match", [
    (dict(covariates=["age", "nope"]), r"unknown covariate 'nope'"),
    (dict(strata="zzz"), r"unknown strata column 'zzz'"),
    (dict(cluster="zzz"), r"unknown cluster column 'zzz'"),
    (dict(time="tim"), r"unknown time column 'tim'"),
    (dict(ties="exact"), r"ties must be one of 'efron', 'breslow'; got 'exact'"),
    (dict(covariates="age + "), r"empty term"),
    (dict(covariates="age + C(sex, ref=3)"), r"reference level 3 is not among the levels 1, 2"),
    (dict(covariates=["age", "age"]), r"'age' is given twice"),
])
def test_bad_arguments(lung, kw, match):
    with pytest.raises(ValueError, match=match):
        fit(lung, **kw)


def test_nan_and_negative_times_name_rows(lung):
    d = lung.copy()
    d.loc[[3, 7], "time"] = np.nan
    with pytest.raises(ValueError, match=r"time column 'time' has missing \(NaN\) values at rows 3, 7"):
        fit(d)
    d = lung.copy()
    d.loc[4, "time"] = -2
    with pytest.raises(ValueError, match=r"time column 'time' has negative times at row 4"):
        fit(d)


def test_bad_event_codes(lung):
    d = lung.copy()
    d.loc[2, "dead"] = 2
    with pytest.raises(ValueError, match=r"event column 'dead' must be 0/1 or True/False; found 2 at row 2"):
        fit(d)
    d["dead"] = 0
    with pytest.raises(ValueError, match=r"no events"):
        fit(d)


def test_constant_and_single_level_covariates(lung):
    d = lung.assign(one=1.0, grp="a")
    with pytest.raises(ValueError, match=r"'one' \(always 1\) are constant"):
        fit(d, covariates=["age", "one"])
    with pytest.raises(ValueError, match=r"covariate 'grp' has a single level \(a\)"):
        fit(d, covariates=["age", "grp"])


def test_collinear_terms_are_named(lung):
    d = lung.assign(combo=lung["age"] + 2 * lung["sex"])
    with pytest.raises(ValueError, match=r"collinear.*'combo' is a linear combination of 'age', 'sex'"):
        fit(d, covariates=["age", "sex", "combo"])
    # dummy trap: a level indicator duplicated as a numeric column
    d = lung.assign(ecog1=(lung["ph.ecog"] == 1).astype(float))
    with pytest.raises(ValueError, match=r"'ecog1' is a linear combination of 'ph.ecog\[1\]'"):
        fit(d, covariates=["C(ph.ecog)", "ecog1"])


def test_weights_must_be_positive(lung):
    d = lung.assign(w=1.0)
    d.loc[5, "w"] = 0.0
    with pytest.raises(ValueError, match=r"weights column 'w' must be > 0.*row 5"):
        fit(d, weights="w")
    d.loc[5, "w"] = -1.0
    with pytest.raises(ValueError, match=r"weights column 'w'.*row 5"):
        fit(d, weights="w")


def test_missing_covariates_are_dropped_and_reported(lung):
    d = lung.copy()
    d.loc[[1, 2], "age"] = np.nan
    with pytest.warns(om.CompleteCaseWarning, match=r"2 row\(s\) dropped.*age \(2\)"):
        f = fit(d)
    assert f.n == len(d) - 2 and f.dropped.n == 2 and f.dropped.rows == (1, 2)
    assert f.dropped.by_column == {"age": 2}


def test_formula_and_list_forms_agree(lung):
    a = fit(lung, covariates="age + C(sex) + C(ph.ecog, ref=1)")
    b = fit(lung, covariates=["age", "C(sex)", "C(ph.ecog, ref=1)"])
    pd.testing.assert_frame_equal(a.summary, b.summary)
    assert list(a.summary.index) == ["age", "sex[2]", "ph.ecog[0]", "ph.ecog[2]", "ph.ecog[3]"]


def test_string_and_categorical_columns_are_dummy_coded(lung):
    d = lung.assign(sexs=lung["sex"].map({1: "male", 2: "female"}))
    f = fit(d, covariates=["age", "sexs"])
    assert list(f.summary.index) == ["age", "sexs[male]"]       # sorted levels: female is the reference
    # a Categorical keeps its own level order; its first category is the reference
    d["sexc"] = pd.Categorical(d["sexs"], categories=["male", "female"])
    g = fit(d, covariates=["age", "sexc"])
    assert list(g.summary.index) == ["age", "sexc[female]"]
    np.testing.assert_allclose(g.summary["coef"].iloc[1], -f.summary["coef"].iloc[1], rtol=1e-10)
    # the dummy for the numeric column via C() equals the numeric 0/1 coding
    n = fit(d.assign(male=(d["sex"] == 1).astype(float)), covariates=["age", "male"])
    np.testing.assert_allclose(n.summary["coef"].iloc[1], f.summary["coef"].iloc[1], rtol=1e-10)


def test_design_encodes_newdata_and_rejects_unknown_levels():
    frame = pd.DataFrame({"rx": ["Obs", "Lev", "Lev+5FU", "Obs"], "age": [50.0, 60, 70, 80]})
    design = build_design(frame, parse_covariates("C(rx, ref='Obs') + age"))
    assert design.names == ["rx[Lev]", "rx[Lev+5FU]", "age"]
    X = design.matrix(pd.DataFrame({"rx": ["Lev+5FU", "Obs"], "age": [1.0, 2.0]}))
    np.testing.assert_array_equal(X, [[0, 1, 1], [0, 0, 2]])
    with pytest.raises(ValueError, match=r"covariate 'rx': level\(s\) 'Nope' at row 1 were not in the fitted"):
        design.matrix(pd.DataFrame({"rx": ["Obs", "Nope"], "age": [1.0, 2.0]}))


def test_bool_and_float_coded_levels():
    frame = pd.DataFrame({"smoker": [True, False, True], "grade": [1.0, 2.0, 3.0]})
    design = build_design(frame, parse_covariates(["smoker", "C(grade, ref=2)"]))
    assert design.names == ["smoker[True]", "grade[1]", "grade[3]"]
    np.testing.assert_array_equal(design.matrix(frame), [[1, 1, 0], [0, 0, 0], [1, 0, 1]])


def test_result_is_plain_and_printable(lung):
    with pytest.warns(om.CompleteCaseWarning, match=r"inst \(1\)"):
        f = fit(lung, covariates=["age", "sex"], cluster="inst")
    assert f.robust and "robust_score" in f.tests.index
    text = str(f)
    assert "Cox model (efron ties)" in text and "robust_score" in text
    assert not hasattr(type(f), "__getattr__")


def test_infinite_covariate_values_name_rows(lung):
    d = lung.assign(age=lung["age"].astype(float))
    d.loc[6, "age"] = np.inf
    with pytest.raises(ValueError, match=r"covariate 'age' has infinite values at row 6"):
        fit(d)
