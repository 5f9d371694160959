"""Detail the seed studies measure, added to the assembled synthetic registry (issue 15 part 6, issue 12).

Each function takes the assembled tables of :func:`oligomet.datasets.synthetic.synthetic_registry`
and fills fields of its own, with its own random stream (``default_rng([seed, tag])``), so the
values of every other field are the same as before these fields existed:

* :func:`add_resection_detail`: the resection the surgeon judged would be needed on the imaging
  before each local treatment (``assessed_extent``), the extent performed (``resection_extent``)
  and ``extensive_adhesions``. A resection of a lesion that was treated locally before (the salvage
  resection after SABR, a repeat resection after ablation) is more extensive than that earlier
  assessment in a clear share (:data:`RETREATMENT_ESCALATION`), and finds adhesions more often.
* :func:`add_recurrence_detail`: how a recurrence was established (``ct_progression``,
  ``fdg_pet_uptake``) and, when a local treatment followed, ``tumor_board_before_salvage``.
* :func:`add_adverse_events`: CTCAE-graded adverse events of each systemic course; a drug-related
  grade >= 3 event in :data:`SEVERE_DRUG_AE_PER_COURSE` of courses (about 9% of the patients given
  systemic therapy in both arms of the ablation study, its 9% vs 9%).
* :func:`make_cea_missing_at_random`: CEA unrecorded in about a third of the lab rows, more often at
  some sites, in earlier years and for patients with a worse ECOG (missing at random given
  observed variables), so that an analysis of CEA has to impute it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...registry.fields import LIVER_EXTENTS, LOCAL_MODALITIES, LUNG_EXTENTS
from .assemble import conform

#: Re-treated lesion (resection after SABR / ablation / resection of the same lesion): the resection
#: performed relative to the assessment before the earlier treatment, in steps of the organ's scale.
RETREATMENT_ESCALATION = {0: 0.40, 1: 0.46, 2: 0.11, -1: 0.03}
#: A first resection: the extent performed relative to its own pre-operative assessment.
FIRST_RESECTION_CHANGE = {0: 0.82, 1: 0.14, -1: 0.04}
#: Drug-related CTCAE grade >= 3 events per systemic course, by line: per patient about 9% in both arms
#: of the ablation study (delayed: induction, sometimes a second line; upfront: a second line only).
SEVERE_DRUG_AE_PER_COURSE = {"first": 0.06, "later": 0.09}

_LUNG, _LIVER = LUNG_EXTENTS, LIVER_EXTENTS
# ordered-logit cut points: at a 15 mm (lung) / 25 mm (liver) single lesion P(wedge) 0.55 / 0.50
_CUTS = {"lung": np.array([0.2, 1.6, 4.0]), "liver": np.array([0.0, 1.7])}
_REF_MM = {"lung": 15.0, "liver": 25.0}


def _conform(tables: dict[str, pd.DataFrame], name: str) -> None:
    """The contract's columns and dtypes again, after a function of this module wrote ``name``."""
    tables[name] = conform(name, tables[name])


def _stream(seed: int, tag: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), tag])


def _draw(rng, table: dict, size: int) -> np.ndarray:
    keys = np.array(list(table))
    return keys[rng.choice(len(keys), size=size, p=np.array(list(table.values())) / sum(table.values()))]


def _treated(tables) -> pd.DataFrame:
    """One row per (local treatment, treated lesion): ids, start, modality, organ, diameter."""
    tr = tables["treatments"]
    tr = tr[tr["modality"].isin(LOCAL_MODALITIES) & tr["lesion_ids"].notna()]
    pairs = tr[["treatment_id", "patient_id", "start_date", "modality", "lesion_ids"]].assign(
        lesion_id=tr["lesion_ids"].str.split(";")).explode("lesion_id").drop(columns="lesion_ids")
    les = tables["lesions"]
    at = pd.Index(les["lesion_id"]).get_indexer(pairs["lesion_id"])   # one string lookup for both columns
    return pairs.assign(organ=les["organ"].to_numpy(dtype=object)[at],
                        diameter=les["diameter_mm"].to_numpy(dtype=float)[at])


