"""Baseline rates calibrated so that the seed studies' marginal figures hold, and the effects built in.

The rates are solved for (closed-form survival functions, root finding) over a large fixed-seed
calibration cohort, so the published *marginal* figures (medians, 5-year rates) hold for the cohort as
a whole, whatever ``n_patients`` and ``seed``. This takes a fraction of a second, so it runs on first
use (the first registry generated, or the first look into :data:`TRUE_EFFECTS`), never at import, and
is cached for the life of the process.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import numpy as np

from . import crlm, lung_sabr, sarcoma

_COHORT_SEED, _COHORT_SIZE = 20240611, 400_000


@functools.cache
def calibrated_rates() -> dict:
    """``{"upfront"|"delayed": (death, recurrence) rates, "sarcoma": {"os", "dfs"}, "salvage_prog_rate"}``,
    monthly, at a risk score of zero. One random stream, drawn in a fixed order: the values never move."""
    rng = np.random.default_rng(_COHORT_SEED)
    m = _COHORT_SIZE
    ecog = rng.choice(3, size=m, p=[0.55, 0.35, 0.10])
    age = rng.normal(64, 10, m).clip(20, 88).round()
    ras = rng.random(m) < 0.45
    out = crlm.calibrate_ablation(rng, ecog, age, ras)
    out["sarcoma"] = sarcoma.calibrate(rng, m)
    out["salvage_prog_rate"] = lung_sabr.salvage_progression_rate()
    return out


def _frozen(value):
    """A read-only deep copy: mappings become mapping proxies and lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


@functools.cache
def true_effects() -> Mapping:
    """The effects built into the data, what a correct analysis should recover (within sampling error),
    read-only; computing it runs the calibration."""
    return _frozen({
        "salvage_after_sabr": lung_sabr.TRUTH,
        "crlm_early_recurrence": crlm.EARLY_RECURRENCE_TRUTH,
        "crlm_ablation_timing": {**crlm.ABLATION_TRUTH, **crlm.ablation_hazard_ratios(calibrated_rates())},
        "sarcoma_lung": sarcoma.TRUTH,
    })


class _TrueEffects(Mapping):
    """:func:`true_effects` behind a module-level name: filled on the first look, not at import."""

    def __getitem__(self, key):
        return true_effects()[key]

    def __iter__(self) -> Iterator:
        return iter(true_effects())

    def __len__(self) -> int:
        return len(true_effects())

    def __repr__(self) -> str:
        return repr(dict(true_effects()))


#: The effects built into the data (read-only; see :func:`true_effects`).
TRUE_EFFECTS: Mapping = _TrueEffects()
