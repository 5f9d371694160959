"""Colorectal lung metastases: SABR; local recurrences of the treated lesion, some treated by salvage
resection (the salvage-after-SABR seed study), the others by systemic therapy."""
from __future__ import annotations

import numpy as np

from .draws import DAYS_PER_MONTH, exp_months, pick, to_days, uniform_days, weibull_months
from .patients import shift_before_lock
from .tables import complications, extra_lesions

_SABR_LR_SHARE = 0.25
_SABR_TTLR_MEDIAN, _SABR_TTLR_SIGMA = 20.0, 0.55   # log-normal: IQR ~ 13.8-29.0 months
_SABR_OS_MEDIAN, _SABR_PROG_MEDIAN = 48.0, 18.0
_SALVAGE_OS_MEDIAN, _SALVAGE_PFS_MEDIAN, _SALVAGE_OS_SHAPE = 71.0, 39.0, 1.5
_NO_SALVAGE_OS_MEDIAN = 26.0
_SALVAGE_CD = {"none": 0.55, "I": 0.10, "II": 0.15, "IIIa": 0.11, "IIIb": 0.06, "IVa": 0.03}  # >= III: 20%
_SALVAGE_MIS_SHARE = 0.70

#: The salvage-after-SABR study's effects (``TRUE_EFFECTS["salvage_after_sabr"]``).
TRUTH = {
    "cohort": "colorectal lung metastases: SABR, local recurrence of the SABR-treated lesion, salvage resection",
    "ttlr_after_sabr_months": {"median": _SABR_TTLR_MEDIAN,
                               "iqr": (float(round(_SABR_TTLR_MEDIAN * np.exp(-0.6745 * _SABR_TTLR_SIGMA), 1)),
                                       float(round(_SABR_TTLR_MEDIAN * np.exp(0.6745 * _SABR_TTLR_SIGMA), 1))),
                               "note": "among lesions that recur (lesion level, lr_status == 1)"},
    "os_median_months_from_salvage": _SALVAGE_OS_MEDIAN,
    "pfs_median_months_from_salvage": _SALVAGE_PFS_MEDIAN,
    "clavien_dindo_3plus_share": round(sum(v for k, v in _SALVAGE_CD.items() if k.startswith(("III", "IV"))), 2),
    # Weibull OS from the salvage resection: P(death within 90 days) = 1 - S(90 days)
    "death_90d_share": float(round(1 - np.exp(-np.log(2) * (90 / DAYS_PER_MONTH / _SALVAGE_OS_MEDIAN)
                                              ** _SALVAGE_OS_SHAPE), 4)),
    "minimally_invasive_share": _SALVAGE_MIS_SHARE,
}


def salvage_progression_rate() -> float:
    """The exponential progression rate after salvage for which the minimum of death (Weibull, median 71
    months) and progression has the seed study's PFS median of 39 months (closed form)."""
    s_death = np.exp(-np.log(2) * (_SALVAGE_PFS_MEDIAN / _SALVAGE_OS_MEDIAN) ** _SALVAGE_OS_SHAPE)
    return -np.log(0.5 / s_death) / _SALVAGE_PFS_MEDIAN


