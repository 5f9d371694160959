"""analyses.rmst, analyses.landmark, analyses.time_varying and analyses.cox.missing: the study's numbers equal
direct calls of the public API on the study cohort, and options that do not fit the data or the schema are
protocol errors naming the line."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import oligomet as om
from oligomet.study import StudyError, run_study
from oligomet.study.cohort import GROUP
from oligomet.study.protocol_source import ProtocolError, loads

from .conftest import EXAMPLES

REL = 1e-12
ABLATION = (EXAMPLES / "crlm_ablation_timing.toml").read_text()


def run(text: str, registry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(loads(text, "toml", path="p.toml"), tables=registry)


def study_error(text: str, registry) -> tuple[str, int | None, str]:
    with pytest.raises(StudyError) as info:
        run(text, registry)
    assert len(info.value.problems) == 1
    return info.value.problems[0]


def line(text: str, snippet: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), start=1) if snippet in ln)


def approx(x):
    return pytest.approx(x, rel=REL, abs=1e-14)


# --- RMST ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sarcoma(registry):
    return run((EXAMPLES / "sarcoma_lung_metastasectomy.toml").read_text(), registry)


@pytest.mark.parametrize("ep", ["dfs", "os"])
def test_rmst_matches_api(sarcoma, ep):
    got = sarcoma.results.numbers["rmst"][ep]
    c = sarcoma.cohort
    d = c[c[f"{ep}_time"].notna() & c[f"{ep}_event"].notna()]
    r = om.rmst(d, time=f"{ep}_time", event=f"{ep}_event", by=GROUP, tau=60)
    assert got["tau"] == 60 and got["variance"] == "greenwood" and not got["weighted"]
    for g in r.table.to_dict("records"):
        mine = got["groups"][str(g["group"])]
        assert mine["n"] == g["n"]
        for k in ("rmst", "std_err", "lower", "upper"):
            assert mine[k] == approx(g[k])
    assert len(got["contrasts"]) == len(r.contrasts) == 3
    for c_ in r.contrasts.to_dict("records"):
        mine = got["contrasts"][f"{c_['measure']}: {c_['group']} vs {c_['reference']}"]
        for k, col in (("estimate", "estimate"), ("lower", "lower"), ("upper", "upper"), ("p_value", "p")):
            assert mine[k] == approx(c_[col])


def test_rmst_section_and_sentence(sarcoma):
    res = sarcoma.results
    assert {"rmst_dfs", "rmst_os"} <= {s.key for s in res.sections}
    assert any("restricted mean" in t and "difference" in t for t in res.results_text)
    assert any("Restricted mean survival time (RMST) up to 60 months" in m for m in res.methods)


def test_rmst_is_iptw_weighted_when_the_protocol_weights(registry):
    text = ABLATION.replace('method = "match"', 'method = "weight"\nestimand = "ATE"') + \
        '\n[analyses.rmst]\nendpoints = ["os"]\ntau = 36\n'
    study = run(text, registry)
    got = study.results.numbers["rmst"]["os"]
    assert got["weighted"] and got["variance"] == "ij"
    d = study.cohort.copy()
    d["treated"] = (d[GROUP] == "Delayed ablation").astype(int)
    w = om.weight(d, treatment="treated", covariates=["age", "ecog", "n_lesions", "ras"], estimand="ATE")
    r = om.rmst(w.data, time="os_time", event="os_event", by=GROUP, tau=36, weights="weights")
    for g in r.table.to_dict("records"):
        assert got["groups"][str(g["group"])]["rmst"] == approx(g["rmst"])
        assert got["groups"][str(g["group"])]["std_err"] == approx(g["std_err"])
    unweighted = om.rmst(study.cohort, time="os_time", event="os_event", by=GROUP, tau=36).table
    assert not np.allclose(unweighted["rmst"], r.table["rmst"])   # the weights changed the answer


def test_tau_beyond_follow_up_is_a_protocol_error(registry):
    text = ABLATION + '\n[analyses.rmst]\nendpoints = ["os"]\ntau = 900\n'
    field, at, msg = study_error(text, registry)
    assert field == "analyses.rmst.tau" and at == line(text, "tau = 900")
    assert "beyond the last follow-up" in msg and "choose tau <=" in msg


# --- landmark and time-varying exposure -----------------------------------------------------------

LANDMARK = '''
[analyses.landmark]
endpoints = ["os"]
at = 12
exposure_time = "recurrence_months"
label = "Recurrence"
covariates = ["age"]
'''
TIME_VARYING = '''
[analyses.time_varying]
endpoints = ["os"]
exposure_time = "recurrence_months"
label = "Recurrence"
covariates = ["age"]
'''


@pytest.fixture(scope="module")
def exposure_run(registry):
    return run(ABLATION + LANDMARK + TIME_VARYING, registry)


def test_landmark_matches_api(exposure_run):
    got = exposure_run.results.numbers["landmark"]["os"]
    lm = om.landmark(exposure_run.cohort, at=12, time="os_time", event="os_event",
                     exposures={"rec": "recurrence_months"})
    assert got["n_at_risk"] == len(lm.data)
    assert got["excluded"] == dict(zip(lm.excluded["reason"], lm.excluded["n"].astype(int)))
    assert got["n_at_risk"] + sum(got["excluded"].values()) == len(exposure_run.cohort)
    fit = om.cox(lm.data, time="os_time", event="os_event", covariates=["rec", "age"])
    assert got["cox"]["landmark_exposed"]["hr"] == approx(fit.summary.loc["rec", "hr"])
    assert got["cox"]["landmark_exposed"]["p"] == approx(fit.summary.loc["rec", "p"])
    km = om.kaplan_meier(lm.data, time="os_time", event="os_event", by="rec").medians
    assert sorted(a["n"] for a in got["arms"].values()) == sorted(km["n"].tolist())
    assert {"landmark_os"} <= {s.key for s in exposure_run.results.sections}


def test_time_varying_matches_api(exposure_run):
    got = exposure_run.results.numbers["time_varying"]["os"]
    c = exposure_run.cohort
    d = c[c["os_time"] > 0]
    rows = om.time_dependent(d, time="os_time", event="os_event", switches={"rec": "recurrence_months"})
    fit = om.cox(rows, time="stop", event="os_event", start="start", covariates=["rec", "age"], cluster="patient_id")
    assert got["n_rows"] == len(rows) > len(d)
    assert got["time_varying"]["exposed_tv"]["hr"] == approx(fit.summary.loc["rec", "hr"])
    assert got["time_varying"]["exposed_tv"]["se"] == approx(fit.summary.loc["rec", "se"])
    assert got["time_varying"]["exposed_tv"]["p"] == approx(fit.summary.loc["rec", "p"])
    # the baseline coding credits the exposed with the time before exposure: a different (biased) HR
    assert got["baseline"]["exposed_ever"]["hr"] != approx(got["time_varying"]["exposed_tv"]["hr"])
    assert any("time-varying covariate" in t for t in exposure_run.results.results_text)


def test_landmark_after_all_events_is_a_protocol_error(registry):
    text = ABLATION + LANDMARK.replace("at = 12", "at = 5000")
    field, at, msg = study_error(text, registry)
    assert field == "analyses.landmark.at" and at == line(text, "at = 5000")
    assert "no event happens after it" in msg


def test_unknown_exposure_time_column_is_a_protocol_error(registry):
    text = ABLATION + TIME_VARYING.replace('"recurrence_months"', '"salvage_months"')
    field, at, msg = study_error(text, registry)
    assert field == "analyses.time_varying.exposure_time" and at == line(text, '"salvage_months"')
    assert "unknown column 'salvage_months'" in msg


# --- multiple imputation ---------------------------------------------------------------------------

def _with_imputation(text: str, missing: str) -> str:
    text = text.replace('covariates = ["age", "ecog", "n_lesions", "ras", "max_diameter_mm"]',
                        'covariates = ["age", "ecog", "cea"]')
    # every delayed-ablation patient lacks CEA (measured before the chemotherapy): without the exposure
    text = text.replace('selection = "p_value"', f'selection = "all"\ninclude_exposure = false\nmissing = {missing}')
    return text.replace("[[covariates]]", '[[covariates]]\ncolumn = "cea"\n\n[[covariates]]', 1)


def test_imputed_cox_matches_impute_and_pool(registry):
    study = run(_with_imputation(ABLATION, "{ impute = 5, seed = 7 }"), registry)
    c = study.cohort
    assert c["cea"].isna().any() and c["cea"].notna().any()
    got = study.results.numbers["cox"]["dfs"]
    d = c[c["dfs_time"].notna() & c["dfs_event"].notna()]
    imp = om.impute(d[["age", "ecog", "cea", "dfs_time", "dfs_event"]], m=5, seed=7, maxit=10,
                    time="dfs_time", event="dfs_event")
    terms = ["age", "ecog", "cea"]
    pooled = om.pool_cox(imp, time="dfs_time", event="dfs_event", covariates=terms).summary
    assert got["imputation"]["m"] == 5 and got["imputation"]["seed"] == 7
    assert got["imputation"]["imputed"]["cea"]["n_missing"] == int(d["cea"].isna().sum())
    for term, r in pooled.iterrows():
        assert got["multivariable"][term]["hr"] == approx(r["hr"])
        assert got["multivariable"][term]["hr_lower"] == approx(r["hr_lower"])
        assert got["multivariable"][term]["p"] == approx(r["p"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cc = om.cox(d, time="dfs_time", event="dfs_event", covariates=terms)
    assert got["multivariable_complete_case"]["cea"]["hr"] == approx(cc.summary.loc["cea", "hr"])
    assert got["multivariable"]["cea"]["n"] == len(d) > cc.n
    notes = [i.text for s in study.results.sections if s.key == "cox_dfs" for i in s.items if hasattr(i, "text")]
    assert any("5 datasets completed by multiple imputation" in t for t in notes)
    assert any("m = 5 imputed datasets" in m for m in study.results.methods)
    # the Checks panel and the Cox table say the model was imputed, not "complete cases" with 0% lost
    cox_checks = [c for c in study.results.checks if c.values.get("analysis", "").startswith("multivariable Cox")]
    kinds = [c.name for c in cox_checks if c.name in ("complete_cases", "multiple_imputation")]
    assert kinds and set(kinds) == {"multiple_imputation"}     # one per endpoint, none says "complete cases"
    mi = next(c for c in cox_checks if c.name == "multiple_imputation" and c.values["n"] == len(d))
    assert mi.values["n"] == len(d) and mi.values["m"] == 5
    assert list(mi.values["variables"].values()) == [int(d["cea"].isna().sum())]
    table = next(i for s in study.results.sections if s.key == "cox_dfs" for i in s.items
                 if getattr(i, "name", "") == "cox_dfs")
    assert "5 imputed datasets pooled by Rubin's rules" in table.note and "Complete cases." not in table.note


def test_impossible_imputation_model_is_a_protocol_error(registry):
    # the sarcoma cohort has no CEA at all: nothing to fit its imputation model on
    text = (EXAMPLES / "sarcoma_lung_metastasectomy.toml").read_text()
    text = text.replace('covariates = ["lesion_gt_2cm", "n_lesions", "tfi_gt_12m", "age"]\n',
                        'covariates = ["lesion_gt_2cm"]\nfixed = ["lesion_gt_2cm", "cea"]\n'
                        'missing = { impute = 5 }\n', 1)
    text = text.replace('selection = "p_value"', 'selection = "fixed"')
    text = text.replace("[[covariates]]", '[[covariates]]\ncolumn = "cea"\n\n[[covariates]]', 1)
    field, at, msg = study_error(text, registry)
    assert field == "analyses.cox.missing" and at == line(text, "missing = { impute = 5 }")
    assert "'cea' is missing in every row" in msg


@pytest.mark.parametrize("bad, where, words", [
    ('\n[analyses.rmst]\nendpoints = ["os"]\ntau = -5\n', "tau = -5", "greater than 0"),
    ('\n[analyses.rmst]\nendpoints = ["overall"]\ntau = 5\n', '"overall"', "unknown endpoint 'overall'"),
    ('\n[analyses.landmark]\nendpoints = ["os"]\nexposure_time = "x"\n', "[analyses.landmark]", "Field required"),
    ('\n[analyses.time_varying]\nendpoints = ["os"]\nexposure_time = "x"\ncovariates = ["bmi"]\n', '"bmi"',
     "unknown covariate 'bmi'"),
])
def test_bad_options_are_rejected_with_their_line(bad, where, words):
    text = ABLATION + bad
    with pytest.raises(ProtocolError) as info:
        loads(text, "toml", path="p.toml")
    assert any(words in msg and at == line(text, where) for _f, at, msg in info.value.problems), info.value


@pytest.mark.parametrize("missing, words", [("{ impute = 1 }", "greater than or equal to 2"),
                                            ('"listwise"', "complete_case"),
                                            ("{ impute = 20, seeds = 3 }", "seeds")])
def test_bad_missing_option_is_rejected(missing, words):
    text = ABLATION.replace('selection = "p_value"', f'selection = "p_value"\nmissing = {missing}')
    with pytest.raises(ProtocolError) as info:
        loads(text, "toml", path="p.toml")
    assert any(words in msg and at == line(text, "missing =") for _f, at, msg in info.value.problems), info.value


def test_salvage_example_has_the_time_varying_comparison(registry):
    study = run((EXAMPLES / "salvage_resection_after_local_recurrence.toml").read_text(), registry)
    c = study.cohort
    resected = c["salvage_months"].notna()
    assert 0 < resected.sum() < len(c)                                   # both arms exist
    assert (c.loc[resected, "index_intent"] == "salvage").all()
    got = study.results.numbers["time_varying"]["os"]
    rows = om.time_dependent(c[c["os_time"] > 0], time="os_time", event="os_event",
                             switches={"resected": "salvage_months"})
    fit = om.cox(rows, time="stop", event="os_event", start="start", covariates=["resected", "age", "ecog"],
                 cluster="patient_id")
    assert got["time_varying"]["exposed_tv"]["hr"] == approx(fit.summary.loc["resected", "hr"])
    keys = {s.key for s in study.results.sections}
    assert {"time_varying_os", "landmark_os"} <= keys


# --- balance labels ------------------------------------------------------------------------------

def test_balance_rows_carry_the_protocols_labels_and_code_labels(registry):
    """The balance table and love plot name each row from the protocol (a factor's level as a code label),
    looked up from the matching layer's own row names, never raw ('raswild_type') or guessed by prefix."""
    study = run(ABLATION, registry)
    sec = next(s for s in study.results.sections if any(getattr(i, "name", "") == "balance" for i in s.items))
    table = next(i for i in sec.items if getattr(i, "name", "") == "balance")
    shown = list(table.display["Covariate"])
    assert shown[0] == "Propensity score"
    assert "RAS status: Wild type" in shown and "RAS status: Mutant" in shown
    assert not any("_" in s for s in shown)
    assert set(table.data["covariate"]) == {"distance", "age", "ecog", "n_lesions", "rasmutant", "raswild_type"} \
        or "raswild_type" in set(table.data["covariate"])      # the tidy data keeps MatchIt's names
    love = next(i for i in sec.items if getattr(i, "name", "") == "love")
    assert set(love.data["labels"].values()) >= {"Propensity score", "RAS status: Wild type"}
