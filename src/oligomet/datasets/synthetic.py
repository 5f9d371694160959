"""The synthetic multicenter registry: realistic, clearly labelled, fake patients with known effects.

``synthetic_registry(n_patients, n_sites=7, seed=0)`` returns the in-memory registry
(``dict[str, DataFrame]`` in the contract of ``oligomet.registry.fields``) for three settings:

* **CRLM** (colorectal liver metastases): resection (with or without neoadjuvant chemotherapy),
  thermal ablation (upfront, or delayed after systemic therapy) for small unresectable disease,
  or systemic therapy only; recurrences, with repeat local treatment or systemic therapy.
* **Colorectal lung metastases**: SABR; local recurrences, some treated by salvage resection.
* **Soft-tissue-sarcoma lung metastases**: metastasectomy, with or without (neoadjuvant) systemic therapy.

Every patient id starts with ``SYN-`` and every site is ``"Site X (synthetic)"``.

How the effects are built in (the truth is in :data:`TRUE_EFFECTS`):

* Times are drawn from exponential / Weibull / log-normal models in months, with hazard ratios
  entering as multiplicative factors on the hazard (so Cox models with the right covariates
  recover them), converted to whole days (``ceil(months * 30.4375)``, at least one day, so every
  event falls strictly after the treatment it follows).
* Baseline rates are calibrated numerically (closed-form survival functions, root finding) over a
  large fixed-seed calibration cohort, so the published *marginal* figures (medians, 5-year rates)
  hold for the cohort as a whole, whatever ``n_patients`` and ``seed``.
* Confounding by indication: sicker patients (higher ECOG, older, more lesions, RAS mutant)
  more often get systemic therapy only, delayed ablation, neoadjuvant chemotherapy or no repeat
  local treatment, and the same covariates raise their hazards. Crude comparisons are biased;
  adjusted or propensity-score analyses on ``ecog``, ``age``, ``n_lesions``, ``ras`` recover
  the truth.
* Follow-up ends at the earliest of death, loss to follow-up (about 1.5% a year, non-informative)
  and the data lock :data:`DATA_LOCK`; nothing is recorded after it. Deaths come after every
  other record of the patient.

Vectorised NumPy throughout (no per-patient Python loops): 100,000 patients in 2.6 s (7.9 s under
heavy load) on the project's shared 2-core machine (``benchmarks/bench_synthetic_endpoints.py``).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ..registry.fields import TABLE_ORDER, TABLES
from . import synthetic_detail as _detail

DATA_LOCK = pd.Timestamp("2024-12-31")
DAYS_PER_MONTH = 30.4375
SETTING_SHARES = {"crlm": 0.55, "crc_lung": 0.20, "sarcoma_lung": 0.25}
_EPOCH_LOCK = int((DATA_LOCK - pd.Timestamp("1970-01-01")).days)
_DIAG_FROM, _DIAG_TO = (int((pd.Timestamp(d) - pd.Timestamp("1970-01-01")).days) for d in ("2004-01-01", "2020-12-31"))
_DROPOUT_PER_YEAR = 0.015

# -- model parameters (months; HR = hazard ratio) -----------------------------------------------
# CRLM, resected: illness-death model from the index resection
_CRLM_DEATH_NO_REC = 0.0015      # monthly hazard of death before any recurrence (z = 0)
_CRLM_REC_MEDIAN = 16.0          # median recurrence-free time at z = 0
_CRLM_POST_REC_MEDIAN = 22.0     # median survival after recurrence with systemic therapy only, z_rec = 0
_HR_REPEAT_LOCAL_OS = 0.42       # repeat local treatment vs systemic only (seed: CRLM early recurrence)
_HR_REPEAT_LOCAL_PFS = 0.60      # second progression (not death) after recurrence; illustrative, no seed figure
_SECOND_PROG_MEDIAN = 9.0
# CRLM, ablation cohort (independent death and recurrence clocks), targets from the seed study
_ABL_TARGET = {"upfront": {"dfs5": 0.36, "os5": 0.64}, "delayed": {"dfs5": 0.21, "os5": 0.59}}
_ABL_GAMMA = 0.8                 # log-HR per unit of the risk score z (both clocks, both arms)
# CRLM systemic only
_SYS_OS_MEDIAN, _SYS_PFS_MEDIAN = 20.0, 8.0
# Colorectal lung metastases: SABR and salvage
_SABR_LR_SHARE = 0.25
_SABR_TTLR_MEDIAN, _SABR_TTLR_SIGMA = 20.0, 0.55   # log-normal: IQR ~ 13.8-29.0 months
_SABR_OS_MEDIAN, _SABR_PROG_MEDIAN = 48.0, 18.0
_SALVAGE_OS_MEDIAN, _SALVAGE_PFS_MEDIAN, _SALVAGE_OS_SHAPE = 71.0, 39.0, 1.5
_NO_SALVAGE_OS_MEDIAN = 26.0
_SALVAGE_CD = {"none": 0.55, "I": 0.10, "II": 0.15, "IIIa": 0.11, "IIIb": 0.06, "IVa": 0.03}  # >= III: 20%
_SALVAGE_MIS_SHARE = 0.70
# Sarcoma lung metastases after metastasectomy
_SARC_TARGET = {"dfs_median": 7.4, "os_median": 58.7}
_SARC_HR = {"os": {"lesion_gt_2cm": 5.6, "tfi_gt_12m": 0.42, "per_extra_lesion": 1.10},
            "dfs": {"lesion_gt_2cm": 2.6, "tfi_gt_12m": 0.70, "per_extra_lesion": 1.10}}

#: The effects built into the data: what a correct analysis should recover (within sampling error).
TRUE_EFFECTS: dict = {
    "salvage_after_sabr": {
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
    },
    "crlm_early_recurrence": {
        "cohort": "CRLM, first local treatment = resection, first recurrence (origin='first_recurrence')",
        "os_hr_repeat_local_vs_systemic_only": _HR_REPEAT_LOCAL_OS,
        # PFS = second progression or death; both hazards scale with exp(z_rec), so PFS is PH with this HR
        "pfs_hr_repeat_local_vs_systemic_only": round(
            (_HR_REPEAT_LOCAL_PFS / _SECOND_PROG_MEDIAN + _HR_REPEAT_LOCAL_OS / _CRLM_POST_REC_MEDIAN)
            / (1 / _SECOND_PROG_MEDIAN + 1 / _CRLM_POST_REC_MEDIAN), 3),
        "second_progression_hr_repeat_local_vs_systemic_only": _HR_REPEAT_LOCAL_PFS,
        "adjust_for": ["ecog", "age"],
        "interaction_recurrence_le_4_months": 1.0,
        "os_hr_neoadjuvant_then_local_vs_upfront_local": 1.0,
        "note": "hazard ratios are conditional on ecog and age (confounders of the repeat-treatment choice); "
                "the same HR holds for every recurrence interval (no interaction built in)",
    },
    "crlm_ablation_timing": {
        "cohort": "CRLM, <= 3 lesions, largest < 30 mm, thermal ablation (rfa/mwa); origin = ablation",
        "dfs_5y": {"upfront": 0.36, "delayed": 0.21},
        "os_5y": {"upfront": 0.64, "delayed": 0.59},
        "adjust_for": ["ecog", "age", "n_lesions", "ras"],
        "note": "5-year rates are marginal over the whole ablation cohort (both arms' covariates); "
                "hazards are proportional, the hazard ratios are in 'dfs_hr_upfront_vs_delayed' / "
                "'os_hr_upfront_vs_delayed' (computed from the calibrated rates at import)",
    },
    "sarcoma_lung": {
        "cohort": "soft-tissue sarcoma lung metastases, metastasectomy (origin = index resection)",
        "dfs_hr": dict(_SARC_HR["dfs"]), "os_hr": dict(_SARC_HR["os"]),
        "dfs_median_months": _SARC_TARGET["dfs_median"], "os_median_months": _SARC_TARGET["os_median"],
        "systemic_therapy_hr": 1.0,
        "systemic_therapy": "neoadjuvant, before the metastasectomy (column 'neoadjuvant'); more often for "
                            "lesions > 2 cm and multiple lesions (confounding by indication), no effect on DFS/OS",
        "covariates": "lesion_gt_2cm = max_diameter_mm > 20; tfi_gt_12m = tfi_months > 12; n_lesions",
        "note": "DFS HR 0.70 for TFI > 12 months and HR 1.10 per extra lesion are illustrative (not published); "
                "neoadjuvant systemic therapy has no effect but is given more often to larger / multiple lesions",
    },
}


# ----------------------------------------------------------------------------------------------
# small vectorised helpers
def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _exp_months(rng, rate):
    return rng.exponential(1.0, size=np.shape(rate)) / rate


def _weibull_months(rng, median, shape, size, hr=1.0):
    """Weibull with the given median at HR 1; PH: hazard multiplied by ``hr``."""
    scale = median / np.log(2.0) ** (1.0 / shape)
    return scale * (rng.exponential(1.0, size) / hr) ** (1.0 / shape)


def _to_days(months):
    return np.maximum(1, np.ceil(np.asarray(months, dtype=float) * DAYS_PER_MONTH)).astype(np.int64)


def _shift_before_lock(b, pix, detection, *dates):
    """Move a patient's whole pre-metastatic history earlier so that the metastasis is found at least
    120 days before the data lock (a metastasis registry has no patient without metastasis); the
    intervals between dates are kept, and the birth year moves with the diagnosis."""
    shift = np.minimum(0, (_EPOCH_LOCK - 120) - detection)
    b["diag"][pix] += shift
    b["birth_year"][pix] = pd.to_datetime(b["diag"][pix], unit="D").year.to_numpy() - b["age"][pix].astype(int)
    return [d + shift for d in (detection,) + dates]


def _uniform_days(rng, lo, hi, size):
    return rng.integers(lo, hi + 1, size=size).astype(np.int64)


class _Tables:
    """Accumulates column blocks per table, with integer keys for cross references."""

    def __init__(self):
        self.blocks = {name: [] for name in ("lesions", "treatments", "links", "complications", "events", "labs",
                                             "mdt")}
        self.next_lesion = 0
        self.next_treatment = 0
        # one empty block per table, so a table nobody adds rows to (tiny registries) still has its columns
        z, zf = np.zeros(0, dtype=np.int64), np.zeros(0)
        self.lesions(z, z, zf, None)
        self.treatments(z, None, z)
        self.link(z, z)
        self.complications(z, z, None)
        self.events(z, z, None, None)
        self.labs(z, z, zf)
        self.mdt(z, z, None)

    def lesions(self, pix, detection, diameter, organ, lobe=None):
        n = len(pix)
        keys = np.arange(self.next_lesion, self.next_lesion + n)
        self.next_lesion += n
        self.blocks["lesions"].append(dict(key=keys, pix=pix, detection=detection, diameter=diameter,
                                           organ=_arr(organ, n), lobe=_arr(lobe, n)))
        return keys

    def treatments(self, pix, modality, start, end=None, **cols):
        n = len(pix)
        keys = np.arange(self.next_treatment, self.next_treatment + n)
        self.next_treatment += n
        block = dict(key=keys, pix=pix, modality=_arr(modality, n), start=start,
                     end=_arr(end, n, float))
        for c in ("intent", "approach", "margin", "regimen", "setting"):
            block[c] = _arr(cols.get(c), n)
        for c in ("dose", "fractions", "line"):
            block[c] = _arr(cols.get(c), n, float)
        self.blocks["treatments"].append(block)
        return keys

    def link(self, tkeys, lkeys):
        self.blocks["links"].append(dict(tkey=np.asarray(tkeys), lkey=np.asarray(lkeys)))

    def complications(self, tkey, date, grade):
        self.blocks["complications"].append(dict(tkey=tkey, date=date, grade=_arr(grade, len(tkey))))

    def events(self, pix, date, etype, organ, lkey=None):
        n = len(pix)
        self.blocks["events"].append(dict(pix=pix, date=date, type=_arr(etype, n), organ=_arr(organ, n),
                                          lkey=_arr(lkey, n, float)))

    def labs(self, pix, date, cea):
        self.blocks["labs"].append(dict(pix=pix, date=date, cea=cea))

    def mdt(self, pix, date, rec):
        self.blocks["mdt"].append(dict(pix=pix, date=date, rec=_arr(rec, len(pix))))

    def frame(self, name):
        blocks = [b for b in self.blocks[name] if len(next(iter(b.values())))]
        if not blocks:  # no rows: keep each column's dtype (integer keys must stay usable as indices)
            first = self.blocks[name][0] if self.blocks[name] else {}
            return pd.DataFrame({k: np.asarray(v)[:0] for k, v in first.items()})
        return pd.DataFrame({k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]})


def _arr(value, n, dtype=object):
    if value is None:
        return np.full(n, np.nan if dtype is float else None, dtype=dtype)
    if np.isscalar(value):
        return np.full(n, value, dtype=dtype)
    return np.asarray(value, dtype=dtype)


def _pick(rng, choices, probs, size):
    return np.asarray(choices, dtype=object)[rng.choice(len(choices), size=size, p=np.asarray(probs) / np.sum(probs))]


# ----------------------------------------------------------------------------------------------
# baseline covariates
def _baseline(rng, n, n_sites):
    setting = _pick(rng, list(SETTING_SHARES), list(SETTING_SHARES.values()), n)
    sarcoma = setting == "sarcoma_lung"
    site_w = np.linspace(1.6, 0.6, n_sites)
    site = rng.choice(n_sites, size=n, p=site_w / site_w.sum())
    age = np.where(sarcoma, rng.normal(55, 14, n), rng.normal(64, 10, n)).clip(20, 88).round()
    ecog = rng.choice(3, size=n, p=[0.55, 0.35, 0.10])
    diag = _uniform_days(rng, _DIAG_FROM, _DIAG_TO, n)
    birth_year = (pd.to_datetime(diag, unit="D").year.to_numpy() - age).astype(int)
    male = rng.random(n) < np.where(sarcoma, 0.5, 0.58)
    ras_mut = (rng.random(n) < 0.45) & ~sarcoma
    return dict(setting=setting, site=site, age=age, ecog=ecog, diag=diag, birth_year=birth_year, male=male,
                ras_mut=ras_mut)


def _crlm_risk(ecog, age, n_les, ras_mut):
    """Risk score of the CRLM cohorts, linear in covariates the analysis frame holds."""
    return 0.45 * ecog + 0.025 * (age - 65) + 0.20 * (n_les - 1) + 0.30 * ras_mut


def _crlm_allocation(rng, z, n_les, maxd):
    """Systemic only (sicker patients) or ablation (small unresectable disease: <= 3 lesions, < 30 mm)."""
    m = len(z)
    systemic_only = rng.random(m) < _logistic(-2.2 + 1.3 * z)
    eligible = (n_les <= 3) & (maxd < 30)
    ablation = ~systemic_only & eligible & (rng.random(m) < 0.45)
    return systemic_only, ablation


def _crlm_baseline_lesions(rng, m):
    n_les = np.minimum(1 + rng.poisson(1.2, m), 12)
    maxd = np.exp(rng.normal(np.log(24), 0.5, m)).clip(5, 150).round()
    return n_les, maxd


# ----------------------------------------------------------------------------------------------
# calibration: baseline rates that give the published marginal figures (fixed-seed cohort)
@lru_cache(maxsize=1)
def _calibration():
    rng = np.random.default_rng(20240611)
    m = 400_000
    ecog = rng.choice(3, size=m, p=[0.55, 0.35, 0.10])
    age = rng.normal(64, 10, m).clip(20, 88).round()
    ras = rng.random(m) < 0.45
    n_les, maxd = _crlm_baseline_lesions(rng, m)
    z = _crlm_risk(ecog, age, n_les, ras)
    systemic_only, ablation = _crlm_allocation(rng, z, n_les, maxd)
    ez = np.exp(_ABL_GAMMA * z[ablation])
    t = 60.0
    out = {}
    for arm, tgt in _ABL_TARGET.items():
        lam_d = brentq(lambda l: np.mean(np.exp(-l * ez * t)) - tgt["os5"], 1e-6, 1.0)
        lam_all = brentq(lambda l: np.mean(np.exp(-l * ez * t)) - tgt["dfs5"], 1e-6, 2.0)
        out[arm] = (lam_d, lam_all - lam_d)  # death rate, recurrence rate (same z-dependence: PH holds)
    # sarcoma: medians of OS and DFS over the cohort's covariate mix
    tfi = np.exp(rng.normal(np.log(14), 0.9, m)) > 12
    n_s, dmax = _sarcoma_lesions(rng, m)
    out["sarcoma"] = {}
    for ep, tgt in (("os", "os_median"), ("dfs", "dfs_median")):
        hr = _sarcoma_hr(ep, dmax > 20, tfi, n_s)
        med = _SARC_TARGET[tgt]
        out["sarcoma"][ep] = brentq(lambda l: np.mean(np.exp(-l * hr * med)) - 0.5, 1e-6, 5.0)
    # salvage PFS: death Weibull(shape, median 71) and exponential progression, min has median 39
    s_death = np.exp(-np.log(2) * (_SALVAGE_PFS_MEDIAN / _SALVAGE_OS_MEDIAN) ** _SALVAGE_OS_SHAPE)
    out["salvage_prog_rate"] = -np.log(0.5 / s_death) / _SALVAGE_PFS_MEDIAN
    return out


def _sarcoma_lesions(rng, m):
    n = np.minimum(1 + rng.poisson(0.8, m), 8)
    dmax = np.exp(rng.normal(np.log(17), 0.55, m)).clip(4, 120).round()
    return n, dmax


def _sarcoma_hr(ep, big, tfi12, n):
    h = _SARC_HR[ep]
    return h["lesion_gt_2cm"] ** big * h["tfi_gt_12m"] ** tfi12 * h["per_extra_lesion"] ** (n - 1)


def _fill_truth():
    cal = _calibration()
    abl = TRUE_EFFECTS["crlm_ablation_timing"]
    abl["os_hr_upfront_vs_delayed"] = float(round(cal["upfront"][0] / cal["delayed"][0], 3))
    abl["dfs_hr_upfront_vs_delayed"] = float(round(sum(cal["upfront"]) / sum(cal["delayed"]), 3))
    return cal


_fill_truth()  # TRUE_EFFECTS is complete as soon as the module is imported (calibration: ~0.2 s)


# ----------------------------------------------------------------------------------------------
# the three settings
def _extra_lesions(acc, rng, pix, n_les, maxd, detection, organ, lobes):
    """Lesion rows: the largest first, the others smaller; returns (first keys, all keys, owner index)."""
    rep = np.repeat(np.arange(len(pix)), n_les)
    rank = np.arange(len(rep)) - np.repeat(np.cumsum(n_les) - n_les, n_les)
    diam = np.where(rank == 0, maxd[rep], np.minimum(maxd[rep], (maxd[rep] * rng.uniform(0.3, 1.0, len(rep))).round()))
    diam = np.maximum(diam, 3.0)
    keys = acc.lesions(pix[rep], detection[rep], diam, organ, _pick(rng, lobes, np.ones(len(lobes)), len(rep)))
    return keys[rank == 0], keys, rep


def _crlm(acc, rng, b, pix, cal):
    m = len(pix)
    if not m:
        return {}
    ecog, age, ras = b["ecog"][pix], b["age"][pix], b["ras_mut"][pix]
    diag = b["diag"][pix]
    sync = rng.random(m) < 0.4
    prim_res = diag + _uniform_days(rng, 20, 60, m)
    metachronous = prim_res + 240 + _to_days(rng.exponential(15, m).clip(max=120))
    detection = np.where(sync, diag + _uniform_days(rng, 0, 60, m), metachronous)
    detection, prim_res, diag = _shift_before_lock(b, pix, detection, prim_res, diag)
    n_les, maxd = _crlm_baseline_lesions(rng, m)
    z = _crlm_risk(ecog, age, n_les, ras)
    segs = [f"segment {i}" for i in ("I", "II", "III", "IVa", "IVb", "V", "VI", "VII", "VIII")]
    first_les, all_les, owner = _extra_lesions(acc, rng, pix, n_les, maxd, detection, "liver", segs)
    acc.labs(pix, detection, np.exp(rng.normal(np.log(8) + 0.3 * z, 1.0)).round(1))
    mdt = detection + _uniform_days(rng, 7, 21, m)

    # treatment choice (confounding by indication: z drives systemic-only, delayed ablation, neoadjuvant)
    systemic_only, ablation = _crlm_allocation(rng, z, n_les, maxd)
    resection = ~systemic_only & ~ablation
    zc = z - 0.55
    delayed = ablation & (rng.random(m) < _logistic(-0.3 + 1.6 * zc))
    neo = resection & (rng.random(m) < _logistic(-1.0 + 0.8 * zc + 0.3 * (n_les - 1)))
    acc.mdt(pix, mdt, np.where(systemic_only, "systemic", np.where(ablation, "ablation", "resection")))

    # pre-local systemic therapy (neoadjuvant for resection, induction for delayed ablation)
    pre = neo | delayed
    pre_start = mdt + _uniform_days(rng, 7, 21, m)
    pre_end = pre_start + np.where(delayed, _uniform_days(rng, 90, 150, m), _uniform_days(rng, 60, 120, m))
    regimen = np.where(ras, "FOLFOX-bevacizumab", "FOLFOX-panitumumab")
    acc.treatments(pix[pre], "systemic", pre_start[pre], pre_end[pre].astype(float), intent="curative",
                   regimen=regimen[pre], setting=np.where(delayed[pre], "conversion", "neoadjuvant"), line=1)
    local_day = np.where(pre, pre_end + _uniform_days(rng, 14, 40, m), mdt + _uniform_days(rng, 14, 50, m))
    loc = ~systemic_only
    abl_mod = _pick(rng, ["rfa", "mwa"], [0.5, 0.5], m)
    modality = np.where(ablation, abl_mod, "resection")
    approach = np.where(ablation, _pick(rng, ["percutaneous", "open", "minimally_invasive"], [0.7, 0.15, 0.15], m),
                        _pick(rng, ["open", "minimally_invasive"], [0.65, 0.35], m))
    margin = np.where(resection, _pick(rng, ["R0", "R1"], [0.85, 0.15], m), None)
    tkeys_local = acc.treatments(pix[loc], modality[loc], local_day[loc], local_day[loc].astype(float),
                                 intent="curative", approach=approach[loc], margin=margin[loc])
    tk = np.full(m, -1)
    tk[loc] = tkeys_local
    lk_owner_local = loc[owner]
    acc.link(tk[owner][lk_owner_local], all_les[lk_owner_local])
    _complications(acc, rng, tk[loc], local_day[loc], np.where(ablation[loc], "ablation", "hepatectomy"))

    # systemic only
    so = systemic_only
    sys_start = mdt + _uniform_days(rng, 7, 21, m)
    acc.treatments(pix[so], "systemic", sys_start[so], (sys_start[so] + _uniform_days(rng, 120, 240, so.sum())
                                                        ).astype(float), intent="palliative", regimen=regimen[so],
                   setting="palliative", line=1)
    death = np.full(m, np.inf)
    ez = np.exp(0.5 * z)
    t_sys = _exp_months(rng, np.log(2) / _SYS_OS_MEDIAN * ez[so])
    death[so] = sys_start[so] + _to_days(t_sys)
    prog_rate = np.log(2) / _SYS_PFS_MEDIAN * ez[so]
    t_prog = _exp_months(rng, prog_rate)
    prog_ok = t_prog < t_sys
    acc.events(pix[so][prog_ok], (sys_start[so] + _to_days(t_prog))[prog_ok], "progression", "liver")

    # ablation cohort: independent death and recurrence clocks, calibrated to the seed 5-year rates
    ab = ablation
    eza = np.exp(_ABL_GAMMA * z[ab])
    lam_d = np.where(delayed[ab], cal["delayed"][0], cal["upfront"][0]) * eza
    lam_r = np.where(delayed[ab], cal["delayed"][1], cal["upfront"][1]) * eza
    t_d = _exp_months(rng, lam_d)
    t_r = _exp_months(rng, lam_r)
    death[ab] = local_day[ab] + _to_days(t_d)
    rec_ab = t_r < t_d
    rec_day = np.full(m, -1)
    rec_day[np.flatnonzero(ab)[rec_ab]] = (local_day[ab] + _to_days(t_r))[rec_ab]

    # resection cohort: illness-death; death after recurrence depends on the treatment of the recurrence
    rs = resection
    t_d0 = _exp_months(rng, _CRLM_DEATH_NO_REC * np.exp(0.3 * z[rs]))
    t_r = _exp_months(rng, np.log(2) / _CRLM_REC_MEDIAN * np.exp(0.5 * z[rs]))
    death[rs] = local_day[rs] + _to_days(t_d0)
    rec_rs = t_r < t_d0
    rec_day[np.flatnonzero(rs)[rec_rs]] = (local_day[rs] + _to_days(t_r))[rec_rs]

    # the first recurrence: type, lesion, and its treatment
    has_rec = rec_day >= 0
    r = np.flatnonzero(has_rec)
    p_local_type = np.where(ablation[r], 0.35, 0.15)
    is_lr = rng.random(len(r)) < p_local_type
    rtype = np.where(is_lr, "local_recurrence", _pick(rng, ["new_metastasis", "distant_progression"], [0.6, 0.4],
                                                         len(r)))
    rorgan = np.where(is_lr, "liver", np.where(rtype == "new_metastasis", "liver",
                                               _pick(rng, ["lung", "peritoneum"], [0.7, 0.3], len(r))))
    new_diam = np.exp(rng.normal(np.log(15), 0.4, (~is_lr).sum())).round()
    new_les = acc.lesions(pix[r][~is_lr], rec_day[r][~is_lr], new_diam, rorgan[~is_lr])
    rles = first_les[r].astype(float)
    rles[~is_lr] = new_les
    acc.events(pix[r], rec_day[r], rtype, rorgan, rles)
    age_rec = age[r] + (rec_day[r] - diag[r]) / 365.25
    z_rec = 0.6 * ecog[r] + 0.03 * (age_rec - 65)
    local_rep = (rng.random(len(r)) < _logistic(0.3 - 1.5 * z_rec)) & (rorgan != "peritoneum")
    acc.labs(pix[r], rec_day[r], np.exp(rng.normal(np.log(10) + 0.3 * z_rec, 0.9)).round(1))
    treat_day = rec_day[r] + _uniform_days(rng, 21, 60, len(r))
    rep_mod = np.where(rorgan == "lung", _pick(rng, ["resection", "sabr"], [0.5, 0.5], len(r)),
                       _pick(rng, ["resection", "rfa", "mwa"], [0.5, 0.25, 0.25], len(r)))
    sabr = rep_mod == "sabr"
    ltk = acc.treatments(pix[r][local_rep], rep_mod[local_rep], treat_day[local_rep],
                         treat_day[local_rep] + np.where(sabr[local_rep], 8, 0).astype(float),
                         intent="curative",
                         approach=np.where(sabr, "not_applicable", np.where(rep_mod == "resection", "open",
                                                                            "percutaneous"))[local_rep],
                         margin=np.where(rep_mod == "resection", "R0", None)[local_rep],
                         dose=np.where(sabr, 60.0, np.nan)[local_rep], fractions=np.where(sabr, 5.0, np.nan)[local_rep])
    acc.link(ltk, rles[local_rep].astype(np.int64))
    _complications(acc, rng, ltk, treat_day[local_rep], "repeat")
    sysr = ~local_rep
    acc.treatments(pix[r][sysr], "systemic", treat_day[sysr], None, intent="palliative",
                   regimen=np.where(ras[r], "FOLFIRI-bevacizumab", "FOLFIRI-cetuximab")[sysr], setting="palliative",
                   line=2)
    # death after recurrence, only for the resection cohort (the ablation cohort drew its death already)
    rr = resection[r]
    c = np.log(2) / _CRLM_POST_REC_MEDIAN * np.exp(z_rec) * np.where(local_rep, _HR_REPEAT_LOCAL_OS, 1.0)
    t_post = _exp_months(rng, c)
    death[r[rr]] = treat_day[rr] + _to_days(t_post[rr])
    dpost = death[r] - treat_day
    sp_rate = np.log(2) / _SECOND_PROG_MEDIAN * np.exp(z_rec) * np.where(local_rep, _HR_REPEAT_LOCAL_PFS, 1.0)
    sp = _to_days(_exp_months(rng, sp_rate))
    ok = sp < dpost
    acc.events(pix[r][ok], (treat_day + sp)[ok], "progression", rorgan[ok])
    return {"pix": pix, "death": death, "prim_res": prim_res, "node": rng.random(m) < 0.6, "sync": sync}


def _complications(acc, rng, tkeys, day, kind):
    probs = {"hepatectomy": [0.62, 0.08, 0.14, 0.09, 0.04, 0.02, 0.01],
             "ablation": [0.80, 0.08, 0.07, 0.04, 0.01, 0.0, 0.0],
             "repeat": [0.70, 0.08, 0.11, 0.07, 0.03, 0.01, 0.0],
             "sarcoma": [0.75, 0.08, 0.10, 0.04, 0.02, 0.01, 0.0],
             "sabr": [0.88, 0.07, 0.05, 0.0, 0.0, 0.0, 0.0]}
    grades = ["none", "I", "II", "IIIa", "IIIb", "IVa", "IVb"]
    n = len(tkeys)
    if np.isscalar(kind):
        g = _pick(rng, grades, probs[kind], n)
    else:
        g = np.empty(n, dtype=object)
        for k in sorted(set(kind)):  # fixed order: the draws must not depend on PYTHONHASHSEED
            sel = kind == k
            g[sel] = _pick(rng, grades, probs[k], sel.sum())
    has = g != "none"
    acc.complications(np.asarray(tkeys)[has], np.asarray(day)[has] + _uniform_days(rng, 1, 20, has.sum()), g[has])
    # a second, milder complication for some severe ones: CCI then exceeds the worst grade's value
    sev = has & np.isin(g, ["IIIa", "IIIb", "IVa", "IVb"]) & (rng.random(n) < 0.4)
    acc.complications(np.asarray(tkeys)[sev], np.asarray(day)[sev] + _uniform_days(rng, 1, 20, sev.sum()), "II")


def _crc_lung(acc, rng, b, pix, cal):
    m = len(pix)
    if not m:
        return {}
    ecog, ras, diag = b["ecog"][pix], b["ras_mut"][pix], b["diag"][pix]
    prim_res = diag + _uniform_days(rng, 20, 60, m)
    detection = prim_res + 200 + _to_days(rng.exponential(20, m).clip(max=120))
    detection, prim_res = _shift_before_lock(b, pix, detection, prim_res)
    n_les = np.minimum(1 + rng.poisson(0.4, m), 3)
    maxd = np.exp(rng.normal(np.log(14), 0.4, m)).clip(5, 50).round()
    lobes = ["RUL", "RML", "RLL", "LUL", "LLL"]
    first_les, all_les, owner = _extra_lesions(acc, rng, pix, n_les, maxd, detection, "lung", lobes)
    acc.labs(pix, detection, np.exp(rng.normal(np.log(5), 0.9, m)).round(1))
    mdt = detection + _uniform_days(rng, 7, 21, m)
    acc.mdt(pix, mdt, "sabr")
    sabr_day = mdt + _uniform_days(rng, 14, 40, m)
    sched = rng.choice(3, size=m, p=[0.5, 0.3, 0.2])
    dose = np.array([54.0, 60.0, 60.0])[sched]
    fx = np.array([3.0, 5.0, 8.0])[sched]
    tk = acc.treatments(pix, "sabr", sabr_day, (sabr_day + 2 * (fx - 1)).astype(float), intent="curative",
                        approach="not_applicable", dose=dose, fractions=fx)
    acc.link(tk[owner], all_les)
    _complications(acc, rng, tk, sabr_day, "sabr")

    death = np.full(m, np.inf)
    lr = rng.random(m) < _SABR_LR_SHARE
    t_lr = np.exp(rng.normal(np.log(_SABR_TTLR_MEDIAN), _SABR_TTLR_SIGMA, m))
    lr_day = sabr_day + _to_days(t_lr)
    acc.events(pix[lr], lr_day[lr], "local_recurrence", "lung", first_les[lr].astype(float))
    # no local recurrence: death and distant progression from SABR
    nl = ~lr
    t_d = _exp_months(rng, np.log(2) / _SABR_OS_MEDIAN * np.exp(0.4 * ecog[nl]))
    death[nl] = sabr_day[nl] + _to_days(t_d)
    t_p = _exp_months(rng, np.full(nl.sum(), np.log(2) / _SABR_PROG_MEDIAN))
    ok = t_p < t_d
    acc.events(pix[nl][ok], (sabr_day[nl] + _to_days(t_p))[ok], "distant_progression",
               _pick(rng, ["liver", "lung"], [0.5, 0.5], ok.sum()))
    # local recurrence: salvage resection when fit enough
    salvage = lr & (rng.random(m) < np.where(ecog < 2, 0.7, 0.2))
    s = np.flatnonzero(salvage)
    sal_day = lr_day[s] + _uniform_days(rng, 30, 75, len(s))
    mis = rng.random(len(s)) < _SALVAGE_MIS_SHARE
    stk = acc.treatments(pix[s], "resection", sal_day, sal_day.astype(float), intent="salvage",
                         approach=np.where(mis, "minimally_invasive", "open"),
                         margin=_pick(rng, ["R0", "R1"], [0.9, 0.1], len(s)))
    acc.link(stk, first_les[s])
    g = _pick(rng, list(_SALVAGE_CD), list(_SALVAGE_CD.values()), len(s))
    has = g != "none"
    acc.complications(stk[has], sal_day[has] + _uniform_days(rng, 1, 20, has.sum()), g[has])
    t_os = _weibull_months(rng, _SALVAGE_OS_MEDIAN, _SALVAGE_OS_SHAPE, len(s))
    death[s] = sal_day + _to_days(t_os)
    t_prog = _exp_months(rng, np.full(len(s), cal["salvage_prog_rate"]))
    ok = t_prog < t_os
    ptype = _pick(rng, ["distant_progression", "new_metastasis", "local_recurrence"], [0.5, 0.3, 0.2], len(s))
    acc.events(pix[s][ok], (sal_day + _to_days(t_prog))[ok], ptype[ok],
               np.where(ptype == "distant_progression", "liver", "lung")[ok],
               np.where(ptype == "local_recurrence", first_les[s], np.nan)[ok])
    ns = lr & ~salvage
    sys_day = lr_day[ns] + _uniform_days(rng, 14, 40, ns.sum())
    acc.treatments(pix[ns], "systemic", sys_day, None, intent="palliative",
                   regimen=np.where(ras[ns], "FOLFIRI-bevacizumab", "FOLFOX-panitumumab"), setting="palliative", line=1)
    death[ns] = sys_day + _to_days(_exp_months(rng, np.full(ns.sum(), np.log(2) / _NO_SALVAGE_OS_MEDIAN)))
    return {"pix": pix, "death": death, "prim_res": prim_res, "node": rng.random(m) < 0.55,
            "sync": np.zeros(m, bool)}


def _sarcoma(acc, rng, b, pix, cal):
    m = len(pix)
    if not m:
        return {}
    diag = b["diag"][pix]
    prim_res = diag + _uniform_days(rng, 20, 60, m)
    adj = rng.random(m) < 0.3
    adj_start = prim_res + _uniform_days(rng, 30, 60, m)
    adj_end = adj_start + _uniform_days(rng, 90, 120, m)
    last_end = np.where(adj, adj_end, prim_res)
    tfi_days = _to_days(np.exp(rng.normal(np.log(14), 0.9, m)).clip(max=120))  # at most 10 years
    detection = last_end + tfi_days
    detection, prim_res, adj_start, adj_end = _shift_before_lock(b, pix, detection, prim_res, adj_start, adj_end)
    acc.treatments(pix[adj], "systemic", adj_start[adj], adj_end[adj].astype(float), intent="curative",
                   regimen="doxorubicin-ifosfamide", setting="adjuvant", line=1)
    tfi12 = tfi_days / DAYS_PER_MONTH > 12
    n_les, maxd = _sarcoma_lesions(rng, m)
    big = maxd > 20
    lobes = ["RUL", "RML", "RLL", "LUL", "LLL"]
    _, all_les, owner = _extra_lesions(acc, rng, pix, n_les, maxd, detection, "lung", lobes)
    mdt = detection + _uniform_days(rng, 7, 21, m)
    acc.mdt(pix, mdt, "resection")
    # neoadjuvant systemic therapy, more often for large / multiple lesions; no effect built in. Given
    # before the metastasectomy (the origin) so that the exposure is known at time 0 (no immortal time).
    sysm = rng.random(m) < _logistic(-1.2 + 1.2 * big + 0.4 * (n_les - 1))
    sys_day = mdt + _uniform_days(rng, 7, 21, m)
    sys_end = sys_day + _uniform_days(rng, 63, 90, m)
    acc.treatments(pix[sysm], "systemic", sys_day[sysm], sys_end[sysm].astype(float), intent="curative",
                   regimen=_pick(rng, ["doxorubicin", "doxorubicin-ifosfamide", "trabectedin"], [0.5, 0.3, 0.2],
                                 sysm.sum()), setting="neoadjuvant", line=1)
    surg = np.where(sysm, sys_end + _uniform_days(rng, 21, 42, m), mdt + _uniform_days(rng, 14, 40, m))
    mis = rng.random(m) < 0.5
    tk = acc.treatments(pix, "resection", surg, surg.astype(float), intent="curative",
                        approach=np.where(mis, "minimally_invasive", "open"),
                        margin=_pick(rng, ["R0", "R1"], [0.88, 0.12], m))
    acc.link(tk[owner], all_les)
    _complications(acc, rng, tk, surg, "sarcoma")
    lam_d = cal["sarcoma"]["os"] * _sarcoma_hr("os", big, tfi12, n_les)
    lam_f = cal["sarcoma"]["dfs"] * _sarcoma_hr("dfs", big, tfi12, n_les)
    lam_r = np.maximum(lam_f - lam_d, 1e-9)  # DFS hazard = recurrence + death hazards: PH in both
    t_d = _exp_months(rng, lam_d)
    t_r = _exp_months(rng, lam_r)
    death = surg + _to_days(t_d)
    rec = t_r < t_d
    rtype = _pick(rng, ["new_metastasis", "distant_progression", "regional_recurrence"], [0.65, 0.25, 0.10], m)
    distant_organ = _pick(rng, ["bone", "liver", "other"], [0.4, 0.3, 0.3], m)
    rorgan = np.where(rtype == "distant_progression", distant_organ, "lung")
    acc.events(pix[rec], (surg + _to_days(t_r))[rec], rtype[rec], rorgan[rec])
    histology = _pick(rng, ["leiomyosarcoma", "undifferentiated pleomorphic sarcoma", "synovial sarcoma",
                            "liposarcoma", "other soft-tissue sarcoma"], [0.3, 0.25, 0.15, 0.15, 0.15], m)
    return {"pix": pix, "death": death, "prim_res": prim_res, "node": np.zeros(m, bool), "sync": np.zeros(m, bool),
            "histology": histology}


# ----------------------------------------------------------------------------------------------
def synthetic_registry(n_patients: int = 2000, n_sites: int = 7, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Generate the synthetic multicenter registry (see the module docstring and :data:`TRUE_EFFECTS`).

    Parameters
    ----------
    n_patients : number of patients (split over the settings by :data:`SETTING_SHARES`).
    n_sites : number of hospitals, ``"Site A (synthetic)"``, ``"Site B (synthetic)"``, ... (1-26).
    seed : the data is identical for identical (n_patients, n_sites, seed).

    Returns
    -------
    dict table name -> DataFrame, in ``TABLE_ORDER``, with exactly the declared columns and dtypes
    of the registry contract (``oligomet.registry.fields``).
    """
    if int(n_patients) != n_patients or n_patients < 1:
        raise ValueError(f"n_patients must be a positive integer, got {n_patients!r}")
    if int(n_sites) != n_sites or not 1 <= n_sites <= 26:
        raise ValueError(f"n_sites must be an integer from 1 to 26, got {n_sites!r}")
    n = int(n_patients)
    cal = _fill_truth()
    rng = np.random.default_rng(seed)
    b = _baseline(rng, n, int(n_sites))
    acc = _Tables()
    parts = [_crlm(acc, rng, b, np.flatnonzero(b["setting"] == "crlm"), cal),
             _crc_lung(acc, rng, b, np.flatnonzero(b["setting"] == "crc_lung"), cal),
             _sarcoma(acc, rng, b, np.flatnonzero(b["setting"] == "sarcoma_lung"), cal)]
    death = np.full(n, np.inf)
    prim_res = np.zeros(n, np.int64)
    node = np.zeros(n, bool)
    histology = np.full(n, "adenocarcinoma", dtype=object)
    for p in parts:
        if p:
            death[p["pix"]] = p["death"]
            prim_res[p["pix"]] = p["prim_res"]
            node[p["pix"]] = p["node"]
            if "histology" in p:
                histology[p["pix"]] = p["histology"]
    # end of observation: death, loss to follow-up (from metastasis detection), or the data lock
    les = acc.frame("lesions")
    first_det = pd.Series(les["detection"].to_numpy()).groupby(les["pix"].to_numpy()).min().reindex(range(n)).to_numpy()
    dropout = np.maximum(first_det, prim_res) + _to_days(rng.exponential(12.0 / _DROPOUT_PER_YEAR, n))
    obs_end = np.minimum(np.minimum(death, dropout), _EPOCH_LOCK).astype(np.int64)
    dead = death <= np.minimum(dropout, _EPOCH_LOCK)
    tables = _with_board_facts(_assemble(acc, b, n, int(n_sites), obs_end, dead, prim_res, node, histology, rng),
                               seed)
    # fields added later, each from its own random stream (the fields above keep their values)
    _detail.add_resection_detail(tables, seed)
    _detail.add_recurrence_detail(tables, seed)
    _detail.add_adverse_events(tables, seed)
    _detail.make_cea_missing_at_random(tables, seed)
    return tables


