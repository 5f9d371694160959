"""Plausible clinical values (rule classes 4, 5, 6), resection detail and CTCAE grades."""
from __future__ import annotations

import numpy as np

from ..fields import (ASA_RANGE, CHARLSON_RANGE, CTCAE_GRADES, FEV1_PCT_RANGE, LIVER_EXTENTS, LOCAL_MODALITIES,
                      LUNG_EXTENTS, RESECTION_EXTENT)
from .context import Context

MAX_DIAMETER_MM = 300.0
#: SABR dose per fraction outside this range (Gy) is implausible: the lowest SABR schedules give
#: ~5 Gy x 10 (3 Gy covers hypofractionated boosts), the highest single fraction in use is 34 Gy.
DOSE_PER_FRACTION_GY = (3.0, 35.0)


def check_clavien_dindo(ctx: Context) -> None:
    co = ctx.tables["complications"]
    if len(co):
        grade_v = ctx.is_in("complications", "clavien_dindo", ["V"]) & ctx.death("complications").isna().to_numpy()
        ctx.error("complications", "grade_v_without_death", grade_v, "clavien_dindo",
                  "Clavien-Dindo grade V means death, but the patient has no death date")


def check_measurements(ctx: Context) -> None:
    d = ctx.tables["lesions"]["diameter_mm"]
    ctx.error("lesions", "diameter_nonpositive", (d <= 0).to_numpy(), "diameter_mm", "diameter must be > 0 mm")
    ctx.error("lesions", "diameter_implausible", (d > MAX_DIAMETER_MM).to_numpy(), "diameter_mm",
              f"diameter above {MAX_DIAMETER_MM:g} mm is implausible; the field is in millimetres "
              "(likely a cm/mm mix-up)")
    cea = ctx.tables["labs"]["cea"]
    ctx.error("labs", "cea_negative", (cea < 0).to_numpy(), "cea", "CEA cannot be negative (ng/mL)")
    ca = ctx.tables["labs"]["ca19_9"]
    ctx.error("labs", "value_negative", (ca < 0).to_numpy(), "ca19_9", "CA 19-9 cannot be negative (U/mL)")
    margin = ctx.tables["treatments"]["ablation_margin_mm"]
    ctx.error("treatments", "value_negative", (margin < 0).to_numpy(), "ablation_margin_mm",
              "an ablation margin cannot be negative (record an incomplete ablation as 0 mm)")

    mdt = ctx.tables["mdt_decisions"]
    for name, (lo, hi), what in (("fev1_pct", FEV1_PCT_RANGE, "FEV1 is in % of predicted"),
                                 ("charlson_index", CHARLSON_RANGE, "the Charlson comorbidity index"),
                                 ("asa_class", ASA_RANGE, "the ASA physical status class (I-VI as 1-6)")):
        v = mdt[name].astype("Float64")
        bad = ((v < lo) | (v > hi)).fillna(False).to_numpy(dtype=bool)
        ctx.error("mdt_decisions", "mdt_measure_out_of_range", bad, name,
                  f"{name} must be within {lo:g}-{hi:g} ({what})")


def check_sabr(ctx: Context) -> None:
    tr = ctx.tables["treatments"]
    sabr = ctx.is_in("treatments", "modality", ["sabr"])
    if not sabr.any():
        return
    fx = tr["fractions"].astype("Float64")
    dose = tr["dose_gy"]
    ctx.error("treatments", "sabr_fractions", sabr & (fx.isna() | (fx <= 0)).to_numpy(dtype=bool), "fractions",
              "SABR needs a number of fractions >= 1")
    ctx.error("treatments", "sabr_dose_missing", sabr & dose.isna().to_numpy(), "dose_gy",
              "SABR needs the total dose in Gy")
    per = (dose / fx.astype(float)).where(fx > 0)
    lo, hi = DOSE_PER_FRACTION_GY
    bad = sabr & ((per < lo) | (per > hi)).fillna(False).to_numpy(dtype=bool)
    bad |= sabr & (dose <= 0).to_numpy()
    ctx.error("treatments", "sabr_dose_per_fraction", bad, "dose_gy",
              lambda m: "implausible SABR dose per fraction " + per[m].round(2).astype(str)
              + f" Gy (expected {lo:g}-{hi:g} Gy)")


