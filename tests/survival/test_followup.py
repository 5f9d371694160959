"""Reverse Kaplan-Meier median follow-up against R:
quantile(survfit(Surv(time, 1 - status) ~ 1), c(.25, .5, .75)) (make_km_fixtures.R)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.datasets import load as load_dataset

KM_DIR = Path(__file__).resolve().parents[1] / "reference" / "km"
FIXTURES = json.loads((KM_DIR / "km_fixtures.json").read_text())
FU_CASES = [k for k, v in FIXTURES.items() if v["case"]["kind"] == "followup"]


def nan_or(v):
    return np.nan if v is None else v


@pytest.mark.parametrize("cid", FU_CASES)
def test_matches_reverse_km_in_r(cid):
    case, exp = FIXTURES[cid]["case"], FIXTURES[cid]["expected"]
    d = pd.read_csv(KM_DIR / "data" / f"{case['data']}.csv")
    m = om.median_followup(d, time=case["time"], event=case["event"])
    np.testing.assert_allclose(m, nan_or(exp["median"]), rtol=1e-12)
    f = om.median_followup(d, time=case["time"], event=case["event"], details=True)
    got = [f.median, f.lower, f.upper, f.q25, f.q75]
    want = [nan_or(exp[k]) for k in ("median", "lower", "upper", "q25", "q75")]
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert float(f) == f.median and f.n == len(d)


def test_colon_bundled_dataset_2352():
    # ../shared/reference case followup_colon (R): deaths (etype 2) in colon -> 2352 days.
    colon = load_dataset("colon")
    assert om.median_followup(colon[colon["etype"] == 2], time="time", event="status") == 2352


def test_bad_event_is_named():
    d = pd.DataFrame({"t": [1, 2, 3], "e": [1, 3, 0]})
    with pytest.raises(ValueError, match=r"event column 'e' must be 0/1"):
        om.median_followup(d, time="t", event="e")
