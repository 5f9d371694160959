"""Published prognostic scores, computed per patient, and their validation on the local registry.

Every score works on one tidy frame with the columns of :data:`INPUTS` (one row per patient):
:func:`score_inputs_from_endpoints` builds it from ``derive_endpoints`` for the whole registry,
:func:`score_inputs_from_case` from one board case, so the sheet and the validation use the same
arithmetic. A component that is unknown makes the score unknown (NaN): it is never counted as 0.

Scores (citations and cut-offs in :data:`SCORES`):

* **Fong clinical risk score** (CRLM): one point each for a node-positive primary, a disease-free
  interval < 12 months, more than one liver tumour, CEA > 200 ng/mL, largest tumour > 5 cm;
  low risk 0-2, high risk 3-5.
* **Tumour burden score** (``endpoints.burden.tumor_burden_score``): zones < 3, 3 to < 9, >= 9.
* **GAME score** (CRLM): RAS mutant 1, CEA >= 20 ng/mL 1, node-positive primary 1, TBS 3 to < 9 1,
  TBS >= 9 2, extrahepatic disease 2; low 0-1, intermediate 2-3, high >= 4.
* **International Registry of Lung Metastases** grouping: I resectable with no risk factor
  (risk factors: DFI < 36 months, more than one metastasis), II one, III both, IV unresectable.
* **Sarcoma factors** of the sarcoma lung-metastasectomy study: largest lesion > 2 cm and
  treatment-free interval <= 12 months are the adverse factors; the group counts them (0-2).

Validation (:func:`validate_score`): Harrell's C against OS, as R's ``concordance(Surv(time, status) ~
score, reverse = TRUE)`` (a higher score predicts shorter survival), overall and per site; the KM
per score group with the numbers per group; beside it the published group survival where the paper
gives it, so calibration can be read off the table.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..endpoints.burden import tumor_burden_score

INPUTS = ("patient_id", "site", "primary_site", "node_positive", "dfi_months", "tfi_months", "liver_n",
          "liver_largest_mm", "lung_n", "largest_mm", "cea", "ras", "tbs", "extrahepatic_disease",
          "liver_mets", "lung_mets", "lung_resectable")


@dataclass(frozen=True)
class Score:
    id: str
    name: str
    citation: str
    cutoffs: str
    groups: tuple[str, ...]
    applies: str                                   # who the score is for, in words
    published: dict = field(default_factory=dict)  # group -> (measure, value), as the paper reports it
    published_note: str = ""
    #: "verified" (each figure checked against the cited paper) or "unverified: <why>"; an unverified
    #: figure is shown as such on the sheet, never as fact.
    published_status: str = ""

    @property
    def published_verified(self) -> bool:
        return self.published_status == "verified"


SCORES = {s.id: s for s in (
    Score("fong", "Fong clinical risk score",
          "Fong Y, Fortner J, Sun RL, Brennan MF, Blumgart LH. Clinical score for predicting recurrence after "
          "hepatic resection for metastatic colorectal cancer: analysis of 1001 consecutive cases. Ann Surg "
          "1999;230:309-318.",
          "1 point each: node-positive primary; DFI < 12 months; > 1 liver tumour; CEA > 200 ng/mL; largest "
          "liver tumour > 50 mm. Low risk 0-2, high risk 3-5.",
          ("low (0-2)", "high (3-5)"), "colorectal primary with liver metastases",
          {"0": ("5-year OS", 0.60), "1": ("5-year OS", 0.44), "2": ("5-year OS", 0.40), "3": ("5-year OS", 0.20),
           "4": ("5-year OS", 0.25), "5": ("5-year OS", 0.14)},
          "published 5-year OS per point score (Fong 1999, as widely cited); compare with the KM per point",
          # Checked 2026-12-04: the paper's abstract (PubMed 10493478) gives the five criteria and cut-offs
          # above, overall 5-year OS 37%, and "no patient with a score of 5 was a long-term survivor", but
          # not the per-point figures; the full text (its survival-by-score table) was not available.
          "unverified: the per-point figures are not in the paper's abstract and were not checked against "
          "its full text"),
    Score("tbs", "Tumour burden score",
          "Sasaki K, Morioka D, Conci S, et al. The tumor burden score: a new 'metro-ticket' prognostic tool for "
          "colorectal liver metastases based on tumor size and number of tumors. Ann Surg 2018;267:132-141.",
          "TBS = sqrt((largest diameter in cm)^2 + (number of lesions)^2); zones < 3, 3 to < 9, >= 9.",
          ("zone 1 (< 3)", "zone 2 (3-9)", "zone 3 (>= 9)"), "colorectal primary with liver metastases"),
    Score("game", "GAME score",
          "Margonis GA, Sasaki K, Gholami S, et al. Genetic And Morphological Evaluation (GAME) score for "
          "patients with colorectal liver metastases. Br J Surg 2018;105:1210-1220.",
          "RAS mutant 1; CEA >= 20 ng/mL 1; node-positive primary 1; TBS 3 to < 9 1, TBS >= 9 2; extrahepatic "
          "disease 2. Low 0-1, intermediate 2-3, high >= 4. (The paper scores KRAS; the registry records RAS.)",
          ("low (0-1)", "intermediate (2-3)", "high (>= 4)"), "colorectal primary with liver metastases"),
    Score("irlm", "International Registry of Lung Metastases grouping",
          "Pastorino U, Buyse M, Friedel G, et al. Long-term results of lung metastasectomy: prognostic analyses "
          "based on 5206 cases. J Thorac Cardiovasc Surg 1997;113:37-49.",
          "Resectable with no risk factor I, one II, both III; unresectable IV. Risk factors: DFI < 36 months, "
          "more than one metastasis.",
          ("I", "II", "III", "IV"), "lung metastases (any primary)",
          {"I": ("median OS, months", 61.0), "II": ("median OS, months", 34.0), "III": ("median OS, months", 24.0),
           "IV": ("median OS, months", 14.0)},
          "published median OS per group (Pastorino 1997, as widely cited)",
          # Checked 2026-12-04: the abstract (PubMed 9011700) confirms 5206 cases, the grouping by
          # resectability, DFI >= 36 months and number of metastases, and overall medians (35 months after
          # complete, 15 after incomplete resection), but not the per-group medians; the full text was not
          # available.
          "unverified: the per-group medians are not in the paper's abstract and were not checked against its "
          "full text"),
    Score("sarcoma", "Sarcoma lung-metastasis factors",
          "Sarcoma lung-metastasectomy study summarised in issue 11: a lesion > 2 cm predicts shorter DFS "
          "(HR 2.60) and OS (HR 5.6); TFI > 12 months predicts longer OS (HR 0.42).",
          "Adverse factors: largest lesion > 20 mm; treatment-free interval <= 12 months. Group = number of "
          "adverse factors (0, 1, 2).",
          ("0", "1", "2"), "soft-tissue sarcoma with lung metastases"),
)}


# ---------------------------------------------------------------------- inputs
def score_inputs_from_endpoints(frame: pd.DataFrame) -> pd.DataFrame:
    """Score inputs for every patient of a ``derive_endpoints`` frame (patient level).

    The registry does not record resectability: a patient whose index treatment was a resection of
    lung disease counts as resectable for the IRLM grouping, any other patient as unknown. Organ
    counts are the baseline burden of the endpoint frame (every organ), so for CRLM they are the liver
    count only where the liver is the sole site."""
    organs = frame["met_organs"].fillna("")
    only_liver = organs == "liver"
    has_lung = organs.str.contains("lung", regex=False)
    resected_lung = has_lung & (frame["index_modality"] == "resection")
    out = pd.DataFrame({
        "patient_id": frame["patient_id"], "site": frame["site"], "primary_site": frame["primary_site"],
        "node_positive": _tri(frame["node_positive"]),
        "dfi_months": frame["dfi_months"].astype(float), "tfi_months": frame["tfi_months"].astype(float),
        "liver_n": frame["n_lesions"].astype(float).where(only_liver),
        "liver_largest_mm": frame["max_diameter_mm"].astype(float).where(only_liver),
        "lung_n": frame["n_lesions"].astype(float).where(organs == "lung"),
        "largest_mm": frame["max_diameter_mm"].astype(float),
        "cea": frame["cea"].astype(float),
        "ras": frame["ras"].where(frame["ras"] != "unknown"),
        "tbs": frame["tbs"].astype(float),
        "extrahepatic_disease": _tri(organs.str.contains(r"(?:^|;)(?!liver)", regex=True).where(organs != "")),
        "liver_mets": _tri(organs.str.contains("liver", regex=False).where(organs != "")),
        "lung_mets": _tri(has_lung.where(organs != "")),
        "lung_resectable": _tri(pd.Series(np.where(resected_lung, True, None), index=frame.index)),
    })
    return out.reset_index(drop=True)


def score_inputs_from_case(case) -> pd.DataFrame:
    """The same one-row frame for a board case (:class:`~oligomet.board.case.Case`)."""
    f = case.facts()
    row = {k: f.get(k) for k in INPUTS if k in f}
    row.update(patient_id=case.patient_id, site=case.sources.get("site"))
    frame = pd.DataFrame([row], columns=list(INPUTS))
    for col in ("node_positive", "extrahepatic_disease", "liver_mets", "lung_mets", "lung_resectable"):
        frame[col] = _tri(frame[col])
    for col in ("dfi_months", "tfi_months", "liver_n", "liver_largest_mm", "lung_n", "largest_mm", "cea", "tbs"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def _tri(values) -> pd.Series:
    """True / False / <NA>: the nullable boolean that keeps unknown apart from false."""
    return pd.Series(values, dtype="object").map(lambda v: pd.NA if v is None or v is pd.NA or
                                                 (isinstance(v, float) and np.isnan(v)) else bool(v)).astype(
        "boolean")


# ---------------------------------------------------------------------- the scores
def _pt(cond: pd.Series) -> pd.Series:
    """A point: 1.0 / 0.0, NaN when the component is unknown."""
    return cond.astype("boolean").astype("Float64").astype(float)


def compute_scores(inputs: pd.DataFrame) -> pd.DataFrame:
    """Per patient: every score's points, total and group (NaN / None where not applicable or unknown)."""
    x = inputs
    crc_liver = (x["primary_site"] == "colorectal") & x["liver_mets"].fillna(False).astype(bool)
    out = pd.DataFrame({"patient_id": x["patient_id"], "site": x["site"]})

    fong = pd.DataFrame({
        "fong_node": _pt(x["node_positive"]),
        "fong_dfi": _pt(_lt(x["dfi_months"], 12)),
        "fong_multiple": _pt(_gt(x["liver_n"], 1)),
        "fong_cea": _pt(_gt(x["cea"], 200)),
        "fong_size": _pt(_gt(x["liver_largest_mm"], 50)),
    })
    out = out.join(fong)
    out["fong"] = fong.sum(axis=1, min_count=5).where(crc_liver)
    out["fong_group"] = _groups(out["fong"], [(2, "low (0-2)"), (5, "high (3-5)")])
    out["fong_points"] = out["fong"].map(lambda v: None if pd.isna(v) else str(int(v)))

    tbs = pd.Series(tumor_burden_score(x["liver_largest_mm"], x["liver_n"]), index=x.index).where(crc_liver)
    out["tbs"] = tbs
    zone = np.select([tbs >= 9, tbs >= 3, tbs < 3], ["zone 3 (>= 9)", "zone 2 (3-9)", "zone 1 (< 3)"], "")
    out["tbs_group"] = pd.Series(zone, index=x.index, dtype=object).where(tbs.notna())

    game_tbs = pd.Series(np.select([tbs >= 9, tbs >= 3], [2.0, 1.0], 0.0), index=x.index).where(tbs.notna())
    game = pd.DataFrame({
        "game_ras": _pt(_eq(x["ras"], "mutant")),
        "game_cea": _pt(_ge(x["cea"], 20)),
        "game_node": _pt(x["node_positive"]),
        "game_tbs": game_tbs,
        "game_extrahepatic": 2.0 * _pt(x["extrahepatic_disease"]),
    })
    out = out.join(game)
    out["game"] = game.sum(axis=1, min_count=5).where(crc_liver)
    out["game_group"] = _groups(out["game"], [(1, "low (0-1)"), (3, "intermediate (2-3)"), (7, "high (>= 4)")])

    lung = x["lung_mets"].fillna(False).astype(bool)
    n_lung = x["lung_n"]
    risk = _pt(_lt(x["dfi_months"], 36)) + _pt(_gt(n_lung, 1))
    resectable = x["lung_resectable"]
    irlm = pd.Series(None, index=x.index, dtype=object)
    known_res = resectable.notna()
    res_true = known_res & resectable.fillna(False).astype(bool)
    irlm[res_true & (risk == 0)] = "I"
    irlm[res_true & (risk == 1)] = "II"
    irlm[res_true & (risk == 2)] = "III"
    irlm[known_res & ~resectable.fillna(True).astype(bool)] = "IV"
    out["irlm_risk_factors"] = risk.where(res_true)
    out["irlm"] = irlm.where(lung)
    out["irlm_rank"] = out["irlm"].map({"I": 0, "II": 1, "III": 2, "IV": 3}).astype(float)

    sarcoma = (x["primary_site"] == "sarcoma") & lung
    big = _pt(_gt(x["largest_mm"], 20))
    short_tfi = _pt(_le(x["tfi_months"], 12))
    out["sarcoma_over_2cm"] = big.where(sarcoma)
    out["sarcoma_tfi_12m_or_less"] = short_tfi.where(sarcoma)
    out["sarcoma"] = (big + short_tfi).where(sarcoma)
    out["sarcoma_group"] = out["sarcoma"].map(lambda v: None if pd.isna(v) else str(int(v)))
    return out


