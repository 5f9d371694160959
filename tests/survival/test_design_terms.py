"""Formula terms in the shared design coder (survival/design.py): interactions, I() and functions.

The numbers are checked against R's coxph in test_cox_reference.py (cases interaction_* and
transformed_terms) and test_zph_factor.py (an interaction in cox.zph); here: names, term order,
expansion, errors, and the other models that use the coder."""
import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.survival.design import build_design, parse_covariates


@pytest.fixture(scope="module")
def colon():
    d = om.datasets.load("colon")
    return d[d["etype"] == 2].reset_index(drop=True)


def _fit(d, covariates, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return om.cox(d, time="time", event="status", covariates=covariates, **kw)


def test_names_follow_r_with_our_dummy_labels(colon):
    # R: factor(rx)Lev+5FU factor(rx)Obs age sex factor(rx)Lev+5FU:age factor(rx)Obs:age
    assert _fit(colon, "C(rx) * age + sex").terms == [
        "rx[Lev+5FU]", "rx[Obs]", "age", "sex", "rx[Lev+5FU]:age", "rx[Obs]:age"]
    # R: ... factor(rx)Lev+5FU:factor(sex)1 factor(rx)Obs:factor(sex)1 (the first factor varies fastest)
    assert _fit(colon, "C(rx) * C(sex)").terms == [
        "rx[Lev+5FU]", "rx[Obs]", "sex[1]", "rx[Lev+5FU]:sex[1]", "rx[Obs]:sex[1]"]
    # R: I(age/10) log(nodes + 1) I(nodes > 4)TRUE
    assert _fit(colon, "I(age/10) + log(nodes + 1) + I(nodes > 4)").terms == [
        "I(age/10)", "log(nodes + 1)", "I(nodes > 4)[True]"]


def test_star_expands_to_all_main_effects_and_interactions_in_r_order():
    specs = parse_covariates("a*b*c + d")
    assert [s.column for s in specs] == ["a", "b", "c", "d", "a:b", "a:c", "b:c", "a:b:c"]
    assert [s.column for s in parse_covariates("a*b + a")] == ["a", "b", "a:b"]   # repeats dropped, as R
    assert [s.column for s in parse_covariates("a + b:a + a:b")] == ["a", "b:a"]
    with pytest.raises(ValueError, match="'age' is given twice"):
        parse_covariates(["age", "age"])


def test_interaction_products_equal_hand_made_columns(colon):
    d = colon.dropna(subset=["nodes"]).copy()
    d["age_nodes"] = d["age"] * d["nodes"]
    by_formula = _fit(d, "age*nodes")
    by_hand = _fit(d, ["age", "nodes", "age_nodes"])
    np.testing.assert_allclose(by_formula.summary["coef"].to_numpy(), by_hand.summary["coef"].to_numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(by_formula.loglik, by_hand.loglik, rtol=1e-12)


def test_hr_per_ten_years_is_the_tenth_power(colon):
    per_year = _fit(colon, "age").summary.loc["age", "hr"]
    per_decade = _fit(colon, "I(age / 10)").summary.loc["I(age / 10)", "hr"]
    np.testing.assert_allclose(per_decade, per_year ** 10, rtol=1e-9)


def test_expression_sources_drive_complete_cases(colon):
    with pytest.warns(om.CompleteCaseWarning, match=r"nodes \(18\)"):
        fit = om.cox(colon, time="time", event="status", covariates="log(nodes + 1)")
    assert fit.dropped.n == 18 and fit.n == len(colon) - 18


def test_factor_interaction_without_its_main_effect_is_refused(colon):
    with pytest.raises(ValueError, match=r"add the main effect 'C\(rx\)'"):
        _fit(colon, "age + C(rx):age")


def test_bad_expressions_name_the_term(colon):
    with pytest.raises(ValueError, match=r"unknown covariate 'agee'"):
        _fit(colon, "I(agee / 10)")
    with pytest.raises(ValueError, match=r"cannot parse covariate term 'I\(age /\)'"):
        parse_covariates("I(age /)")
    with pytest.raises(ValueError, match="empty factor"):
        parse_covariates("age * ")


def test_predictions_encode_newdata_through_the_terms(colon):
    fit = _fit(colon, "C(rx) * age + I(nodes > 4)")
    new = pd.DataFrame({"rx": ["Obs", "Lev"], "age": [50, 70], "nodes": [2, 9]})
    surv = fit.predict_survival(new, times=[365, 1000])
    assert surv.shape == (2, 2) and np.all((surv.to_numpy() > 0) & (surv.to_numpy() < 1))
    X = build_design(colon.dropna(subset=["nodes"]), parse_covariates("C(rx) * age + I(nodes > 4)")).matrix(new)
    # rx[Lev+5FU], rx[Obs], age, I(nodes > 4)[True], rx[Lev+5FU]:age, rx[Obs]:age
    np.testing.assert_array_equal(X, [[0, 1, 50, 0, 0, 50], [0, 0, 70, 1, 0, 0]])


def test_fine_gray_takes_the_same_terms():
    d = om.datasets.load("mgus2").dropna(subset=["age", "hgb"]).reset_index(drop=True)
    d["etime"] = np.where(d["pstat"] == 1, d["ptime"], d["futime"])
    d["event"] = np.where(d["pstat"] == 1, 1, 2 * d["death"])
    plain = om.fine_gray(d, time="etime", event="event", covariates=["age", "hgb"])
    scaled = om.fine_gray(d, time="etime", event="event", covariates="I(age / 10) + hgb")
    np.testing.assert_allclose(scaled.summary["coef"].iloc[0], 10 * plain.summary["coef"].iloc[0], rtol=1e-6)
    inter = om.fine_gray(d, time="etime", event="event", covariates="age * hgb")
    assert list(inter.summary.index) == ["age", "hgb", "age:hgb"]


@pytest.mark.parametrize("term, token", [
    ("I(@pd.io.common.os.system('touch {m}'))", "'@'"),
    ("I(age.mean.__globals__['inspect'].os.system('touch {m}'))", "'.__globals__'"),
    ("log(__import__('os').system('touch {m}') + 1)", "'__import__'"),
    ("sqrt(age.__class__)", "'.__class__'"),
    ("I(exec('import os'))", "'exec('"),
])
def test_code_in_formula_terms_is_refused_naming_term_and_token(colon, tmp_path, term, token):
    """I() and bare function terms went to DataFrame.eval; now nothing in a formula runs code (issue 16, D1)."""
    term = term.format(m=tmp_path / "MARKER")
    for covariates in (term, [term], f"age + {term}"):
        with pytest.raises(ValueError) as info:
            _fit(colon, covariates)
        assert f"cannot parse covariate term {term!r}" in str(info.value) and token in str(info.value)
    with pytest.raises(ValueError, match="not allowed"):
        om.fine_gray(colon.assign(ev=colon["status"]), time="time", event="ev", covariates=term)
    assert not (tmp_path / "MARKER").exists()


def test_reference_levels_with_any_characters(colon):
    """The study writes C(exposure, ref=repr(name)); a name with both quote kinds, parentheses or
    separators is that level (issue 16, D22)."""
    names = {"Obs": """Obs "alone" (it's a) : b*c + d""", "Lev": "Lev [x], 'y'", "Lev+5FU": "Lev+5FU"}
    d = colon.assign(arm=colon["rx"].map(names))
    for ref in names.values():
        fit = _fit(d, [f"C(arm, ref={ref!r})", "age"])
        assert fit.terms == [f"arm[{n}]" for n in sorted(names.values()) if n != ref] + ["age"]
    plain = _fit(colon, ["C(rx, ref='Lev')"]).summary["coef"].to_numpy()
    odd = _fit(d, [f"C(arm, ref={names['Lev']!r})"]).summary["coef"].to_numpy()
    np.testing.assert_allclose(odd, plain, rtol=1e-12)   # same reference, same coding
