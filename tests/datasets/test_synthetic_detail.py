"""The synthetic registry's resection detail, recurrence imaging, CTCAE adverse events and missing CEA.

Each is drawn from its own random stream, so every other value is the one it was before these
fields existed; the figures built in (salvage resections more extensive than assessed before SABR,
drug-related grade >= 3 adverse events about 9% in both ablation arms, CEA unrecorded in about a
third of the lab rows, missing at random) are measured here on a large registry.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import oligomet.datasets.synthetic.detail as detail
from oligomet.datasets.synthetic import synthetic_registry
from oligomet.endpoints import derive_endpoints
from oligomet.registry import validate

NEW_FIELDS = {"treatments": ["assessed_extent", "resection_extent", "extensive_adhesions"],
              "events": ["ct_progression", "fdg_pet_uptake", "tumor_board_before_salvage"]}


@pytest.fixture(scope="module")
def reg():
    return synthetic_registry(12000, seed=11)


def test_the_other_fields_keep_their_values(reg, monkeypatch):
    for name in ("add_resection_detail", "add_recurrence_detail", "add_adverse_events", "make_cea_missing_at_random"):
        monkeypatch.setattr(detail, name, lambda tables, seed: None)
    before = synthetic_registry(12000, seed=11)
    for name, frame in before.items():
        if name in ("labs", "adverse_events"):
            continue
        cols = [c for c in frame.columns if c not in NEW_FIELDS.get(name, [])]
        pd.testing.assert_frame_equal(reg[name][cols], frame[cols], obj=name)
        assert frame[NEW_FIELDS.get(name, [])].isna().all().all()
    assert before["adverse_events"].empty
    # labs: rows are only removed (an unrecorded CEA), the others keep date and value
    kept = reg["labs"].merge(before["labs"], on=["patient_id", "date"], how="left", suffixes=("", "_before"))
    assert kept["cea_before"].notna().all() and (kept["cea"] == kept["cea_before"]).all()
    share = 1 - len(reg["labs"]) / len(before["labs"])
    assert 0.30 <= share <= 0.37, share


def test_the_registry_with_its_detail_validates_cleanly(reg):
    report = validate(reg, data_lock="2024-12-31")
    assert report.ok, report.to_text(limit=10)


def test_salvage_resections_are_more_extensive_than_assessed_before_sabr(reg):
    f = derive_endpoints(reg, index_modalities=["resection"], index_intents=["salvage"])
    s = f[(f["first_local_modality"] == "sabr") & (f["index_intent"] == "salvage")].dropna(
        subset=["first_local_assessed_extent_step", "index_resection_extent_step"])
    assert len(s) > 250
    diff = s["index_resection_extent_step"] - s["first_local_assessed_extent_step"]
    assert 0.40 <= (diff > 0).mean() <= 0.65
    assert (diff < 0).mean() <= 0.06
    # a first resection (CRLM) mostly has the extent assessed before it
    c = derive_endpoints(reg, index_modalities=["resection"])
    c = c[(c["primary_site"] == "colorectal") & (c["first_local_modality"] == "resection")].dropna(
        subset=["index_assessed_extent_step", "index_resection_extent_step"])
    assert 0.75 <= (c["index_assessed_extent_step"] == c["index_resection_extent_step"]).mean() <= 0.90
    assert set(c["index_resection_extent"].astype(str)) <= {"wedge", "segmentectomy", "hemihepatectomy"}
    # adhesions: more often at a re-operation after SABR than at a first liver resection
    assert s["index_extensive_adhesions"].mean() > c["index_extensive_adhesions"].mean() + 0.1


def test_drug_related_grade_3_adverse_events_about_9_percent_in_both_ablation_arms(reg):
    f = derive_endpoints(reg, index_modalities=["rfa", "mwa"])
    a = f[f["index_modality"].isin(["rfa", "mwa"]) & f["first_local_modality"].isin(["rfa", "mwa"])]
    rates = a.groupby("neoadjuvant")["ctcae_3plus_drug_related"].agg(["mean", "count"])
    assert (rates["count"] > 150).all()      # patients given systemic therapy (upfront: at recurrence)
    for arm in (False, True):
        assert 0.05 <= rates.loc[arm, "mean"] <= 0.13, rates
    assert abs(rates.loc[True, "mean"] - rates.loc[False, "mean"]) < 0.04


def test_recurrence_imaging_and_tumor_board(reg):
    ev = reg["events"]
    lr_lung = (ev["type"] == "local_recurrence") & (ev["organ"] == "lung")
    assert ev.loc[lr_lung, "fdg_pet_uptake"].notna().mean() > ev.loc[~lr_lung, "fdg_pet_uptake"].notna().mean() + 0.3
    assert 0.85 <= ev["ct_progression"].mean() <= 0.97
    board = ev["tumor_board_before_salvage"].dropna()
    assert len(board) > 500 and 0.8 <= board.mean() <= 0.95


def test_cea_is_missing_at_random_given_site_year_and_ecog(reg, monkeypatch):
    for name in ("add_resection_detail", "add_recurrence_detail", "add_adverse_events", "make_cea_missing_at_random"):
        monkeypatch.setattr(detail, name, lambda tables, seed: None)
    full = synthetic_registry(12000, seed=11)["labs"]
    kept = full.merge(reg["labs"][["patient_id", "date"]], how="left", indicator=True)
    missing = kept["_merge"] == "left_only"
    pts = reg["patients"].set_index("patient_id")
    site = kept["patient_id"].map(pts["site"])
    by_site = missing.groupby(site).mean()
    assert by_site.max() - by_site.min() > 0.25                 # some sites record CEA far less often
    year = kept["date"].dt.year
    assert missing[year < 2010].mean() > missing[year >= 2018].mean() + 0.05
    ecog = kept["patient_id"].map(pts["ecog"]).astype(int)
    assert missing[ecog == 2].mean() > missing[ecog == 0].mean() + 0.05
    # within one site, year and ECOG, missingness does not depend on the value itself (MAR, not MNAR)
    cell = (site == by_site.idxmax()) & (ecog == 0)
    v = kept["cea"][cell]
    high = v > v.median()
    assert abs(missing[cell][high].mean() - missing[cell][~high].mean()) < 0.08
    # the early-recurrence cohort (CEA at the recurrence) then has about a third missing
    f = derive_endpoints(reg, origin="first_recurrence")
    c = f[(f["primary_site"] == "colorectal") & (f["first_local_modality"] == "resection")
          & (f["recurrence_months"] <= 12)]
    assert 0.28 <= c["cea"].isna().mean() <= 0.40
    assert np.isfinite(c["cea"].dropna()).all()