def add_resection_detail(tables: dict[str, pd.DataFrame], seed: int) -> None:
    rng = _stream(seed, 15_061)
    tr = tables["treatments"]
    pairs = _treated(tables)
    per = pairs.groupby("treatment_id", sort=False).agg(organ=("organ", "first"), maxd=("diameter", "max"),
                                                        n=("lesion_id", "size"), modality=("modality", "first"))
    per = per[per["organ"].isin(("lung", "liver"))]
    lung = (per["organ"] == "lung").to_numpy()
    scale_top = np.where(lung, 4, 3)
    ref = np.where(lung, _REF_MM["lung"], _REF_MM["liver"])
    latent = 0.06 * (per["maxd"].fillna(20.0).to_numpy() - ref) + 0.5 * (per["n"].to_numpy() - 1) \
        + rng.logistic(size=len(per))
    step = np.where(lung, np.searchsorted(_CUTS["lung"], latent), np.searchsorted(_CUTS["liver"], latent)) + 1
    assessed = pd.Series(step, index=per.index)

    # a lesion treated locally before: the assessment made before that earlier treatment
    earlier = pairs.merge(pairs[["lesion_id", "treatment_id", "start_date"]], on="lesion_id", suffixes=("", "_prev"))
    earlier = earlier[earlier["start_date_prev"] < earlier["start_date"]]
    earlier = earlier.sort_values(["treatment_id", "start_date_prev"]).drop_duplicates("treatment_id", keep="last")
    prev = earlier.set_index("treatment_id")["treatment_id_prev"]
    retreated = per.index.isin(prev.index)
    prior_step = assessed.reindex(prev.reindex(per.index).to_numpy()).to_numpy()
    resection = (per["modality"] == "resection").to_numpy()
    esc = _draw(rng, RETREATMENT_ESCALATION, len(per))
    change = _draw(rng, FIRST_RESECTION_CHANGE, len(per))
    base = np.where(retreated & ~np.isnan(prior_step), prior_step, step)
    # re-treated: the imaging before the resection already shows part of the larger extent
    assessed_now = np.where(retreated & resection, np.clip(base + np.maximum(esc - 1, 0), 1, scale_top), step)
    # a pneumonectomy is the last resort: most escalations from a lobectomy stop there
    esc = np.where(lung & (base + esc >= 4) & (base < 4) & (rng.random(len(per)) >= 0.25), 3 - base, esc)
    performed = np.where(retreated, base + esc, step + change)
    performed = np.clip(performed, 1, scale_top)

    def code(steps):
        steps = np.nan_to_num(np.asarray(steps, dtype=float), nan=1).astype(int)
        return np.where(lung, np.array(_LUNG, dtype=object)[np.clip(steps, 1, 4) - 1],
                        np.array(_LIVER, dtype=object)[np.clip(steps, 1, 3) - 1])

    known = rng.random(len(per)) >= 0.05        # 5% of assessments not recorded
    done = rng.random(len(per)) >= 0.03         # 3% of performed extents not recorded
    p_adh = np.where(retreated, 0.45, np.where(lung, 0.08, 0.20))
    u = rng.random(len(per))
    adhesions = np.where(u < 0.05, "unknown", np.where(u < 0.05 + p_adh * 0.95, "yes", "no"))
    at = per.index.get_indexer(tr["treatment_id"])     # -1: not a local treatment of a lung / liver lesion
    for col, values, keep in (("assessed_extent", code(assessed_now), known),
                              ("resection_extent", code(performed), resection & done),
                              ("extensive_adhesions", adhesions.astype(object), resection)):
        values = np.where(keep, values, None)
        tr[col] = np.where(at >= 0, values[at], None)
    _conform(tables, "treatments")


def add_recurrence_detail(tables: dict[str, pd.DataFrame], seed: int) -> None:
    rng = _stream(seed, 15_062)
    ev = tables["events"]
    n = len(ev)
    # FDG-PET mostly where CT cannot tell recurrence from fibrosis: a lung lesion after SABR
    after_sabr = (ev["type"] == "local_recurrence").to_numpy() & (ev["organ"] == "lung").to_numpy()
    pet = rng.random(n) < np.where(after_sabr, 0.75, 0.30)
    uptake = rng.random(n) < 0.9
    u = rng.random(n)
    ct = pd.array(np.where(u < 0.90, True, False), dtype="boolean")
    ct[u >= 0.97] = pd.NA
    ev["ct_progression"] = ct
    ev["fdg_pet_uptake"] = pd.array(np.where(pet, uptake, False), dtype="boolean")
    ev.loc[~pet, "fdg_pet_uptake"] = pd.NA
    # tumor board before the salvage (local) treatment that follows within 150 days, if any
    tr = tables["treatments"]
    local = tr.loc[tr["modality"].isin(LOCAL_MODALITIES), ["patient_id", "start_date"]].dropna()
    m = ev[["patient_id", "date"]].reset_index().merge(local, on="patient_id")
    m = m[(m["start_date"] > m["date"]) & (m["start_date"] <= m["date"] + pd.Timedelta(days=150))]
    salvaged = np.isin(np.arange(n), m["index"].to_numpy())
    board = rng.random(n) < 0.88
    ev["tumor_board_before_salvage"] = pd.array(np.where(salvaged, board, False), dtype="boolean")
    ev.loc[~salvaged, "tumor_board_before_salvage"] = pd.NA
    _conform(tables, "events")


_TERMS_ANY = ("Neutrophil count decreased", "Diarrhea", "Fatigue", "Nausea", "Anemia")
_TERMS_SEVERE = ("Neutrophil count decreased", "Diarrhea", "Febrile neutropenia", "Thromboembolic event")
_TERMS_BY_DRUG = (("FOLFOX", "Peripheral sensory neuropathy"), ("CAPOX", "Peripheral sensory neuropathy"),
                  ("bevacizumab", "Hypertension"), ("panitumumab", "Rash acneiform"), ("cetuximab", "Rash acneiform"),
                  ("doxorubicin", "Febrile neutropenia"), ("trabectedin", "Alanine aminotransferase increased"))
