"""Published group survival used for calibration carries whether it was checked against its paper: an
unchecked figure says 'unverified' in the data, in the validation table and on the sheet."""
import datetime as dt
import re

import pandas as pd

from oligomet.board.case import Case
from oligomet.board.scores import SCORES, validate_score
from oligomet.board.sheet import build_sheet
from oligomet.report.board_sheet import render_sheet


def test_every_published_figure_has_a_status():
    for sc in SCORES.values():
        if sc.published:
            assert sc.published_status == "verified" or sc.published_status.startswith("unverified: "), sc.id
        assert sc.published_verified == (sc.published_status == "verified")
    # what the check of 2026-12-04 found: neither paper's abstract gives its per-group figures
    assert not SCORES["fong"].published_verified and not SCORES["irlm"].published_verified


def test_validation_groups_carry_the_status():
    scores = pd.DataFrame({"patient_id": list("abcd"), "site": "A", "irlm_rank": [1.0, 1.0, 4.0, 4.0],
                           "irlm": ["I", "I", "IV", "IV"]})
    outcomes = pd.DataFrame({"patient_id": list("abcd"), "os_time": [50.0, 70.0, 10.0, 20.0],
                             "os_event": [1, 0, 1, 1]})
    groups = validate_score("irlm", scores, outcomes).groups.set_index("group")
    assert groups.loc["I", "published_value"] == 61.0
    assert groups.loc["I", "published_status"].startswith("unverified")


def test_sheet_says_unverified_beside_the_figures():
    case = Case(patient_id="Q1", as_of=dt.date(2024, 3, 1), primary_site="colorectal", node_positive=False,
                organs={"liver": {"n_lesions": 1, "largest_mm": 20}, "lung": {"n_lesions": 0}})
    html = render_sheet(build_sheet(case))
    row = re.search(r"<tr><td>Fong clinical risk score</td>.*?</tr>", html, flags=re.S).group(0)
    assert "published 5-year OS" in row and "0: 60%" in row and "unverified" in row
    irlm = re.search(r"<tr><td>International Registry of Lung Metastases grouping</td>.*?</tr>", html,
                     flags=re.S).group(0)
    assert "I: 61" in irlm and "unverified" in irlm
