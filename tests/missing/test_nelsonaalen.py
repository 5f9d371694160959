"""``nelsonaalen`` against ``mice::nelsonaalen`` (R's basehaz of a null coxph: Efron ties)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.datasets import load


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "mice" / "mice.json").read_text())


def test_ties_are_counted_as_r_does(ref):
    r = ref["nelsonaalen_ties"]
    d = pd.DataFrame({"time": r["time"], "status": r["status"]})
    np.testing.assert_allclose(om.nelsonaalen(d, "time", "status"), r["hazard"], rtol=1e-14)
    # by hand: at t = 1, 12 at risk and 2 events: 1/12 + 1/11 (Nelson-Aalen would say 2/12)
    assert om.nelsonaalen(d, "time", "status").iloc[0] == pytest.approx(1 / 12 + 1 / 11, rel=1e-15)


def test_lung_and_colon(ref):
    lung = load("lung").assign(status=lambda d: d.status - 1)
    np.testing.assert_allclose(om.nelsonaalen(lung, "time", "status"), ref["cases"]["lung"]["nelsonaalen"], rtol=1e-12)
    colon = load("colon").query("etype == 2")
    np.testing.assert_allclose(om.nelsonaalen(colon, "time", "status"), ref["cases"]["colon"]["nelsonaalen"],
                               rtol=1e-12)


def test_cause_specific_hazards_of_competing_risks(ref):
    mg = load("mgus2")
    mg = mg.assign(etime=np.where(mg.pstat == 1, mg.ptime, mg.futime),
                   event=np.where(mg.pstat == 1, 1, 2 * mg.death))
    case = ref["cases"]["mgus2"]
    np.testing.assert_allclose(om.nelsonaalen(mg, "etime", "event", cause=1), case["nelsonaalen1"], rtol=1e-12)
    np.testing.assert_allclose(om.nelsonaalen(mg, "etime", "event", cause=2), case["nelsonaalen2"], rtol=1e-12)


def test_result_is_aligned_with_the_rows_and_named():
    d = pd.DataFrame({"t": [3.0, 1.0, 2.0], "e": [True, True, False]}, index=["c", "a", "b"])
    h = om.nelsonaalen(d, "t", "e")
    assert h.name == "H(t)" and list(h.index) == ["c", "a", "b"]
    np.testing.assert_allclose(h, [1 / 3 + 1.0, 1 / 3, 1 / 3])


def test_missing_time_is_an_error_naming_the_rows():
    d = pd.DataFrame({"t": [1.0, np.nan], "e": [1, 0]})
    with pytest.raises(ValueError, match="'t'.*missing"):
        om.nelsonaalen(d, "t", "e")
