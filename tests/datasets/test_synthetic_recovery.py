"""The synthetic registry recovers the published effects it was built from (TRUE_EFFECTS),
within sampling error, through oligomet's own endpoints and estimators.

Tolerances are 3 standard errors of the estimate (from the estimator's own SE, or the binomial
SE of a proportion), so each check can fail if the generator or the endpoints drift; the seed
is fixed, so the test is deterministic.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet
from oligomet.datasets.synthetic import TRUE_EFFECTS, synthetic_registry

N, SEED = 30000, 2024


@pytest.fixture(scope="module")
def reg():
    return synthetic_registry(N, seed=SEED)


@pytest.fixture(scope="module")
def patients(reg):
    return oligomet.derive_endpoints(reg)


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def _coef(fit, term):
    row = fit.summary.loc[term]
    return row["coef"], row["se"]


def _assert_hr(fit, term, true_hr):
    coef, se = _coef(fit, term)
    assert abs(coef - np.log(true_hr)) < 3 * se, f"{term}: HR {np.exp(coef):.3f} vs true {true_hr} (se {se:.3f})"


def _assert_median(km, true):
    m = km.medians.iloc[0]
    se_log = (np.log(m["upper"]) - np.log(m["lower"])) / (2 * 1.959964)
    assert abs(np.log(m["median"] / true)) < 3 * se_log, f"median {m['median']:.1f} vs true {true}"


def _assert_share(x, true):
    x = pd.Series(x).dropna().astype(float)
    assert abs(x.mean() - true) < 3 * np.sqrt(true * (1 - true) / len(x)) + 1e-9, f"{x.mean():.3f} vs {true}"


def test_sarcoma_lung_metastasectomy(patients):
    truth = TRUE_EFFECTS["sarcoma_lung"]
    s = patients[patients["primary_site"] == "sarcoma"].dropna(subset=["os_time"]).copy()
    s["gt2cm"] = (s["max_diameter_mm"] > 20).astype(float)
    s["tfi12"] = (s["tfi_months"] > 12).astype(float)
    s["nles"] = s["n_lesions"].astype(float)
    for ep in ("os", "dfs"):
        fit = _quiet(oligomet.cox, s, f"{ep}_time", f"{ep}_event", ["gt2cm", "tfi12", "nles"])
        _assert_hr(fit, "gt2cm", truth[f"{ep}_hr"]["lesion_gt_2cm"])
        _assert_hr(fit, "tfi12", truth[f"{ep}_hr"]["tfi_gt_12m"])
        _assert_hr(fit, "nles", truth[f"{ep}_hr"]["per_extra_lesion"])
        _assert_median(oligomet.kaplan_meier(s, f"{ep}_time", f"{ep}_event"), truth[f"{ep}_median_months"])
    # confounding by indication: systemic therapy looks harmful crude, not after adjustment (no effect built in)
    s["systemic"] = s["neoadjuvant"].astype(float)
    crude = _quiet(oligomet.cox, s, "os_time", "os_event", ["systemic"])
    adj = _quiet(oligomet.cox, s, "os_time", "os_event", ["systemic", "gt2cm", "tfi12", "nles"])
    assert _coef(crude, "systemic")[0] > 3 * _coef(crude, "systemic")[1]
    _assert_hr(adj, "systemic", truth["systemic_therapy_hr"])


def test_salvage_resection_after_sabr(reg):
    truth = TRUE_EFFECTS["salvage_after_sabr"]
    sal = oligomet.derive_endpoints(reg, index_modalities=["resection"], index_intents=["salvage"])
    sal = sal.dropna(subset=["os_time"])
    assert len(sal) > 400
    _assert_median(oligomet.kaplan_meier(sal, "os_time", "os_event"), truth["os_median_months_from_salvage"])
    _assert_median(oligomet.kaplan_meier(sal, "pfs_time", "pfs_event"), truth["pfs_median_months_from_salvage"])
    _assert_share(sal["cd_grade_3plus"], truth["clavien_dindo_3plus_share"])
    _assert_share(sal["index_approach"] == "minimally_invasive", truth["minimally_invasive_share"])
    assert sal["death_90d"].dropna().astype(float).mean() < 0.02
    # time to LR after SABR, among the SABR-treated lesions that recurred (lesion level). Only lesions
    # treated before 2017 (>= 8 years to the data lock): among recent ones a late recurrence is not yet
    # observed, which shortens the observed times (truncation, a real feature of such a statistic)
    les = oligomet.derive_endpoints(reg, level="lesion")
    lr = les[(les["lesion_modality"] == "sabr") & (les["lr_status"] == 1)
             & (les["lesion_treatment_date"] < "2017-01-01")]["lr_time"]
    med = truth["ttlr_after_sabr_months"]["median"]
    se = 1.2533 * 0.55 * med / np.sqrt(len(lr))  # SE of a log-normal sample median
    assert abs(lr.median() - med) < 3 * se, lr.median()
    q1, q3 = truth["ttlr_after_sabr_months"]["iqr"]
    assert abs(lr.quantile(0.25) - q1) < 1.5 and abs(lr.quantile(0.75) - q3) < 2.0


def test_crlm_early_recurrence_repeat_local(reg):
    truth = TRUE_EFFECTS["crlm_early_recurrence"]
    r = oligomet.derive_endpoints(reg, origin="first_recurrence")
    r = r[(r["primary_site"] == "colorectal") & (r["first_local_modality"] == "resection")
          & r["os_time"].notna() & (r["recurrence_months"] <= 12)].copy()
    r["local"] = r["local_after_origin"].astype(float)
    r["ecog"] = r["ecog"].astype(float)
    adj = _quiet(oligomet.cox, r, "os_time", "os_event", ["local", "ecog", "age"])
    _assert_hr(adj, "local", truth["os_hr_repeat_local_vs_systemic_only"])
    crude = _quiet(oligomet.cox, r, "os_time", "os_event", ["local"])
    assert _coef(crude, "local")[0] < _coef(adj, "local")[0] - 2 * _coef(adj, "local")[1]  # confounded
    pfs = _quiet(oligomet.cox, r, "pfs_time", "pfs_event", ["local", "ecog", "age"])
    _assert_hr(pfs, "local", truth["pfs_hr_repeat_local_vs_systemic_only"])
    # no interaction with the recurrence interval: the same HR among recurrences within 4 months
    early4 = r[r["recurrence_months"] <= 4]
    assert len(early4) > 300
    _assert_hr(_quiet(oligomet.cox, early4, "os_time", "os_event", ["local", "ecog", "age"]), "local",
               truth["os_hr_repeat_local_vs_systemic_only"] * truth["interaction_recurrence_le_4_months"])
    # neoadjuvant chemotherapy before the first resection: no effect built in
    r["neo"] = r["neoadjuvant"].astype(float)
    _assert_hr(_quiet(oligomet.cox, r, "os_time", "os_event", ["local", "neo", "ecog", "age"]), "neo",
               truth["os_hr_neoadjuvant_then_local_vs_upfront_local"])


def _logit_ps(X, t, iters=25):
    """Propensity scores by Newton-Raphson logistic regression (a few lines; the test must not depend
    on the matching layer)."""
    X = np.column_stack([np.ones(len(X)), X])
    b = np.zeros(X.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-X @ b))
        b += np.linalg.solve(X.T @ (X * (p * (1 - p))[:, None]), X.T @ (t - p))
    return 1 / (1 + np.exp(-X @ b))


def test_crlm_ablation_timing(patients):
    truth = TRUE_EFFECTS["crlm_ablation_timing"]
    a = patients[patients["index_modality"].isin(["rfa", "mwa"]) & patients["os_time"].notna()].copy()
    a["upfront"] = (~a["neoadjuvant"].astype(bool)).astype(float)
    a["ecog"] = a["ecog"].astype(float)
    a["nles"] = a["n_lesions"].astype(float)
    a["ras_mut"] = (a["ras"] == "mutant").astype(float)
    cov = ["ecog", "age", "nles", "ras_mut"]
    for ep in ("os", "dfs"):
        adj = _quiet(oligomet.cox, a, f"{ep}_time", f"{ep}_event", ["upfront"] + cov)
        _assert_hr(adj, "upfront", truth[f"{ep}_hr_upfront_vs_delayed"])
        crude = _quiet(oligomet.cox, a, f"{ep}_time", f"{ep}_event", ["upfront"])
        assert _coef(crude, "upfront")[0] < _coef(adj, "upfront")[0]  # sicker patients were delayed
    # marginal 5-year rates: inverse-probability-of-treatment weighted KM (ATE weights)
    ps = _logit_ps(a[cov].to_numpy(float), a["upfront"].to_numpy())
    a["w"] = np.where(a["upfront"] == 1, 1 / ps, 1 / (1 - ps))
    for ep in ("os", "dfs"):
        for arm, label in ((1.0, "upfront"), (0.0, "delayed")):
            g = a[a["upfront"] == arm]
            at = _quiet(oligomet.kaplan_meier, g, f"{ep}_time", f"{ep}_event", weights="w").at(60).iloc[0]
            # SE: the unweighted Greenwood SE of the arm, inflated by the weights' design effect n / n_eff
            raw = oligomet.kaplan_meier(g, f"{ep}_time", f"{ep}_event").at(60).iloc[0]
            n_eff = g["w"].sum() ** 2 / (g["w"] ** 2).sum()
            se = raw["survival"] * raw["std_err"] * np.sqrt(len(g) / n_eff)
            assert abs(at["survival"] - truth[f"{ep}_5y"][label]) < 3 * se, (ep, label, at["survival"], se)