def generate(acc, rng, b, pix, cal):
    """The colorectal lung patients `pix`: SABR, local recurrence, salvage; returns their deaths and primaries."""
    m = len(pix)
    if not m:
        return {}
    ecog, ras, diag = b["ecog"][pix], b["ras_mut"][pix], b["diag"][pix]
    prim_res = diag + uniform_days(rng, 20, 60, m)
    detection = prim_res + 200 + to_days(rng.exponential(20, m).clip(max=120))
    detection, prim_res = shift_before_lock(b, pix, detection, prim_res)
    n_les = np.minimum(1 + rng.poisson(0.4, m), 3)
    maxd = np.exp(rng.normal(np.log(14), 0.4, m)).clip(5, 50).round()
    lobes = ["RUL", "RML", "RLL", "LUL", "LLL"]
    first_les, all_les, owner = extra_lesions(acc, rng, pix, n_les, maxd, detection, "lung", lobes)
    acc.labs(pix, detection, np.exp(rng.normal(np.log(5), 0.9, m)).round(1))
    mdt = detection + uniform_days(rng, 7, 21, m)
    acc.mdt(pix, mdt, "sabr")
    sabr_day = mdt + uniform_days(rng, 14, 40, m)
    sched = rng.choice(3, size=m, p=[0.5, 0.3, 0.2])
    dose = np.array([54.0, 60.0, 60.0])[sched]
    fx = np.array([3.0, 5.0, 8.0])[sched]
    tk = acc.treatments(pix, "sabr", sabr_day, (sabr_day + 2 * (fx - 1)).astype(float), intent="curative",
                        approach="not_applicable", dose=dose, fractions=fx)
    acc.link(tk[owner], all_les)
    complications(acc, rng, tk, sabr_day, "sabr")

    death = np.full(m, np.inf)
    lr = rng.random(m) < _SABR_LR_SHARE
    t_lr = np.exp(rng.normal(np.log(_SABR_TTLR_MEDIAN), _SABR_TTLR_SIGMA, m))
    lr_day = sabr_day + to_days(t_lr)
    acc.events(pix[lr], lr_day[lr], "local_recurrence", "lung", first_les[lr].astype(float))
    # no local recurrence: death and distant progression from SABR
    nl = ~lr
    t_d = exp_months(rng, np.log(2) / _SABR_OS_MEDIAN * np.exp(0.4 * ecog[nl]))
    death[nl] = sabr_day[nl] + to_days(t_d)
    t_p = exp_months(rng, np.full(nl.sum(), np.log(2) / _SABR_PROG_MEDIAN))
    ok = t_p < t_d
    acc.events(pix[nl][ok], (sabr_day[nl] + to_days(t_p))[ok], "distant_progression",
               pick(rng, ["liver", "lung"], [0.5, 0.5], ok.sum()))
    # local recurrence: salvage resection when fit enough
    salvage = lr & (rng.random(m) < np.where(ecog < 2, 0.7, 0.2))
    s = np.flatnonzero(salvage)
    sal_day = lr_day[s] + uniform_days(rng, 30, 75, len(s))
    mis = rng.random(len(s)) < _SALVAGE_MIS_SHARE
    stk = acc.treatments(pix[s], "resection", sal_day, sal_day.astype(float), intent="salvage",
                         approach=np.where(mis, "minimally_invasive", "open"),
                         margin=pick(rng, ["R0", "R1"], [0.9, 0.1], len(s)))
    acc.link(stk, first_les[s])
    g = pick(rng, list(_SALVAGE_CD), list(_SALVAGE_CD.values()), len(s))
    has = g != "none"
    acc.complications(stk[has], sal_day[has] + uniform_days(rng, 1, 20, has.sum()), g[has])
    t_os = weibull_months(rng, _SALVAGE_OS_MEDIAN, _SALVAGE_OS_SHAPE, len(s))
    death[s] = sal_day + to_days(t_os)
    t_prog = exp_months(rng, np.full(len(s), cal["salvage_prog_rate"]))
    ok = t_prog < t_os
    ptype = pick(rng, ["distant_progression", "new_metastasis", "local_recurrence"], [0.5, 0.3, 0.2], len(s))
    acc.events(pix[s][ok], (sal_day + to_days(t_prog))[ok], ptype[ok],
               np.where(ptype == "distant_progression", "liver", "lung")[ok],
               np.where(ptype == "local_recurrence", first_les[s], np.nan)[ok])
    ns = lr & ~salvage
    sys_day = lr_day[ns] + uniform_days(rng, 14, 40, ns.sum())
    acc.treatments(pix[ns], "systemic", sys_day, None, intent="palliative",
                   regimen=np.where(ras[ns], "FOLFIRI-bevacizumab", "FOLFOX-panitumumab"), setting="palliative", line=1)
    death[ns] = sys_day + to_days(exp_months(rng, np.full(ns.sum(), np.log(2) / _NO_SALVAGE_OS_MEDIAN)))
    return {"pix": pix, "death": death, "prim_res": prim_res, "node": rng.random(m) < 0.55,
            "sync": np.zeros(m, bool)}