def _cmp(values: pd.Series, op) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce").astype(float)
    return pd.Series(op(v), index=values.index, dtype="boolean").where(v.notna())


def _lt(v, c): return _cmp(v, lambda a: a < c)
def _le(v, c): return _cmp(v, lambda a: a <= c)
def _gt(v, c): return _cmp(v, lambda a: a > c)
def _ge(v, c): return _cmp(v, lambda a: a >= c)


def _eq(values: pd.Series, level: str) -> pd.Series:
    return pd.Series(values == level, dtype="boolean").where(values.notna())


def _groups(score: pd.Series, bounds: list[tuple[float, str]]) -> pd.Series:
    """Label by the first bound the score is <= to (None when the score is unknown)."""
    def label(v):
        if pd.isna(v):
            return None
        return next(name for b, name in bounds if v <= b)
    return score.map(label).astype(object)


# ---------------------------------------------------------------------- validation on the registry
_SCORE_COLUMNS = {"fong": ("fong", "fong_points"), "tbs": ("tbs", "tbs_group"), "game": ("game", "game_group"),
                  "irlm": ("irlm_rank", "irlm"), "sarcoma": ("sarcoma", "sarcoma_group")}


@dataclass(frozen=True)
class ScoreValidation:
    """A score on the registry: ``concordance`` (overall and per site: n, events, C, SE) and ``groups``
    (per group: n, events, KM survival at ``horizon`` with CI, median, published figure)."""

    score: Score
    concordance: pd.DataFrame
    groups: pd.DataFrame
    horizon: float


