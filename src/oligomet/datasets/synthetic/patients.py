"""Shared patient machinery of the synthetic registry: the setting, site and baseline covariates of each
patient, the pre-metastatic history moved before the data lock, and the end of follow-up."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .draws import EPOCH_LOCK, pick, to_days, uniform_days

SETTING_SHARES = {"crlm": 0.55, "crc_lung": 0.20, "sarcoma_lung": 0.25}
_DIAG_FROM, _DIAG_TO = (int((pd.Timestamp(d) - pd.Timestamp("1970-01-01")).days) for d in ("2004-01-01", "2020-12-31"))
_DROPOUT_PER_YEAR = 0.015


def baseline(rng, n, n_sites):
    setting = pick(rng, list(SETTING_SHARES), list(SETTING_SHARES.values()), n)
    sarcoma = setting == "sarcoma_lung"
    site_w = np.linspace(1.6, 0.6, n_sites)
    site = rng.choice(n_sites, size=n, p=site_w / site_w.sum())
    age = np.where(sarcoma, rng.normal(55, 14, n), rng.normal(64, 10, n)).clip(20, 88).round()
    ecog = rng.choice(3, size=n, p=[0.55, 0.35, 0.10])
    diag = uniform_days(rng, _DIAG_FROM, _DIAG_TO, n)
    birth_year = (pd.to_datetime(diag, unit="D").year.to_numpy() - age).astype(int)
    male = rng.random(n) < np.where(sarcoma, 0.5, 0.58)
    ras_mut = (rng.random(n) < 0.45) & ~sarcoma
    return dict(setting=setting, site=site, age=age, ecog=ecog, diag=diag, birth_year=birth_year, male=male,
                ras_mut=ras_mut)


def shift_before_lock(b, pix, detection, *dates):
    """Move a patient's whole pre-metastatic history earlier so that the metastasis is found at least
    120 days before the data lock (a metastasis registry has no patient without metastasis); the
    intervals between dates are kept, and the birth year moves with the diagnosis."""
    shift = np.minimum(0, (EPOCH_LOCK - 120) - detection)
    b["diag"][pix] += shift
    b["birth_year"][pix] = pd.to_datetime(b["diag"][pix], unit="D").year.to_numpy() - b["age"][pix].astype(int)
    return [d + shift for d in (detection,) + dates]


def end_of_follow_up(rng, acc, n, death, prim_res):
    """The last day each patient is observed and whether they died then: death, loss to follow-up (about
    1.5% a year, from the first metastasis or the primary resection), or the data lock, whichever is first."""
    les = acc.frame("lesions")
    first_det = pd.Series(les["detection"].to_numpy()).groupby(les["pix"].to_numpy()).min().reindex(range(n)).to_numpy()
    dropout = np.maximum(first_det, prim_res) + to_days(rng.exponential(12.0 / _DROPOUT_PER_YEAR, n))
    obs_end = np.minimum(np.minimum(death, dropout), EPOCH_LOCK).astype(np.int64)
    dead = death <= np.minimum(dropout, EPOCH_LOCK)
    return obs_end, dead
