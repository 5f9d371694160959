"""Soft-tissue-sarcoma lung metastases: metastasectomy, with or without neoadjuvant systemic therapy.

OS and DFS are exponential with proportional hazards for lesions > 2 cm, a disease-free interval
> 12 months and each extra lesion; neoadjuvant therapy has no effect but goes more often to larger or
multiple lesions (confounding by indication)."""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .draws import DAYS_PER_MONTH, exp_months, logistic, pick, to_days, uniform_days
from .patients import shift_before_lock
from .tables import complications, extra_lesions

_SARC_TARGET = {"dfs_median": 7.4, "os_median": 58.7}
_SARC_HR = {"os": {"lesion_gt_2cm": 5.6, "tfi_gt_12m": 0.42, "per_extra_lesion": 1.10},
            "dfs": {"lesion_gt_2cm": 2.6, "tfi_gt_12m": 0.70, "per_extra_lesion": 1.10}}

#: The sarcoma study's effects (``TRUE_EFFECTS["sarcoma_lung"]``).
TRUTH = {
    "cohort": "soft-tissue sarcoma lung metastases, metastasectomy (origin = index resection)",
    "dfs_hr": dict(_SARC_HR["dfs"]), "os_hr": dict(_SARC_HR["os"]),
    "dfs_median_months": _SARC_TARGET["dfs_median"], "os_median_months": _SARC_TARGET["os_median"],
    "systemic_therapy_hr": 1.0,
    "systemic_therapy": "neoadjuvant, before the metastasectomy (column 'neoadjuvant'); more often for "
                        "lesions > 2 cm and multiple lesions (confounding by indication), no effect on DFS/OS",
    "covariates": "lesion_gt_2cm = max_diameter_mm > 20; tfi_gt_12m = tfi_months > 12; n_lesions",
    "note": "DFS HR 0.70 for TFI > 12 months and HR 1.10 per extra lesion are illustrative (not published); "
            "neoadjuvant systemic therapy has no effect but is given more often to larger / multiple lesions",
}


def sarcoma_lesions(rng, m):
    n = np.minimum(1 + rng.poisson(0.8, m), 8)
    dmax = np.exp(rng.normal(np.log(17), 0.55, m)).clip(4, 120).round()
    return n, dmax


def sarcoma_hr(ep, big, tfi12, n):
    h = _SARC_HR[ep]
    return h["lesion_gt_2cm"] ** big * h["tfi_gt_12m"] ** tfi12 * h["per_extra_lesion"] ** (n - 1)

def calibrate(rng, m):
    """Baseline OS and DFS rates at which the medians hold over a cohort of ``m`` with the sarcoma covariate mix."""
    tfi = np.exp(rng.normal(np.log(14), 0.9, m)) > 12
    n_les, dmax = sarcoma_lesions(rng, m)
    out = {}
    for ep, target in (("os", "os_median"), ("dfs", "dfs_median")):
        out[ep] = _rate_for_median(sarcoma_hr(ep, dmax > 20, tfi, n_les), _SARC_TARGET[target])
    return out


def _rate_for_median(hr, median):
    """The baseline monthly rate at which the cohort's mean exponential survival at ``median`` is one half."""
    return brentq(lambda rate: np.mean(np.exp(-rate * hr * median)) - 0.5, 1e-6, 5.0)


def generate(acc, rng, b, pix, cal):
    """The sarcoma patients `pix`: metastasectomy, recurrences; returns their deaths, primaries and histology."""
    m = len(pix)
    if not m:
        return {}
    diag = b["diag"][pix]
    prim_res = diag + uniform_days(rng, 20, 60, m)
    adj = rng.random(m) < 0.3
    adj_start = prim_res + uniform_days(rng, 30, 60, m)
    adj_end = adj_start + uniform_days(rng, 90, 120, m)
    last_end = np.where(adj, adj_end, prim_res)
    tfi_days = to_days(np.exp(rng.normal(np.log(14), 0.9, m)).clip(max=120))  # at most 10 years
    detection = last_end + tfi_days
    detection, prim_res, adj_start, adj_end = shift_before_lock(b, pix, detection, prim_res, adj_start, adj_end)
    acc.treatments(pix[adj], "systemic", adj_start[adj], adj_end[adj].astype(float), intent="curative",
                   regimen="doxorubicin-ifosfamide", setting="adjuvant", line=1)
    tfi12 = tfi_days / DAYS_PER_MONTH > 12
    n_les, maxd = sarcoma_lesions(rng, m)
    big = maxd > 20
    lobes = ["RUL", "RML", "RLL", "LUL", "LLL"]
    _, all_les, owner = extra_lesions(acc, rng, pix, n_les, maxd, detection, "lung", lobes)
    mdt = detection + uniform_days(rng, 7, 21, m)
    acc.mdt(pix, mdt, "resection")
    # neoadjuvant systemic therapy, more often for large / multiple lesions; no effect built in. Given
    # before the metastasectomy (the origin) so that the exposure is known at time 0 (no immortal time).
    sysm = rng.random(m) < logistic(-1.2 + 1.2 * big + 0.4 * (n_les - 1))
    sys_day = mdt + uniform_days(rng, 7, 21, m)
    sys_end = sys_day + uniform_days(rng, 63, 90, m)
    acc.treatments(pix[sysm], "systemic", sys_day[sysm], sys_end[sysm].astype(float), intent="curative",
                   regimen=pick(rng, ["doxorubicin", "doxorubicin-ifosfamide", "trabectedin"], [0.5, 0.3, 0.2],
                                 sysm.sum()), setting="neoadjuvant", line=1)
    surg = np.where(sysm, sys_end + uniform_days(rng, 21, 42, m), mdt + uniform_days(rng, 14, 40, m))
    mis = rng.random(m) < 0.5
    tk = acc.treatments(pix, "resection", surg, surg.astype(float), intent="curative",
                        approach=np.where(mis, "minimally_invasive", "open"),
                        margin=pick(rng, ["R0", "R1"], [0.88, 0.12], m))
    acc.link(tk[owner], all_les)
    complications(acc, rng, tk, surg, "sarcoma")
    lam_d = cal["sarcoma"]["os"] * sarcoma_hr("os", big, tfi12, n_les)
    lam_f = cal["sarcoma"]["dfs"] * sarcoma_hr("dfs", big, tfi12, n_les)
    lam_r = np.maximum(lam_f - lam_d, 1e-9)  # DFS hazard = recurrence + death hazards: PH in both
    t_d = exp_months(rng, lam_d)
    t_r = exp_months(rng, lam_r)
    death = surg + to_days(t_d)
    rec = t_r < t_d
    rtype = pick(rng, ["new_metastasis", "distant_progression", "regional_recurrence"], [0.65, 0.25, 0.10], m)
    distant_organ = pick(rng, ["bone", "liver", "other"], [0.4, 0.3, 0.3], m)
    rorgan = np.where(rtype == "distant_progression", distant_organ, "lung")
    acc.events(pix[rec], (surg + to_days(t_r))[rec], rtype[rec], rorgan[rec])
    histology = pick(rng, ["leiomyosarcoma", "undifferentiated pleomorphic sarcoma", "synovial sarcoma",
                            "liposarcoma", "other soft-tissue sarcoma"], [0.3, 0.25, 0.15, 0.15, 0.15], m)
    return {"pix": pix, "death": death, "prim_res": prim_res, "node": np.zeros(m, bool), "sync": np.zeros(m, bool),
            "histology": histology}

