"""cox.zph tests a categorical covariate jointly, as R: one row with k-1 df (fixture from R)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.datasets import load

FIXTURE = json.loads((Path(__file__).parents[1] / "reference" / "zph_factor" / "zph_factor.json").read_text())


@pytest.mark.parametrize("transform", ["km", "rank", "identity"])
def test_factor_is_one_multi_df_row(transform):
    fit = om.cox(load("veteran"), time="time", event="status", covariates=["C(celltype)", "karno"])
    z = fit.zph(transform=transform)
    want = FIXTURE[transform]
    assert list(z.index) == want["terms"]
    np.testing.assert_allclose(z["chisq"], want["chisq"], rtol=1e-8)
    np.testing.assert_array_equal(z["df"], want["df"])
    np.testing.assert_allclose(z["p"], want["p"], rtol=1e-7)


def test_interaction_is_one_multi_df_row():
    colon = load("colon")
    fit = om.cox(colon[colon["etype"] == 2], time="time", event="status", covariates="C(rx) * age")
    z = fit.zph()
    want = FIXTURE["interaction_km"]
    assert want["terms"] == ["factor(rx)", "age", "factor(rx):age", "GLOBAL"]
    assert list(z.index) == ["rx", "age", "rx:age", "GLOBAL"]
    np.testing.assert_allclose(z["chisq"], want["chisq"], rtol=1e-8)
    np.testing.assert_array_equal(z["df"], want["df"])
    np.testing.assert_allclose(z["p"], want["p"], rtol=1e-7)


@pytest.mark.parametrize("transform", ["km", "rank", "identity"])
def test_counting_process_data_as_r_zph2(transform):
    heart = pd.read_csv(Path(__file__).parents[1] / "reference" / "cox" / "data" / "heart_efron.csv")
    fit = om.cox(heart, time="stop", event="event", start="start",
                 covariates=["age", "year", "surgery", "transplant"])
    z = fit.zph(transform=transform)
    want = FIXTURE[f"heart_{transform}"]
    assert list(z.index) == want["terms"]
    np.testing.assert_allclose(z["chisq"], want["chisq"], rtol=1e-8)
    np.testing.assert_allclose(z["p"], want["p"], rtol=1e-7)