def validate_score(score_id: str, scores: pd.DataFrame, outcomes: pd.DataFrame, horizon: float = 60.0,
                   time: str = "os_time", event: str = "os_event") -> ScoreValidation:
    """Harrell's C and KM per group of one score against an outcome (``outcomes`` holds ``patient_id``,
    ``time``, ``event``; ``scores`` is :func:`compute_scores`' output)."""
    from ..survival._ties import merge_near_ties
    from ..survival.concordance import concordance_index, concordance_std_err
    from ..survival.kaplan_meier import kaplan_meier

    value_col, group_col = _SCORE_COLUMNS[score_id]
    d = scores[["patient_id", "site", value_col, group_col]].merge(
        outcomes[["patient_id", time, event]], on="patient_id", how="inner")
    d = d[d[value_col].notna() & d[time].notna() & d[event].notna()]
    rows = []
    for where, part in [("all", d)] + sorted(d.groupby("site"), key=lambda kv: str(kv[0])):
        t = merge_near_ties(part[time].to_numpy(float))
        e = part[event].to_numpy(float)
        r = part[value_col].to_numpy(float)
        ok = len(part) > 1 and e.any()
        rows.append({"site": where, "n": len(part), "events": int(e.sum()),
                     "c_index": concordance_index(t, e, r) if ok else np.nan,
                     "std_err": concordance_std_err(t, e, r) if ok else np.nan})
    conc = pd.DataFrame(rows, columns=["site", "n", "events", "c_index", "std_err"])
    sc = SCORES[score_id]
    grp_rows = []
    if len(d):
        present = set(d[group_col].astype(str))
        order = [g for g in sc.groups if g in present] or sorted(present)
        order += sorted(present - set(order))
        km = kaplan_meier(d.assign(_g=pd.Categorical(d[group_col].astype(str), categories=order)), time, event,
                          by="_g")
        at = km.at([horizon], extend=True).set_index("group")
        med = km.medians.set_index("group")
        for g in km.groups:
            pub = sc.published.get(str(g), (None, None)) + ((sc.published_status or None,) if str(g) in sc.published
                                                            else (None,))
            grp_rows.append({"group": g, "n": int(med.loc[g, "n"]), "events": float(med.loc[g, "n_events"]),
                             "survival": float(at.loc[g, "survival"]) if g in at.index else np.nan,
                             "lower": float(at.loc[g, "lower"]) if g in at.index else np.nan,
                             "upper": float(at.loc[g, "upper"]) if g in at.index else np.nan,
                             "median": float(med.loc[g, "median"]),
                             "published_measure": pub[0], "published_value": pub[1], "published_status": pub[2]})
    groups = pd.DataFrame(grp_rows, columns=["group", "n", "events", "survival", "lower", "upper", "median",
                                             "published_measure", "published_value", "published_status"])
    return ScoreValidation(sc, conc, groups, horizon)


def validate_all(frame: pd.DataFrame, horizon: float = 60.0, endpoint: str = "os") -> dict[str, ScoreValidation]:
    """Every score validated on a ``derive_endpoints`` frame against ``endpoint`` (``"os"``, or ``"dfs"``,
    defined after curative-intent index treatments only)."""
    scores = compute_scores(score_inputs_from_endpoints(frame))
    outcomes = frame[["patient_id", f"{endpoint}_time", f"{endpoint}_event"]]
    return {sid: validate_score(sid, scores, outcomes, horizon, time=f"{endpoint}_time", event=f"{endpoint}_event")
            for sid in SCORES}