# ----------------------------------------------------------------------------------------------
# the board's judgements and measurements on each MDT decision (issue 11)
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


def _with_board_facts(tables: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
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
    side = _pick(rng, ["right", "left", "rectum"], [0.25, 0.40, 0.35], len(p))
    side[rng.random(len(p)) < 0.08] = None
    p["primary_sidedness"] = np.where(colorectal, side, "not_applicable")
    return {**tables, "patients": _conform("patients", p), "mdt_decisions": _conform("mdt_decisions", mdt)}


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


def _assemble(acc, b, n, n_sites, obs_end, dead, prim_res, node, histology, rng):
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
    return {name: _conform(name, out.get(name, pd.DataFrame()).reset_index(drop=True)) for name in TABLE_ORDER}


def _conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
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


def write_registry(tables: dict[str, pd.DataFrame], out_dir, format: str = "csv") -> Path:
    """Write a registry in the interchange format: ``<out_dir>/<table>.csv`` (ISO dates, empty cell =
    missing), or one workbook ``<out_dir>/registry.xlsx`` with one sheet per table.

    Delegates to the registry layer's writer (``oligomet.registry.write_registry``) so that there
    is one file format in the project. Returns the folder or workbook written.
    """
    from ..registry.io import write_registry as _write

    if format not in ("csv", "xlsx"):
        raise ValueError(f"format must be 'csv' or 'xlsx', got {format!r}")
    out = Path(out_dir)
    if format == "csv":
        return _write(tables, out, "csv")
    out.mkdir(parents=True, exist_ok=True)
    return _write(tables, out / "registry.xlsx", "excel")