def check_resection_detail(ctx: Context) -> None:
    """Extents and intra-operative findings sit on the treatments they describe, in the organ's terms."""
    tr = ctx.tables["treatments"]
    if not len(tr):
        return
    mod = tr["modality"]
    assessed, performed = tr["assessed_extent"], tr["resection_extent"]

    def given(field):
        return ctx.coded("treatments", field)[0] >= 0

    def among(field, values):   # a missing cell is among none (and != any value)
        return ctx.is_in("treatments", field, values)

    ctx.error("treatments", "extent_wrong_treatment", given("resection_extent") & ~among("modality", ["resection"]),
              "resection_extent", lambda m: "a performed resection extent on a " + mod[m].astype(str)
              + " treatment; record it on the resection (the assessment before other treatments is assessed_extent)")
    local = among("modality", LOCAL_MODALITIES)
    ctx.error("treatments", "extent_wrong_treatment", given("assessed_extent") & ~local, "assessed_extent",
              lambda m: "an assessed resection extent on a " + mod[m].astype(str) + " treatment; it belongs to "
              "local treatments (resection, SABR, ablation)")
    operated = among("modality", ["resection"]) | (local & among("approach", _OPERATED))
    ctx.error("treatments", "finding_without_operation",
              given("extensive_adhesions") & ~among("extensive_adhesions", ["unknown"]) & ~operated,
              "extensive_adhesions",
              lambda m: "an intra-operative finding on a " + mod[m].astype(str) + " treatment with approach "
              + tr["approach"][m].fillna("unknown").astype(str) + " (no operation)")
    organs = _treated_organs(ctx)
    for f, values in (("assessed_extent", assessed), ("resection_extent", performed)):
        lung_only = organs["lung"] & ~organs["liver"]
        liver_only = organs["liver"] & ~organs["lung"]
        known = among(f, RESECTION_EXTENT)   # another value is an unknown_code error already
        bad = known & ((lung_only & ~among(f, LUNG_EXTENTS)) | (liver_only & ~among(f, LIVER_EXTENTS)))
        ctx.error("treatments", "extent_organ", bad, f,
                  lambda m, values=values, lung=lung_only: "a " + values[m].astype(str) + " of a "
                  + np.where(lung[m], "lung", "liver") + " lesion; allowed: "
                  + np.where(lung[m], ", ".join(LUNG_EXTENTS), ", ".join(LIVER_EXTENTS)))


_OPERATED = ("open", "minimally_invasive")


def _treated_organs(ctx: Context) -> dict[str, np.ndarray]:
    """Per treatment row: whether it treats a lung lesion, a liver lesion (from ``lesion_ids``)."""
    out = {o: np.zeros(len(ctx.tables["treatments"]), dtype=bool) for o in ("lung", "liver")}
    listed = ctx.treated_lesions
    if len(listed):
        organ = ctx.treated_lesion_value("organ")
        for o in ("lung", "liver"):
            out[o][listed["pos"].to_numpy()[organ == o]] = True
    return out


def check_adverse_events(ctx: Context) -> None:
    ae = ctx.tables["adverse_events"]
    if not len(ae):
        return
    grade = ae["grade"].astype("Float64")
    ctx.error("adverse_events", "ctcae_grade", (grade.notna() & ~grade.isin(CTCAE_GRADES)).fillna(False)
              .to_numpy(dtype=bool), "grade", "CTCAE grades are 1, 2, 3, 4 or 5")
    ctx.error("adverse_events", "ctcae_grade_5_without_death",
              ((grade == 5).fillna(False) & ctx.death("adverse_events").isna()).to_numpy(dtype=bool), "grade",
              "CTCAE grade 5 means death, but the patient has no death date")
