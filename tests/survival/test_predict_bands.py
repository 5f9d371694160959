"""CoxResult.predict_survival(conf_int=True) against R's summary(survfit(fit, newdata), times).

Fixtures: tests/reference/coxpredict/make_coxpredict_fixtures.R (Efron, Breslow, robust, strata and
(start, stop] fits)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.datasets import load

pytestmark = pytest.mark.filterwarnings("ignore::oligomet.CompleteCaseWarning")  # lung: 1 NA ph.ecog, as R

FIX = Path(__file__).parents[1] / "reference" / "coxpredict"
REF = json.loads((FIX / "coxpredict.json").read_text())["cases"]


def _data(cid):
    if cid.startswith("heart"):
        return pd.read_csv(Path(__file__).parents[1] / "reference" / "cox" / "data" / "heart_efron.csv")
    d = load("lung")
    d["dead"] = (d["status"] == 2).astype(int)
    return d


def _fit(cid, ref, d):
    if cid.startswith("heart"):  # (start, stop] rows
        return om.cox(d, time="stop", start="start", event="event", covariates=["age", "year", "surgery", "transplant"],
                      ties=ref["ties"])
    if cid == "lung_strata":
        return om.cox(d, time="time", event="dead", covariates=["age", "ph.ecog"], strata="sex", ties=ref["ties"])
    return om.cox(d, time="time", event="dead", covariates=["age", "sex", "ph.ecog"], ties=ref["ties"],
                  robust=ref["robust"])


@pytest.mark.parametrize("cid", sorted(REF))
def test_predicted_survival_band_matches_r(cid):
    ref = REF[cid]
    fit = _fit(cid, ref, _data(cid))
    np.testing.assert_allclose(fit.coef, ref["coef"], rtol=1e-9)
    nd = pd.DataFrame(ref["newdata"])
    tab = fit.predict_survival(nd, ref["times"], conf_int=True)
    assert list(tab.columns) == ["profile", "time", "survival", "std_err", "lower", "upper"]
    shape = (len(ref["times"]), len(nd))
    for col in ("survival", "std_err", "lower", "upper"):
        got = tab[col].to_numpy().reshape(shape)
        want = np.array([[np.nan if v is None else v for v in row] for row in ref[col]], dtype=float)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=col)
    # the band's point estimate is the plain prediction
    plain = fit.predict_survival(nd, ref["times"])
    np.testing.assert_allclose(tab["survival"].to_numpy().reshape(shape), plain.to_numpy(), rtol=1e-14)


def test_band_widens_with_conf_level_and_labels_profiles():
    d = _data("lung")
    fit = om.cox(d, time="time", event="dead", covariates=["age", "sex"])
    nd = pd.DataFrame({"age": [50, 75], "sex": [1, 2]}, index=["young man", "older woman"])
    a = fit.predict_survival(nd, [180, 365], conf_int=True, conf_level=0.8)
    b = fit.predict_survival(nd, [180, 365], conf_int=True, conf_level=0.99)
    assert set(a["profile"]) == {"young man", "older woman"}
    assert (b["lower"] < a["lower"]).all() and (b["upper"] > a["upper"]).all()
    with pytest.raises(ValueError, match="conf_level"):
        fit.predict_survival(nd, [180], conf_int=True, conf_level=95)
