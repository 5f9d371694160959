"""Board sheets for a handful of synthetic patients, for ``oligomet demo``.

The synthetic registry records the specialists' judgements only at each patient's first MDT, and
most of the demo's moments (a recurrence, a second organ) come after the disease changed, when those
no longer hold; so the demo lays invented judgements over real synthetic patients (labelled on each
sheet's case sources as "demo judgement"): together the sheets cover the four cells of Table 4 and
each study's suggestion.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

# (sheet name, title, how to pick the patient, the board's judgements laid over the registry)
_CELLS = [
    ("t4-both-curable", "Table 4: lung and liver curable", "crc_lung_liver",
     {"organs": {"liver": {"curable": True, "technically_resectable": True},
                 "lung": {"curable": True, "technically_resectable": True}}, "harder_organ": "equal"}),
    ("t4-lung-curable-liver-incurable", "Table 4: lung curable, liver incurable", "crc_lung_liver",
     {"organs": {"liver": {"curable": False}, "lung": {"curable": True, "technically_resectable": False}}}),
    ("t4-lung-incurable-liver-curable", "Table 4: lung incurable, liver curable", "crc_lung_liver",
     {"organs": {"liver": {"curable": True}, "lung": {"curable": False}}}),
    ("t4-both-incurable", "Table 4: both incurable", "crc_lung_liver",
     {"organs": {"liver": {"curable": False}, "lung": {"curable": False}}}),
    ("crlm-early-recurrence", "CRLM recurrence within 12 months", "crlm_recurrence",
     {"organs": {"liver": {"technically_resectable": True}}}),
    ("crlm-ablation", "Unresectable CRLM, at most 3 lesions under 3 cm", "crlm_small",
     {"organs": {"liver": {"technically_resectable": False, "ablatable": True}}}),
    ("lung-salvage", "Local recurrence of a lung metastasis after SABR", "lung_lr_after_sabr",
     {"organs": {"lung": {"technically_resectable": True}}, "fev1_pct": 78.0}),
    ("sarcoma-over-2cm", "Sarcoma lung metastasis over 2 cm", "sarcoma_big",
     {"organs": {"lung": {"technically_resectable": True}}}),
]


def _candidates(context, kind: str) -> pd.DataFrame:
    if kind == "crlm_recurrence":
        fr = context.frame("first_recurrence")
        sel = fr[(fr["primary_site"] == "colorectal") & (fr["first_local_modality"] == "resection")
                 & (fr["recurrence_months"] > 4) & (fr["recurrence_months"] <= 12)]
        return sel.assign(as_of=sel["origin_date"] + pd.Timedelta(days=7))
    fr = context.frame("metastasis_diagnosis")
    fr = fr.assign(as_of=fr["origin_date"] + pd.Timedelta(days=14))
    if kind == "crc_lung_liver":   # liver metastases first, lung metastases found later: both at the board
        les = context.tables["lesions"]
        first = les[les["organ"].isin(["liver", "lung"])].pivot_table(
            index="patient_id", columns="organ", values="detection_date", aggfunc="min")
        both = first.dropna(subset=[c for c in ("liver", "lung") if c in first]) if {"liver", "lung"} <= set(
            first.columns) else first.iloc[:0]
        sel = fr[(fr["primary_site"] == "colorectal") & fr["patient_id"].isin(both.index)]
        return sel.assign(as_of=pd.to_datetime(sel["patient_id"].map(both.max(axis=1))) + pd.Timedelta(days=14))
    if kind == "crlm_small":
        return fr[(fr["primary_site"] == "colorectal") & (fr["met_organs"] == "liver") & (fr["n_lesions"] <= 3)
                  & (fr["max_diameter_mm"] < 30)]
    if kind == "lung_lr_after_sabr":
        lr = context.frame("index_treatment")
        sel = lr[(lr["primary_site"] == "colorectal") & (lr["index_modality"] == "sabr") & (lr["lr_status"] == 1)]
        return sel.assign(as_of=sel["origin_date"] + pd.to_timedelta(sel["lr_time"] * 30.4375 + 14, unit="D"))
    if kind == "sarcoma_big":
        return fr[(fr["primary_site"] == "sarcoma") & (fr["max_diameter_mm"] > 20)]
    raise ValueError(kind)


def write_demo_sheets(tables: dict, out: str | Path) -> list[dict]:
    """Write one sheet folder per demo case under ``out`` and an index page; returns index entries."""
    from ..report.board_sheet import write_sheet
    from ..report.html import write_index
    from .case import case_from_registry
    from .predict import RegistryContext
    from .sheet import build_sheet

    out = Path(out)
    context = RegistryContext(tables)
    entries, used = [], set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, title, kind, judgement in _CELLS:
            cands = _candidates(context, kind)
            cands = cands[~cands["patient_id"].isin(used) & (cands["as_of"] <= pd.Timestamp("2024-12-31"))]
            if cands.empty:
                continue
            row = cands.iloc[0]
            used.add(row["patient_id"])
            case = case_from_registry(tables, row["patient_id"], row["as_of"], context=context).updated(
                judgement, "demo judgement")
            sheet = build_sheet(case, context)
            write_sheet(sheet, out / name)
            rec = "; ".join(sheet.options) or "no recommendation"
            entries.append({"title": f"Board sheet: {title} ({row['patient_id']})",
                            "href": f"{name}/board_sheet.html", "summary": f"Recommendation: {rec}"})
    write_index(entries, out, title="oligomet demo: tumor-board sheets (synthetic patients, demo judgements)")
    return entries
