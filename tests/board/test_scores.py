"""Prognostic scores: worked examples by hand from each score's definition, unknown components kept
unknown, and Harrell's C equal to R's concordance() (fixture) and to om.cox(...).concordance."""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.board.case import Case
from oligomet.board.scores import compute_scores, score_inputs_from_case, validate_score

REF = Path(__file__).parents[1] / "reference" / "board"


def case(**kw):
    base = dict(patient_id="H", as_of="2024-01-01")
    base.update(kw)
    return Case(**base)


def scores_of(c):
    return compute_scores(score_inputs_from_case(c)).iloc[0]


def crlm(n, largest, **kw):
    return case(primary_site="colorectal", organs={"liver": {"n_lesions": n, "largest_mm": largest},
                                                   **kw.pop("organs", {"lung": {"n_lesions": 0}})}, **kw)


def test_fong_all_five_factors():
    # node+, DFI 6 < 12, 3 tumours > 1, CEA 250 > 200, 60 mm > 50 mm: 5 points, high risk
    s = scores_of(crlm(3, 60.0, node_positive=True, dfi_months=6.0, cea=250.0))
    assert s["fong"] == 5 and s["fong_group"] == "high (3-5)"


def test_fong_no_factor_and_boundaries():
    # DFI exactly 12 is not < 12; CEA exactly 200 is not > 200; 50 mm is not > 50 mm; one tumour
    s = scores_of(crlm(1, 50.0, node_positive=False, dfi_months=12.0, cea=200.0))
    assert s["fong"] == 0 and s["fong_group"] == "low (0-2)"


def test_fong_unknown_component_makes_the_score_unknown_not_lower():
    s = scores_of(crlm(3, 60.0, node_positive=True, dfi_months=6.0))   # CEA unknown
    assert np.isnan(s["fong"]) and s["fong_group"] is None
    assert s["fong_node"] == 1 and np.isnan(s["fong_cea"])


def test_game_unknown_when_extrahepatic_disease_is_not_known():
    # only liver and lung were examined in this case file: other organs are not known to be free
    s = scores_of(crlm(1, 20.0, node_positive=False, cea=3.0, ras="wild_type"))
    assert np.isnan(s["game"]) and np.isnan(s["game_extrahepatic"]) and s["game_tbs"] == 0


def test_tbs_and_game_by_hand():
    # 3 lesions, largest 40 mm: TBS = sqrt(4^2 + 3^2) = 5 -> zone 2 and 1 GAME point;
    # RAS mutant 1, CEA 25 >= 20 1, node+ 1, lung disease (extrahepatic) 2: GAME 6, high
    s = scores_of(crlm(3, 40.0, node_positive=True, cea=25.0, ras="mutant",
                       organs={"lung": {"n_lesions": 1, "largest_mm": 8.0}}))
    assert s["tbs"] == pytest.approx(5.0) and s["tbs_group"] == "zone 2 (3-9)"
    assert s["game_tbs"] == 1 and s["game_extrahepatic"] == 2
    assert s["game"] == 6 and s["game_group"] == "high (>= 4)"
    # 9 lesions, largest 35 mm: TBS = sqrt(3.5^2 + 81) = 9.66 -> 2 GAME points; wild type, CEA 19, node-,
    # liver only: GAME 2, intermediate
    s = scores_of(crlm(9, 35.0, node_positive=False, cea=19.0, ras="wild_type", extrahepatic_disease=False))
    assert s["tbs"] == pytest.approx(np.sqrt(3.5 ** 2 + 81)) and s["tbs_group"] == "zone 3 (>= 9)"
    assert s["game"] == 2 and s["game_group"] == "intermediate (2-3)"
    # 1 lesion of 20 mm: TBS = sqrt(4 + 1) = 2.24, zone 1, no TBS point
    s = scores_of(crlm(1, 20.0, node_positive=False, cea=3.0, ras="wild_type", extrahepatic_disease=False))
    assert s["tbs_group"] == "zone 1 (< 3)" and s["game"] == 0 and s["game_group"] == "low (0-1)"


@pytest.mark.parametrize("resectable, dfi, n, group", [
    (True, 40.0, 1, "I"), (True, 36.0, 1, "I"), (True, 35.0, 1, "II"), (True, 40.0, 2, "II"),
    (True, 10.0, 3, "III"), (False, 40.0, 1, "IV"), (None, 40.0, 1, None)])
