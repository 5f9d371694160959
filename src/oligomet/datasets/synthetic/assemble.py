"""The registry's tables from the accumulated rows: string ids, lesion links, follow-up cut at the end of
observation, and exactly the columns and dtypes of the registry contract (``oligomet.registry.fields``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...registry.fields import TABLE_ORDER, TABLES


def _dates(days) -> pd.Series:
    d = np.asarray(days, dtype=float)
    out = np.full(len(d), np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
    ok = ~np.isnan(d)
    out[ok] = d[ok].astype(np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    return pd.Series(out)


def _join_ids(group, ids) -> pd.Series:
    """';'.join of ``ids`` per ``group`` (rows sorted by group), vectorised over the position in the
    group: a groupby-apply of str.join costs a Python call per treatment, this costs one per position."""
    if not len(group):
        return pd.Series(dtype=object)
    start = np.r_[True, group[1:] != group[:-1]]
    gidx = np.cumsum(start) - 1
    pos = np.arange(len(group)) - np.flatnonzero(start)[gidx]
    out = ids[start].copy()
    for k in range(1, int(pos.max()) + 1):
        sel = pos == k
        out[gidx[sel]] = out[gidx[sel]] + ";" + ids[sel]
    return pd.Series(out, index=group[start])


def assemble(acc, b, n, n_sites, obs_end, dead, prim_res, node, histology, rng):
    width = max(6, len(str(n)))
    pid = np.array([f"SYN-{i + 1:0{width}d}" for i in range(n)], dtype=object) if n < 1000 else \
        ("SYN-" + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)).to_numpy(dtype=object)
    letters = np.array([f"Site {chr(65 + i)} (synthetic)" for i in range(n_sites)], dtype=object)
    colorectal = b["setting"] != "sarcoma_lung"

    def keep(frame, col="date"):
        return frame[frame[col].to_numpy() <= obs_end[frame["pix"].to_numpy()]]

    # lesions: number per patient by detection date
    les = keep(acc.frame("lesions"), "detection").sort_values(["pix", "detection", "key"], kind="mergesort")
    lnum = les.groupby("pix").cumcount().to_numpy() + 1
    les_id = pid[les["pix"].to_numpy()] + "-L" + lnum.astype(str).astype(object)
    lid_of = pd.Series(les_id, index=les["key"].to_numpy())

    tr = keep(acc.frame("treatments"), "start").sort_values(["pix", "start", "key"], kind="mergesort")
    tnum = tr.groupby("pix").cumcount().to_numpy() + 1
    tr_id = pid[tr["pix"].to_numpy()] + "-T" + tnum.astype(str).astype(object)
    tid_of = pd.Series(tr_id, index=tr["key"].to_numpy())
    links = acc.frame("links")
    links = links[links["tkey"].isin(tid_of.index) & links["lkey"].isin(lid_of.index)].copy()
    links["lid"] = links["lkey"].map(lid_of)
    links["lnum"] = links["lkey"].map(pd.Series(lnum, index=les["key"].to_numpy()))
    links = links.sort_values(["tkey", "lnum"], kind="mergesort")
    lesion_ids = _join_ids(links["tkey"].to_numpy(), links["lid"].to_numpy(dtype=object))
    end = tr["end"].to_numpy(dtype=float)
    end = np.where(end <= obs_end[tr["pix"].to_numpy()], end, np.nan)  # not yet ended at the end of follow-up
    treatments = pd.DataFrame({
        "treatment_id": tr_id, "patient_id": pid[tr["pix"].to_numpy()],
        "lesion_ids": tr["key"].map(lesion_ids).to_numpy(dtype=object), "modality": tr["modality"].to_numpy(),
        "start_date": _dates(tr["start"]), "end_date": _dates(end), "intent": tr["intent"].to_numpy(),
        "approach": tr["approach"].to_numpy(), "margin": tr["margin"].to_numpy(),
        "dose_gy": tr["dose"].to_numpy(float), "fractions": pd.array(tr["fractions"].to_numpy(float), dtype="Int64"),
        "regimen": tr["regimen"].to_numpy(), "line": pd.array(tr["line"].to_numpy(float), dtype="Int64"),
        "setting": tr["setting"].to_numpy()})

    comp = acc.frame("complications")
    comp = comp[comp["tkey"].isin(tid_of.index)].copy()
    comp["pix"] = comp["tkey"].map(pd.Series(tr["pix"].to_numpy(), index=tr["key"].to_numpy()))
    comp = keep(comp).sort_values(["tkey", "date", "grade"], kind="mergesort")
    comp = comp.drop_duplicates(["tkey", "date", "grade"])
    complications = pd.DataFrame({"treatment_id": comp["tkey"].map(tid_of).to_numpy(dtype=object),
                                  "date": _dates(comp["date"]), "clavien_dindo": comp["grade"].to_numpy(),
                                  "description": None})

    ev = keep(acc.frame("events"))
    ev_l = ev["lkey"].to_numpy(float)
    ev_lid = pd.Series(ev_l).map(lid_of).to_numpy(dtype=object)
    events = pd.DataFrame({"patient_id": pid[ev["pix"].to_numpy()], "lesion_id": ev_lid, "date": _dates(ev["date"]),
                           "type": ev["type"].to_numpy(), "organ": ev["organ"].to_numpy()})
    events = events.drop_duplicates(["patient_id", "date", "type", "lesion_id"])
    events = events.sort_values(["patient_id", "date"], kind="mergesort").reset_index(drop=True)

    lb = keep(acc.frame("labs")).drop_duplicates(["pix", "date"])
    labs = pd.DataFrame({"patient_id": pid[lb["pix"].to_numpy()], "date": _dates(lb["date"]),
                         "cea": lb["cea"].to_numpy(float)}).sort_values(["patient_id", "date"], kind="mergesort")
    md = keep(acc.frame("mdt"))
    mdt = pd.DataFrame({"patient_id": pid[md["pix"].to_numpy()], "date": _dates(md["date"]),
                        "recommendation": md["rec"].to_numpy()}).sort_values(["patient_id", "date"], kind="mergesort")
    lesions = pd.DataFrame({"lesion_id": les_id, "patient_id": pid[les["pix"].to_numpy()],
                            "organ": les["organ"].to_numpy(), "detection_date": _dates(les["detection"]),
                            "diameter_mm": les["diameter"].to_numpy(float), "segment_or_lobe": les["lobe"].to_numpy()})

    ras = np.where(colorectal, np.where(b["ras_mut"], "mutant", "wild_type"), None)
    braf = np.where(colorectal, np.where(~b["ras_mut"] & (rng.random(n) < 0.12), "mutant", "wild_type"), None)
    msi = np.where(colorectal, np.where(rng.random(n) < 0.04, "msi_high", "mss"), None)
    patients = pd.DataFrame({
        "patient_id": pid, "site": letters[b["site"]], "sex": np.where(b["male"], "male", "female").astype(object),
        "birth_year": pd.array(b["birth_year"], dtype="Int64"),
        "primary_site": np.where(colorectal, "colorectal", "sarcoma").astype(object), "histology": histology,
        "primary_diagnosis_date": _dates(b["diag"]), "primary_resection_date": _dates(prim_res),
        "node_positive": pd.array(np.where(colorectal, node, pd.NA), dtype="boolean"),
        "ras": ras, "braf": braf, "msi": msi, "ecog": pd.array(b["ecog"], dtype="Int64"),
        "death_date": _dates(np.where(dead, obs_end, np.nan)), "last_contact_date": _dates(obs_end)})

    out = {"patients": patients, "lesions": lesions, "treatments": treatments, "complications": complications,
           "events": events, "labs": labs.reset_index(drop=True), "mdt_decisions": mdt.reset_index(drop=True)}
    return {name: conform(name, out.get(name, pd.DataFrame()).reset_index(drop=True)) for name in TABLE_ORDER}


def conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Exactly the declared columns, in order, with the contract dtypes."""
    spec = TABLES[name]
    cols = {}
    for f in spec.fields:
        s = frame[f.name] if f.name in frame else pd.Series([None] * len(frame), dtype=object)
        if f.type == "date":
            s = s.astype("datetime64[ns]")
        elif f.type == "int":
            s = s.astype("Int64")
        elif f.type == "float":
            s = s.astype(float)
        elif f.type == "bool":
            s = s.astype("boolean")
        else:
            s = s.astype(object).where(pd.notna(s), None)
        cols[f.name] = s.reset_index(drop=True)
    return pd.DataFrame(cols)

