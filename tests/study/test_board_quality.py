"""The board-quality analysis on constructed decisions: concordance per site and period with Wilson CIs,
corrections counted through their correction, OS from the decision date by concordance, and the
catalogue path (decisions read from the study's database, caveat in the report)."""
from __future__ import annotations

import datetime as dt
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.study import StudyError, run_study
from oligomet.study.analyses.board_quality import board_quality, wilson_interval
from oligomet.study.protocol_source import loads


def test_wilson_interval_matches_prop_test():
    # R: prop.test(7, 10, correct = FALSE)$conf.int -> 0.3967781 0.8922087;
    #    prop.test(0, 5, correct = FALSE)$conf.int -> 0.0000000 0.4344825
    lo, hi = wilson_interval([7, 0], [10, 5])
    np.testing.assert_allclose(lo, [0.3967781, 0.0], atol=1e-7)
    np.testing.assert_allclose(hi, [0.8922087, 0.4344825], atol=1e-7)


def _patients():
    """Six patients at two sites; deaths and last contacts chosen so the times are known by hand."""
    return pd.DataFrame({
        "patient_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
        "site": ["A", "A", "A", "B", "B", "B"],
        "death_date": pd.to_datetime(["2024-07-01", None, "2023-06-01", "2025-01-01", "2024-06-01", "2023-03-01"]),
        "last_contact_date": pd.to_datetime(["2024-07-01", "2025-01-01", "2023-06-01", "2025-01-01", "2024-06-01",
                                             "2023-03-01"]),
        "age": [60.0, 70.0, 55.0, 80.0, 66.0, 72.0],
    })


def _decisions():
    rows = [  # id, patient, case date, concordant, corrects
        (1, "P1", "2024-01-01", True, None),
        (2, "P2", "2024-02-01", False, None),
        (3, "P3", "2023-01-01", True, None),
        (4, "P4", "2024-01-01", False, None),
        (5, "P4", "2024-01-01", True, 4),      # correction: P4's decision was in fact concordant
        (6, "P5", "2023-06-01", False, None),
        (7, "P6", "2023-01-01", True, None),
        (8, "P3", "2023-04-01", False, None),  # a second meeting on P3: counted in concordance, not in OS
        (9, "XX", "2024-01-01", False, None),  # not in the registry
    ]
    return pd.DataFrame(rows, columns=["id", "patient_id", "case_date", "concordant", "corrects"])


def test_concordance_per_site_and_year_counts_corrections_once():
    r = board_quality(_decisions(), _patients(), period="year")
    assert (r.n_decisions, r.n_superseded, r.n_outside) == (7, 1, 1)
    t = r.concordance.set_index(["site", "period"])
    expected = {("A", "2023"): (2, 1), ("A", "2024"): (2, 1), ("B", "2023"): (2, 1), ("B", "2024"): (1, 1),
                ("All sites", "2023"): (4, 2), ("All sites", "2024"): (3, 2)}
    assert {k: (int(v.n), int(v.n_concordant)) for k, v in t.iterrows()} == expected
    lo, hi = wilson_interval(2, 3)
    assert t.loc[("All sites", "2024"), "lower"] == pytest.approx(float(lo))
    assert t.loc[("All sites", "2024"), "upper"] == pytest.approx(float(hi))
    assert list(r.concordance["site"].drop_duplicates()) == ["A", "B", "All sites"]


def test_concordance_per_month():
    r = board_quality(_decisions(), _patients(), period="month")
    months = set(r.concordance.loc[r.concordance["site"] == "A", "period"])
    assert months == {"2024-01", "2024-02", "2023-01", "2023-04"}


def test_outcomes_from_the_first_decision_date():
    r = board_quality(_decisions(), _patients(), unit="days", adjust={"age": "Age"})
    o = r.outcomes.set_index("patient_id")
    # P1: decided 2024-01-01, died 2024-07-01 = 182 days; P3's first decision (2023-01-01) counts
    assert o.loc["P1", "time"] == 182 and o.loc["P1", "event"] == 1
    assert o.loc["P3", "time"] == (dt.date(2023, 6, 1) - dt.date(2023, 1, 1)).days
    assert o.loc["P4", "decision"] == "Concordant"            # through the correction
    assert o.loc["P2", "event"] == 0 and o.loc["P2", "decision"] == "Discordant"
    assert "XX" not in o.index
    # the HR is the one om.cox gives on the same hand-made frame
    hand = o.reset_index()[["patient_id", "time", "event", "discordant"]].merge(_patients()[["patient_id", "age"]])
    crude = om.cox(hand, time="time", event="event", covariates=["discordant"]).summary.loc["discordant"]
    adjusted = om.cox(hand, time="time", event="event", covariates=["discordant", "age"]).summary.loc["discordant"]
    hr = r.hazard_ratios.set_index("model")
    assert hr.loc["crude", "hr"] == pytest.approx(crude["hr"], rel=1e-10)
    assert hr.loc["adjusted", "hr"] == pytest.approx(adjusted["hr"], rel=1e-10)
    assert hr.loc["adjusted", "hr"] != pytest.approx(hr.loc["crude", "hr"])
    km = om.kaplan_meier(r.outcomes, time="time", event="event", by="decision").medians
    pd.testing.assert_frame_equal(r.km_medians.reset_index(drop=True), km.reset_index(drop=True))


