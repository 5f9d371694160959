"""landmark(): who stays, time from the landmark, exposure frozen at the landmark (worked by hand)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import oligomet as om


def small():
    # id: time, event, resection time
    return pd.DataFrame({"id": ["a", "b", "c", "d", "e", "f"],
                         "t": [3.0, 6.0, 6.0, 10.0, 14.0, 20.0],
                         "ev": [1, 1, 0, 1, 0, 1],
                         "res": [np.nan, 2.0, np.nan, 4.0, 9.0, np.nan]})


def test_who_stays_and_how_by_hand():
    lm = om.landmark(small(), at=6.0, time="t", event="ev", exposures={"resected": "res"})
    # a died at 3 (before), b died at 6 and c was censored at 6: nothing left to observe after 6
    assert lm.data["id"].tolist() == ["d", "e", "f"]
    assert lm.data["t"].tolist() == [4.0, 8.0, 14.0]        # time from the landmark
    assert lm.data["ev"].tolist() == [1, 0, 1]
    # d was resected at 4 (<= 6): exposed; e at 9, after the landmark: counts as not exposed; f never
    assert lm.data["resected"].tolist() == [1, 0, 0]
    assert lm.excluded.set_index("reason")["n"].to_dict() == {"event before landmark": 2,
                                                              "censored before landmark": 1}
    assert lm.at == 6.0


def test_landmark_removes_immortal_time_bias():
    """No true effect of resection, but resection happens during follow-up: the naive baseline yes/no
    comparison shows a strong spurious benefit; the landmark comparison does not."""
    rng = np.random.default_rng(11)
    n = 4000
    death = rng.exponential(24.0, n)                      # hazard independent of resection
    planned = rng.exponential(8.0, n)                     # resection would happen at this time...
    res = np.where(planned < death, planned, np.nan)     # ...if the patient is still alive
    cens = np.minimum(60.0, death)
    d = pd.DataFrame({"t": cens, "ev": (death <= 60.0).astype(int), "res": res})
    d["ever"] = d["res"].notna().astype(int)
    naive = om.cox(d, time="t", event="ev", covariates=["ever"]).summary.loc["ever", "hr"]
    lm = om.landmark(d, at=6.0, time="t", event="ev", exposures={"resected": "res"})
    hr = om.cox(lm.data, time="t", event="ev", covariates=["resected"]).summary.loc["resected"]
    assert naive < 0.6                                   # the bias the landmark must remove
    assert hr["hr_lower"] < 1.0 < hr["hr_upper"]


def test_bad_input():
    with pytest.raises(ValueError, match="no event happens after it"):
        om.landmark(small(), at=20.0, time="t", event="ev")
    with pytest.raises(ValueError, match="positive number"):
        om.landmark(small(), at=0, time="t", event="ev")
    with pytest.raises(ValueError, match="negative at"):
        om.landmark(small().assign(res=-1.0), at=5.0, time="t", event="ev", exposures={"x": "res"})
    with pytest.raises(ValueError, match="already used"):
        om.landmark(small(), at=5.0, time="t", event="ev", exposures={"res": "res"})
