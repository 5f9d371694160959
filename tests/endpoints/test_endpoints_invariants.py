"""Consistency rules every derived frame must satisfy, checked on synthetic registries.

The hand tests pin exact values on small cases; these check the relations between endpoints
on thousands of generated patients (each rule follows from the definitions in docs/endpoints.md).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import oligomet
from oligomet.datasets.synthetic import synthetic_registry


@pytest.fixture(scope="module", params=[11, 12])
def reg(request):
    return synthetic_registry(2500, seed=request.param)


@pytest.fixture(scope="module")
def frame(reg):
    return oligomet.derive_endpoints(reg)


def test_times_non_negative_and_pfs_before_os(frame):
    d = frame.dropna(subset=["os_time"])
    assert len(d) > 1000
    for c in ("os_time", "pfs_time", "lr_time", "ttlr_time"):
        assert (d[c].dropna() >= 0).all(), c
    assert (d["pfs_time"] <= d["os_time"]).all()
    assert (d.loc[d["os_event"] == 1, "pfs_event"] == 1).all()  # death is a PFS event
    shorter = d["pfs_time"] < d["os_time"]
    assert (d.loc[shorter, "pfs_event"] == 1).all()  # PFS can only stop early on a progression


def test_dfs_equals_pfs_after_curative_index(frame):
    d = frame[frame["dfs_time"].notna()]
    assert len(d) > 500
    assert d["index_intent"].isin(["curative", "salvage"]).all() and (d["index_margin"] != "R2").all()
    np.testing.assert_array_equal(d["dfs_time"], d["pfs_time"])
    np.testing.assert_array_equal(d["dfs_event"], d["pfs_event"])


def test_local_recurrence_coding(frame):
    d = frame.dropna(subset=["lr_status"])
    assert set(d["lr_status"]) == {0.0, 1.0, 2.0}
    assert (d["lr_time"] <= d["os_time"]).all()
    dead = d["lr_status"] == 2
    assert (d.loc[dead, "os_event"] == 1).all() and (d.loc[dead, "lr_time"] == d.loc[dead, "os_time"]).all()
    cens = d["lr_status"] == 0
    assert (d.loc[cens, "os_event"] == 0).all() and (d.loc[cens, "lr_time"] == d.loc[cens, "os_time"]).all()
    np.testing.assert_array_equal(d["ttlr_event"], (d["lr_status"] == 1).astype(float))
    np.testing.assert_array_equal(d["ttlr_time"], d["lr_time"])
    # LR is defined exactly for patients ever treated locally
    assert (frame["lr_status"].notna() == frame["first_local_date"].notna() & frame["os_time"].notna()).all()


def test_mortality_complications_burden(frame):
    d = frame.dropna(subset=["os_time"])
    d90 = d["death_90d"].astype("boolean")
    assert (d.loc[d90.fillna(False).to_numpy(bool), "os_event"] == 1).all()
    assert (d.loc[d90.fillna(False).to_numpy(bool), "os_time"] <= 90 / 30.4375).all()
    assert ((d["cci"] >= 0) & (d["cci"] <= 100)).all()
    severe = d["worst_clavien_dindo"].astype(str).isin(["IIIa", "IIIb", "IVa", "IVb", "V"])
    np.testing.assert_array_equal(d["cd_grade_3plus"].astype(bool), severe)
    assert ((d["cci"] > 0) == (d["n_complications"] > 0)).all()
    assert (d["tbs"] >= d["n_lesions"].astype(float)).all() and (d["n_lesions"] >= 1).all()


def test_days_and_months_agree(reg, frame):
    days = oligomet.derive_endpoints(reg, unit="days")
    for c in ("os_time", "pfs_time", "dfs_time", "lr_time"):
        np.testing.assert_allclose(days[c] / 30.4375, frame[c])
    pd.testing.assert_series_equal(days["os_event"], frame["os_event"])


def test_lesion_level_consistent_with_patient_level(reg, frame):
    les = oligomet.derive_endpoints(reg, level="lesion")
    assert les["lesion_id"].is_unique and set(les["lr_status"].dropna()) <= {0.0, 1.0, 2.0}
    assert (les["lr_time"].dropna() >= 0).all() and (les["lr_time"] <= les["os_time"]).all()
    # a patient with a lesion that recurred after its first local treatment has recurrence_months set
    rec = set(les.loc[les["lr_status"] == 1, "patient_id"])
    has = frame.set_index("patient_id")["first_lr_months"].notna()
    assert has[sorted(rec)].all()


def test_history_rules(frame):
    # neoadjuvant means "before the first local treatment": missing exactly when there is none
    assert frame["first_local_date"].isna().any()
    assert (frame["neoadjuvant"].isna() == frame["first_local_date"].isna()).all()
    # the day rule: an event on the origin day is history, so a PFS event at time 0 is a death that day
    zero = frame[(frame["pfs_time"] == 0) & (frame["pfs_event"] == 1)]
    assert (zero["os_time"] == 0).all() and (zero["os_event"] == 1).all()