def test_follow_up_ending_before_the_decision_is_left_out():
    p = _patients()
    p.loc[p["patient_id"] == "P5", "last_contact_date"] = pd.Timestamp("2023-01-01")   # before 2023-06-01
    p.loc[p["patient_id"] == "P5", "death_date"] = pd.NaT
    r = board_quality(_decisions(), p)
    assert r.n_no_followup == 1 and "P5" not in set(r.outcomes["patient_id"])


def test_no_hazard_ratio_without_discordant_decisions_says_why():
    d = _decisions().assign(concordant=True)
    r = board_quality(d, _patients())
    assert r.hazard_ratios.empty and "needs concordant and discordant" in r.notes[0]


def test_missing_decision_column_is_named():
    with pytest.raises(ValueError, match="corrects"):
        board_quality(_decisions().drop(columns="corrects"), _patients())


PROTO = """title = "Board quality"
name = "board_quality"
seed = 1
[data]
url = "{url}"
[origin]
type = "metastasis_diagnosis"
[[endpoints]]
name = "os"
[[covariates]]
column = "age"
[analyses.board_quality]
adjust = ["age"]
"""


@pytest.fixture(scope="module")
def store_with_decisions(registry, tmp_path_factory):
    """The study registry in SQLite, with decisions recorded through the board's own DecisionLog: sites'
    patients decided concordantly except every third, one decision corrected."""
    from oligomet.board.decisions import Decision, DecisionLog
    from oligomet.registry.store import Store

    url = f"sqlite:///{tmp_path_factory.mktemp('bq') / 'reg.db'}"
    with Store(url) as store:
        assert store.import_registry(registry).status != "rejected"
    log = DecisionLog(url)
    patients = registry["patients"].head(90)
    ids = []
    for i, (pid, diag) in enumerate(zip(patients["patient_id"], patients["primary_diagnosis_date"])):
        day = (pd.Timestamp(diag) + pd.Timedelta(days=400)).date()
        ids.append(log.append(Decision(str(pid), day, "systemic" if i % 3 == 0 else "resection", ("resection",),
                                       "test-1", "0" * 64, "surgeon", reason="frail" if i % 3 == 0 else None)))
    log.append(Decision(str(patients["patient_id"].iloc[0]), day, "resection", ("resection",), "test-1", "0" * 64,
                        "surgeon", corrects=ids[0]))
    log.close()
    return url, patients


def test_catalogue_path_reads_the_decisions_and_writes_the_caveat(store_with_decisions, tmp_path):
    url, patients = store_with_decisions
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_study(loads(PROTO.format(url=url), "toml"), out=tmp_path / "report")
    numbers = json.loads((tmp_path / "report" / "results.json").read_text())["numbers"]["board_quality"]
    in_cohort = set(study.cohort["patient_id"].astype(str)) & set(patients["patient_id"].astype(str))
    assert numbers["n_superseded"] == 1
    assert numbers["n_decisions"] == len(in_cohort)
    total = {k: v for k, v in numbers["concordance"].items() if k.startswith("All sites")}
    assert sum(v["n"] for v in total.values()) == len(in_cohort)
    assert set(numbers["outcomes"]) == {"crude", "adjusted"}
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Confounding by indication" in html and "Decisions concordant with the rules" in html


def test_a_database_without_decisions_is_a_clear_error(store_with_decisions, tmp_path):
    """``decisions`` names another database (e.g. a copy of the board's): one without the table is refused
    at that line."""
    import sqlite3

    url, _ = store_with_decisions
    other = tmp_path / "not_a_board.db"
    sqlite3.connect(other).close()
    text = PROTO.format(url=url) + f'decisions = "sqlite:///{other}"\n'
    with pytest.raises(StudyError, match="no board_decisions table") as err, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_study(loads(text, "toml"))
    assert "analyses.board_quality.decisions" in str(err.value)


def test_protocol_without_a_database_is_refused():
    text = PROTO.replace('url = "{url}"', "synthetic = { n_patients = 10 }")
    with pytest.raises(Exception, match="decisions"):
        loads(text, "toml")
