"""The board's judgements and measurements on each MDT decision of the synthetic registry (issue 11),
and the colorectal primaries' sidedness, drawn after everything else from a stream of their own."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .assemble import conform
from .draws import pick

_LEFT_LIVER = ("segment II", "segment III", "segment IVa", "segment IVb")   # segment I (caudate): neither
_RIGHT_LIVER = ("segment V", "segment VI", "segment VII", "segment VIII")
#: Per recommendation, P(yes) of each organ judgement; an organ without lesions gets none (blank).
_JUDGEMENT_P = {
    "liver": {"resection": (0.97, 0.45, 0.95), "ablation": (0.10, 0.97, 0.92), "systemic": (0.15, 0.10, 0.08),
              "sabr": (0.5, 0.5, 0.5)},
    "lung": {"resection": (0.96, 0.40, 0.90), "sabr": (0.35, 0.97, 0.88), "ablation": (0.5, 0.5, 0.5),
             "systemic": (0.25, 0.30, 0.15)},
}
_JUDGEMENT_MISSING, _JUDGEMENT_UNKNOWN = 0.12, 0.04


def with_board_facts(tables: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Fill the MDT decisions' board facts (judgements per organ, disease extent, Charlson index, ASA
    class, FEV1) with plausible values consistent with the recommendation and the lesions known at
    the meeting, some blank or recorded as ``unknown``; and the colorectal primaries' sidedness.

    Drawn from a generator of their own (seeded from ``seed``), after everything else: the other
    fields' random streams, and so every earlier result, do not move."""
    rng = np.random.default_rng([int(seed), 0xB0A2D])
    mdt = tables["mdt_decisions"].copy()
    m = len(mdt)
    if not m:
        return tables
    pts = tables["patients"].set_index("patient_id")
    les = tables["lesions"][["patient_id", "organ", "detection_date", "segment_or_lobe"]]
    known = mdt[["patient_id", "date"]].reset_index().merge(les, on="patient_id")
    known = known[known["detection_date"] <= known["date"]]

    def per_row(mask) -> np.ndarray:
        hit = known.loc[mask, "index"].unique()
        return np.isin(np.arange(m), hit)

    liver, lung = per_row(known["organ"] == "liver"), per_row(known["organ"] == "lung")
    elsewhere = {organ: per_row(known["organ"] != organ) for organ in ("liver", "lung")}
    seg = known["segment_or_lobe"].fillna("")
    both = {"liver": per_row(seg.isin(_LEFT_LIVER)) & per_row(seg.isin(_RIGHT_LIVER)),
            "lung": per_row(seg.str.startswith("R")) & per_row(seg.str.startswith("L"))}
    rec = mdt["recommendation"].to_numpy(dtype=object)

    def recorded(yes: np.ndarray, applies: np.ndarray) -> np.ndarray:
        u = rng.random(m)
        out = np.where(yes, "yes", "no").astype(object)
        out[u < _JUDGEMENT_MISSING + _JUDGEMENT_UNKNOWN] = "unknown"
        out[(u < _JUDGEMENT_MISSING) | ~applies] = None
        return out

    for organ, has in (("liver", liver), ("lung", lung)):
        p = np.array([_JUDGEMENT_P[organ].get(r, (0.5, 0.5, 0.5)) for r in rec]).reshape(m, 3)
        yes = rng.random((m, 3)) < p
        for j, what in enumerate(("resectable", "ablatable", "curable")):
            mdt[f"{organ}_{what}"] = recorded(yes[:, j], has)
        mdt["liver_bilobar" if organ == "liver" else "lung_bilateral"] = recorded(both[organ], has)
    mdt["extrahepatic_disease"] = recorded(elsewhere["liver"], liver)
    mdt["extrapulmonary_disease"] = recorded(elsewhere["lung"], lung)

    ecog = pts["ecog"].reindex(mdt["patient_id"]).astype(float).fillna(1).to_numpy()
    age = (mdt["date"].dt.year.to_numpy() - pts["birth_year"].reindex(mdt["patient_id"]).astype(float).to_numpy())
    charlson = rng.poisson(np.clip(0.5 + 0.04 * (age - 60) + 0.4 * ecog, 0.05, None)).clip(0, 12).astype(float)
    charlson[rng.random(m) < 0.25] = np.nan
    asa = np.clip(1 + ecog + (rng.random(m) < 0.5 + 0.01 * (age - 60)), 1, 4).astype(float)
    asa[rng.random(m) < 0.30] = np.nan
    fev1 = np.clip(rng.normal(90 - 6 * ecog - 0.2 * (age - 60), 15), 30, 135).round()
    fev1[rng.random(m) >= np.where(lung, 0.85, 0.30)] = np.nan   # measured mostly before lung treatment
    mdt["charlson_index"] = pd.array(charlson, dtype="Int64")
    mdt["asa_class"] = pd.array(asa, dtype="Int64")
    mdt["fev1_pct"] = fev1
    # primary sidedness (colorectal: right colon, left colon, rectum; some not recorded)
    p = tables["patients"].copy()
    colorectal = (p["primary_site"] == "colorectal").to_numpy()
    side = pick(rng, ["right", "left", "rectum"], [0.25, 0.40, 0.35], len(p))
    side[rng.random(len(p)) < 0.08] = None
    p["primary_sidedness"] = np.where(colorectal, side, "not_applicable")
    return {**tables, "patients": conform("patients", p), "mdt_decisions": conform("mdt_decisions", mdt)}

