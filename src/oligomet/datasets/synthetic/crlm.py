"""Colorectal liver metastases (CRLM): resection (with or without neoadjuvant chemotherapy), thermal
ablation (upfront, or delayed after systemic therapy) for small unresectable disease, or systemic
therapy only; recurrences, treated by repeat local treatment or systemic therapy.

Two seed studies are built in: the early-recurrence study (resection cohort, illness-death model,
repeat local treatment vs systemic therapy at the first recurrence) and the ablation-timing study
(independent death and recurrence clocks calibrated to its 5-year rates). Sicker patients (risk score
``z``: ECOG, age, lesions, RAS) more often get systemic therapy only, delayed ablation, neoadjuvant
chemotherapy or no repeat local treatment, and ``z`` raises their hazards: confounding by indication.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .draws import exp_months, logistic, pick, to_days, uniform_days
from .patients import shift_before_lock
from .tables import complications, extra_lesions

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

#: The early-recurrence study's effects (``TRUE_EFFECTS["crlm_early_recurrence"]``).
EARLY_RECURRENCE_TRUTH = {
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
}
#: The ablation-timing study's effects without the hazard ratios, which come from the calibrated rates
#: (``ablation_hazard_ratios``); ``TRUE_EFFECTS["crlm_ablation_timing"]`` holds both.
ABLATION_TRUTH = {
    "cohort": "CRLM, <= 3 lesions, largest < 30 mm, thermal ablation (rfa/mwa); origin = ablation",
    "dfs_5y": {arm: target["dfs5"] for arm, target in _ABL_TARGET.items()},
    "os_5y": {arm: target["os5"] for arm, target in _ABL_TARGET.items()},
    "adjust_for": ["ecog", "age", "n_lesions", "ras"],
    "note": "5-year rates are marginal over the whole ablation cohort (both arms' covariates); "
            "hazards are proportional, the hazard ratios are in 'dfs_hr_upfront_vs_delayed' / "
            "'os_hr_upfront_vs_delayed' (computed from the calibrated rates on first use)",
}


def crlm_risk(ecog, age, n_les, ras_mut):
    """Risk score of the CRLM cohorts, linear in covariates the analysis frame holds."""
    return 0.45 * ecog + 0.025 * (age - 65) + 0.20 * (n_les - 1) + 0.30 * ras_mut


def crlm_allocation(rng, z, n_les, maxd):
    """Systemic only (sicker patients) or ablation (small unresectable disease: <= 3 lesions, < 30 mm)."""
    m = len(z)
    systemic_only = rng.random(m) < logistic(-2.2 + 1.3 * z)
    eligible = (n_les <= 3) & (maxd < 30)
    ablation = ~systemic_only & eligible & (rng.random(m) < 0.45)
    return systemic_only, ablation


def crlm_baseline_lesions(rng, m):
    n_les = np.minimum(1 + rng.poisson(1.2, m), 12)
    maxd = np.exp(rng.normal(np.log(24), 0.5, m)).clip(5, 150).round()
    return n_les, maxd

def _rate_for_survival(risk, months, target, upper):
    """The baseline monthly rate at which the cohort's mean exponential survival at ``months`` is ``target``."""
    return brentq(lambda rate: np.mean(np.exp(-rate * risk * months)) - target, 1e-6, upper)


def calibrate_ablation(rng, ecog, age, ras):
    """Per ablation arm, the (death, recurrence) baseline rates that give the seed study's 5-year OS and DFS
    over the calibration cohort's ablation patients (both clocks share the ``z`` dependence, so PH holds)."""
    m = len(ecog)
    n_les, maxd = crlm_baseline_lesions(rng, m)
    z = crlm_risk(ecog, age, n_les, ras)
    _, ablation = crlm_allocation(rng, z, n_les, maxd)
    ez = np.exp(_ABL_GAMMA * z[ablation])
    out = {}
    for arm, target in _ABL_TARGET.items():
        death = _rate_for_survival(ez, 60.0, target["os5"], 1.0)
        death_or_recurrence = _rate_for_survival(ez, 60.0, target["dfs5"], 2.0)
        out[arm] = (death, death_or_recurrence - death)
    return out


def ablation_hazard_ratios(cal) -> dict:
    """Upfront vs delayed ablation hazard ratios implied by the calibrated rates."""
    return {"os_hr_upfront_vs_delayed": float(round(cal["upfront"][0] / cal["delayed"][0], 3)),
            "dfs_hr_upfront_vs_delayed": float(round(sum(cal["upfront"]) / sum(cal["delayed"]), 3))}