def test_irlm_grouping(resectable, dfi, n, group):
    c = case(primary_site="sarcoma", dfi_months=dfi,
             organs={"lung": {"n_lesions": n, "largest_mm": 10.0, "technically_resectable": resectable}})
    got = scores_of(c)["irlm"]
    assert got == group if group else pd.isna(got)


@pytest.mark.parametrize("largest, tfi, adverse", [(25.0, 6.0, 2), (25.0, 13.0, 1), (20.0, 12.0, 1),
                                                    (15.0, 18.0, 0)])
def test_sarcoma_factors(largest, tfi, adverse):
    c = case(primary_site="sarcoma", tfi_months=tfi, organs={"lung": {"n_lesions": 1, "largest_mm": largest}})
    assert scores_of(c)["sarcoma"] == adverse
    assert np.isnan(scores_of(crlm(1, 10.0))["sarcoma"])     # not a sarcoma: not applicable


@pytest.fixture(scope="module")
def scores_os():
    return pd.read_csv(REF / "scores_os.csv")


@pytest.fixture(scope="module")
def r_ref():
    return json.loads((REF / "concordance_scores.json").read_text())


@pytest.mark.parametrize("score", ["fong", "game", "tbs", "sarcoma", "irlm_rank"])
def test_c_index_matches_r_concordance(score, scores_os, r_ref):
    ref = r_ref["scores"][score]
    sid = {"irlm_rank": "irlm"}.get(score, score)
    groups = {"fong": "fong_points", "tbs": "tbs_group", "game": "game_group", "irlm": "irlm",
              "sarcoma": "sarcoma_group"}[sid]
    frame = scores_os.assign(**{groups: scores_os[score].astype(str)}) if groups != score else scores_os
    v = validate_score(sid, frame, scores_os[["patient_id", "os_time", "os_event"]])
    overall = v.concordance.set_index("site").loc["all"]
    assert overall["n"] == ref["n"]
    assert overall["c_index"] == pytest.approx(ref["c"], abs=1e-10)
    assert overall["std_err"] == pytest.approx(ref["std_err"], rel=1e-6)
    per_site = v.concordance.set_index("site").drop("all")
    assert set(per_site.index) == set(ref["per_site"])
    for site, row in per_site.iterrows():
        assert row["c_index"] == pytest.approx(ref["per_site"][site]["c"], abs=1e-10)


def test_c_index_equals_cox_concordance_on_the_score(scores_os):
    d = scores_os.dropna(subset=["sarcoma"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = om.cox(d, "os_time", "os_event", ["sarcoma"])
    assert fit.coef[0] > 0      # a higher score is a higher hazard, so the orientation agrees
    v = validate_score("sarcoma", d.assign(sarcoma_group=d["sarcoma"].astype(int).astype(str)),
                       d[["patient_id", "os_time", "os_event"]])
    assert v.concordance.set_index("site").loc["all", "c_index"] == pytest.approx(fit.concordance, abs=1e-12)


def test_validation_groups_count_every_patient(scores_os):
    d = scores_os.dropna(subset=["sarcoma"])
    v = validate_score("sarcoma", d.assign(sarcoma_group=d["sarcoma"].astype(int).astype(str)),
                       d[["patient_id", "os_time", "os_event"]])
    assert v.groups["n"].sum() == len(d)
    assert list(v.groups["group"]) == ["0", "1", "2"]
    # more adverse factors, worse 5-year survival on the synthetic registry (built in with HR 2.6 / 0.42)
    assert v.groups["survival"].is_monotonic_decreasing


def test_validation_against_dfs_on_the_registry():
    from oligomet.board.scores import validate_all
    from oligomet.datasets.synthetic import synthetic_registry
    from oligomet.endpoints import derive_endpoints

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = derive_endpoints(synthetic_registry(1500, seed=3))
        v = validate_all(frame, endpoint="dfs")["sarcoma"]
    n_dfs = int((frame["primary_site"].eq("sarcoma") & frame["dfs_time"].notna()).sum())
    overall = v.concordance.set_index("site").loc["all"]
    assert 0 < overall["n"] <= n_dfs and overall["c_index"] > 0.5   # lesion > 2 cm: DFS HR 2.6 built in
    assert v.groups["n"].sum() == overall["n"]