_TERMS_UNRELATED = ("Urinary tract infection", "Fall", "Pneumonia")


def add_adverse_events(tables: dict[str, pd.DataFrame], seed: int) -> None:
    rng = _stream(seed, 15_063)
    tr = tables["treatments"]
    sysm = tr[(tr["modality"] == "systemic") & tr["start_date"].notna()]
    m = len(sysm)
    start = sysm["start_date"].to_numpy()
    days = ((sysm["end_date"] - sysm["start_date"]).dt.days.fillna(180).clip(30, 240)).to_numpy(dtype=float)
    regimen = sysm["regimen"].fillna("").astype(str)
    specific = pd.Series(None, index=sysm.index, dtype=object)      # the regimen's typical event, if any
    for drug, term in _TERMS_BY_DRUG:
        specific = specific.where(specific.notna() | ~regimen.str.contains(drug, regex=False), term)
    specific = specific.to_numpy(dtype=object)
    parts = []

    def add(sel, grade, related, terms):
        k = int(sel.sum())
        if not k:
            return
        onset = start[sel] + pd.to_timedelta(np.floor(rng.uniform(7, days[sel])), unit="D").to_numpy()
        parts.append(pd.DataFrame({"patient_id": sysm["patient_id"].to_numpy()[sel], "date": onset,
                                   "term": terms, "grade": grade, "drug_related": related}))

    line = sysm["line"].astype(float).fillna(1).to_numpy()
    severe = rng.random(m) < np.where(line >= 2, SEVERE_DRUG_AE_PER_COURSE["later"], SEVERE_DRUG_AE_PER_COURSE["first"])
    pick_specific = (rng.random(m) < 0.3) & pd.notna(specific)
    severe_term = np.where(pick_specific, specific, np.array(_TERMS_SEVERE, dtype=object)[
        rng.integers(0, len(_TERMS_SEVERE), m)])
    add(severe, np.where(rng.random(m) < 0.15, 4, 3)[severe], True, severe_term[severe])
    mild = rng.random(m) < 0.55
    mild_term = np.where(rng.random(m) < 0.4, specific, np.array(_TERMS_ANY, dtype=object)[
        rng.integers(0, len(_TERMS_ANY), m)])
    mild_term = np.where(pd.isna(mild_term), "Fatigue", mild_term)
    add(mild, rng.integers(1, 3, m)[mild], (rng.random(m) < 0.85)[mild], mild_term[mild])
    unrelated = rng.random(m) < 0.03
    add(unrelated, 3, False, np.array(_TERMS_UNRELATED, dtype=object)[rng.integers(0, 3, m)][unrelated])
    if not parts:
        return
    ae = pd.concat(parts, ignore_index=True)
    last = ae["patient_id"].map(tables["patients"].set_index("patient_id")["last_contact_date"])
    ae = ae[ae["date"] <= last]          # nothing is recorded after the end of follow-up
    ae = ae.drop_duplicates(["patient_id", "date", "term"]).sort_values(["patient_id", "date", "term"],
                                                                        kind="mergesort")
    out = tables["adverse_events"]
    tables["adverse_events"] = pd.DataFrame({
        "patient_id": ae["patient_id"].to_numpy(dtype=object), "date": ae["date"].to_numpy(dtype="datetime64[ns]"),
        "term": ae["term"].to_numpy(dtype=object), "grade": pd.array(ae["grade"].to_numpy(), dtype="Int64"),
        "drug_related": pd.array(ae["drug_related"].to_numpy(dtype=bool), dtype="boolean")})[list(out.columns)]
    _conform(tables, "adverse_events")


# per-site log-odds of an unrecorded CEA (cycled over the sites), per year and per ECOG point
_CEA_SITE = (-0.9, 0.5, -0.3, 1.0, -0.6, 0.7, 0.0)
_CEA_PER_YEAR, _CEA_PER_ECOG, _CEA_INTERCEPT = -0.06, 0.30, -0.80


def make_cea_missing_at_random(tables: dict[str, pd.DataFrame], seed: int) -> None:
    rng = _stream(seed, 12_001)
    labs = tables["labs"]
    pts = tables["patients"].set_index("patient_id")
    site = labs["patient_id"].map(pts["site"]).str.extract(r"^Site ([A-Z])")[0].map(lambda c: ord(c) - 65)
    ecog = labs["patient_id"].map(pts["ecog"]).astype(float).fillna(0).to_numpy()
    year = labs["date"].dt.year.to_numpy(dtype=float)
    logit = (_CEA_INTERCEPT + np.array(_CEA_SITE)[site.to_numpy(dtype=int) % len(_CEA_SITE)]
             + _CEA_PER_YEAR * (year - 2014) + _CEA_PER_ECOG * ecog)
    unrecorded = rng.random(len(labs)) < 1 / (1 + np.exp(-logit))
    # a lab row holds nothing else in the synthetic registry: an unrecorded CEA is no row at all
    tables["labs"] = labs[~unrecorded | labs["ca19_9"].notna()].assign(
        cea=lambda d: d["cea"].where(~unrecorded[d.index])).reset_index(drop=True)
    _conform(tables, "labs")