def generate(acc, rng, b, pix, cal):
    """The CRLM patients `pix`: lesions, treatments, recurrences; returns their deaths and primaries."""
    m = len(pix)
    if not m:
        return {}
    ecog, age, ras = b["ecog"][pix], b["age"][pix], b["ras_mut"][pix]
    diag = b["diag"][pix]
    sync = rng.random(m) < 0.4
    prim_res = diag + uniform_days(rng, 20, 60, m)
    metachronous = prim_res + 240 + to_days(rng.exponential(15, m).clip(max=120))
    detection = np.where(sync, diag + uniform_days(rng, 0, 60, m), metachronous)
    detection, prim_res, diag = shift_before_lock(b, pix, detection, prim_res, diag)
    n_les, maxd = crlm_baseline_lesions(rng, m)
    z = crlm_risk(ecog, age, n_les, ras)
    segs = [f"segment {i}" for i in ("I", "II", "III", "IVa", "IVb", "V", "VI", "VII", "VIII")]
    first_les, all_les, owner = extra_lesions(acc, rng, pix, n_les, maxd, detection, "liver", segs)
    acc.labs(pix, detection, np.exp(rng.normal(np.log(8) + 0.3 * z, 1.0)).round(1))
    mdt = detection + uniform_days(rng, 7, 21, m)

    # treatment choice (confounding by indication: z drives systemic-only, delayed ablation, neoadjuvant)
    systemic_only, ablation = crlm_allocation(rng, z, n_les, maxd)
    resection = ~systemic_only & ~ablation
    zc = z - 0.55
    delayed = ablation & (rng.random(m) < logistic(-0.3 + 1.6 * zc))
    neo = resection & (rng.random(m) < logistic(-1.0 + 0.8 * zc + 0.3 * (n_les - 1)))
    acc.mdt(pix, mdt, np.where(systemic_only, "systemic", np.where(ablation, "ablation", "resection")))

    # pre-local systemic therapy (neoadjuvant for resection, induction for delayed ablation)
    pre = neo | delayed
    pre_start = mdt + uniform_days(rng, 7, 21, m)
    pre_end = pre_start + np.where(delayed, uniform_days(rng, 90, 150, m), uniform_days(rng, 60, 120, m))
    regimen = np.where(ras, "FOLFOX-bevacizumab", "FOLFOX-panitumumab")
    acc.treatments(pix[pre], "systemic", pre_start[pre], pre_end[pre].astype(float), intent="curative",
                   regimen=regimen[pre], setting=np.where(delayed[pre], "conversion", "neoadjuvant"), line=1)
    local_day = np.where(pre, pre_end + uniform_days(rng, 14, 40, m), mdt + uniform_days(rng, 14, 50, m))
    loc = ~systemic_only
    abl_mod = pick(rng, ["rfa", "mwa"], [0.5, 0.5], m)
    modality = np.where(ablation, abl_mod, "resection")
    approach = np.where(ablation, pick(rng, ["percutaneous", "open", "minimally_invasive"], [0.7, 0.15, 0.15], m),
                        pick(rng, ["open", "minimally_invasive"], [0.65, 0.35], m))
    margin = np.where(resection, pick(rng, ["R0", "R1"], [0.85, 0.15], m), None)
    tkeys_local = acc.treatments(pix[loc], modality[loc], local_day[loc], local_day[loc].astype(float),
                                 intent="curative", approach=approach[loc], margin=margin[loc])
    tk = np.full(m, -1)
    tk[loc] = tkeys_local
    lk_owner_local = loc[owner]
    acc.link(tk[owner][lk_owner_local], all_les[lk_owner_local])
    complications(acc, rng, tk[loc], local_day[loc], np.where(ablation[loc], "ablation", "hepatectomy"))

    # systemic only
    so = systemic_only
    sys_start = mdt + uniform_days(rng, 7, 21, m)
    acc.treatments(pix[so], "systemic", sys_start[so], (sys_start[so] + uniform_days(rng, 120, 240, so.sum())
                                                        ).astype(float), intent="palliative", regimen=regimen[so],
                   setting="palliative", line=1)
    death = np.full(m, np.inf)
    ez = np.exp(0.5 * z)
    t_sys = exp_months(rng, np.log(2) / _SYS_OS_MEDIAN * ez[so])
    death[so] = sys_start[so] + to_days(t_sys)
    prog_rate = np.log(2) / _SYS_PFS_MEDIAN * ez[so]
    t_prog = exp_months(rng, prog_rate)
    prog_ok = t_prog < t_sys
    acc.events(pix[so][prog_ok], (sys_start[so] + to_days(t_prog))[prog_ok], "progression", "liver")

    # ablation cohort: independent death and recurrence clocks, calibrated to the seed 5-year rates
    ab = ablation
    eza = np.exp(_ABL_GAMMA * z[ab])
    lam_d = np.where(delayed[ab], cal["delayed"][0], cal["upfront"][0]) * eza
    lam_r = np.where(delayed[ab], cal["delayed"][1], cal["upfront"][1]) * eza
    t_d = exp_months(rng, lam_d)
    t_r = exp_months(rng, lam_r)
    death[ab] = local_day[ab] + to_days(t_d)
    rec_ab = t_r < t_d
    rec_day = np.full(m, -1)
    rec_day[np.flatnonzero(ab)[rec_ab]] = (local_day[ab] + to_days(t_r))[rec_ab]

    # resection cohort: illness-death; death after recurrence depends on the treatment of the recurrence
    rs = resection
    t_d0 = exp_months(rng, _CRLM_DEATH_NO_REC * np.exp(0.3 * z[rs]))
    t_r = exp_months(rng, np.log(2) / _CRLM_REC_MEDIAN * np.exp(0.5 * z[rs]))
    death[rs] = local_day[rs] + to_days(t_d0)
    rec_rs = t_r < t_d0
    rec_day[np.flatnonzero(rs)[rec_rs]] = (local_day[rs] + to_days(t_r))[rec_rs]

    # the first recurrence: type, lesion, and its treatment
    has_rec = rec_day >= 0
    r = np.flatnonzero(has_rec)
    p_local_type = np.where(ablation[r], 0.35, 0.15)
    is_lr = rng.random(len(r)) < p_local_type
    rtype = np.where(is_lr, "local_recurrence", pick(rng, ["new_metastasis", "distant_progression"], [0.6, 0.4],
                                                         len(r)))
    rorgan = np.where(is_lr, "liver", np.where(rtype == "new_metastasis", "liver",
                                               pick(rng, ["lung", "peritoneum"], [0.7, 0.3], len(r))))
    new_diam = np.exp(rng.normal(np.log(15), 0.4, (~is_lr).sum())).round()
    new_les = acc.lesions(pix[r][~is_lr], rec_day[r][~is_lr], new_diam, rorgan[~is_lr])
    rles = first_les[r].astype(float)
    rles[~is_lr] = new_les
    acc.events(pix[r], rec_day[r], rtype, rorgan, rles)
    age_rec = age[r] + (rec_day[r] - diag[r]) / 365.25
    z_rec = 0.6 * ecog[r] + 0.03 * (age_rec - 65)
    local_rep = (rng.random(len(r)) < logistic(0.3 - 1.5 * z_rec)) & (rorgan != "peritoneum")
    acc.labs(pix[r], rec_day[r], np.exp(rng.normal(np.log(10) + 0.3 * z_rec, 0.9)).round(1))
    treat_day = rec_day[r] + uniform_days(rng, 21, 60, len(r))
    rep_mod = np.where(rorgan == "lung", pick(rng, ["resection", "sabr"], [0.5, 0.5], len(r)),
                       pick(rng, ["resection", "rfa", "mwa"], [0.5, 0.25, 0.25], len(r)))
    sabr = rep_mod == "sabr"
    ltk = acc.treatments(pix[r][local_rep], rep_mod[local_rep], treat_day[local_rep],
                         treat_day[local_rep] + np.where(sabr[local_rep], 8, 0).astype(float),
                         intent="curative",
                         approach=np.where(sabr, "not_applicable", np.where(rep_mod == "resection", "open",
                                                                            "percutaneous"))[local_rep],
                         margin=np.where(rep_mod == "resection", "R0", None)[local_rep],
                         dose=np.where(sabr, 60.0, np.nan)[local_rep], fractions=np.where(sabr, 5.0, np.nan)[local_rep])
    acc.link(ltk, rles[local_rep].astype(np.int64))
    complications(acc, rng, ltk, treat_day[local_rep], "repeat")
    sysr = ~local_rep
    acc.treatments(pix[r][sysr], "systemic", treat_day[sysr], None, intent="palliative",
                   regimen=np.where(ras[r], "FOLFIRI-bevacizumab", "FOLFIRI-cetuximab")[sysr], setting="palliative",
                   line=2)
    # death after recurrence, only for the resection cohort (the ablation cohort drew its death already)
    rr = resection[r]
    c = np.log(2) / _CRLM_POST_REC_MEDIAN * np.exp(z_rec) * np.where(local_rep, _HR_REPEAT_LOCAL_OS, 1.0)
    t_post = exp_months(rng, c)
    death[r[rr]] = treat_day[rr] + to_days(t_post[rr])
    dpost = death[r] - treat_day
    sp_rate = np.log(2) / _SECOND_PROG_MEDIAN * np.exp(z_rec) * np.where(local_rep, _HR_REPEAT_LOCAL_PFS, 1.0)
    sp = to_days(exp_months(rng, sp_rate))
    ok = sp < dpost
    acc.events(pix[r][ok], (treat_day + sp)[ok], "progression", rorgan[ok])
    return {"pix": pix, "death": death, "prim_res": prim_res, "node": rng.random(m) < 0.6, "sync": sync}

