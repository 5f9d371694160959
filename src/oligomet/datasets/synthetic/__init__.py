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
  hold for the cohort as a whole, whatever ``n_patients`` and ``seed``. The calibration runs on first
  use (the first registry, or the first look into :data:`TRUE_EFFECTS`) and is cached; importing
  this package computes nothing.
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

Modules, by clinical setting and by the shared machinery:

* ``crlm``: colorectal liver metastases (resection, ablation timing, early recurrence);
* ``lung_sabr``: colorectal lung metastases (SABR, local recurrence, salvage resection);
* ``sarcoma``: sarcoma lung metastasectomy;
* ``patients``: setting, site, baseline covariates and the end of follow-up of each patient;
* ``draws`` (time units, data lock, random draws), ``tables`` (row accumulator, lesion and
  complication rows), ``assemble`` (the contract's tables), ``board`` (MDT board facts),
  ``detail`` (fields added later from streams of their own);
* ``calibration``: the calibrated rates and :data:`TRUE_EFFECTS`; ``generate``: the entry points.
"""
from __future__ import annotations

from .calibration import TRUE_EFFECTS, true_effects
from .draws import DATA_LOCK, DAYS_PER_MONTH
from .generate import synthetic_registry, write_registry
from .patients import SETTING_SHARES

__all__ = ["DATA_LOCK", "DAYS_PER_MONTH", "SETTING_SHARES", "TRUE_EFFECTS", "synthetic_registry", "true_effects",
           "write_registry"]
