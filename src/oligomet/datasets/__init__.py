"""Bundled datasets: real public data from R's ``survival`` package, and the synthetic registry.

See ``data/SOURCES.md`` for provenance and licence.
"""
from __future__ import annotations

from importlib import resources

import pandas as pd

PUBLIC = ("colon", "lung", "veteran", "mgus2")


def load(name: str) -> pd.DataFrame:
    """Load a bundled public dataset (``colon``, ``lung``, ``veteran``, ``mgus2``) as R exports it."""
    if name not in PUBLIC:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(PUBLIC)}")
    with resources.files(__package__).joinpath("data", f"{name}.csv").open("rb") as fh:
        return pd.read_csv(fh)


def __getattr__(name):  # the synthetic generator is heavy to import; load it on first use (PEP 562)
    if name in ("synthetic_registry", "write_registry", "TRUE_EFFECTS", "DATA_LOCK"):
        from . import synthetic

        return getattr(synthetic, name)
    raise AttributeError(name)
