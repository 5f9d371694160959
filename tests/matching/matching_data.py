"""Data helpers for the matching tests: R (MatchIt) reference cases from tests/reference/matching."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

FIXTURE_DIR = Path(__file__).parent.parent / "reference" / "matching"
COVARIATES = {
    "colon": ("treated", ["age", "sex", "obstruct", "perfor", "adhere", "nodes", "differ", "extent", "surg"]),
    "lung": ("female", ["age", "ph.ecog", "ph.karno", "wt.loss"]),
    "ties": ("treat", ["x1", "x2"]),
    "lalonde": ("treat", ["age", "educ", "race", "married", "nodegree", "re74", "re75"]),
    "cont": ("treat", ["x1", "x2", "x3"]),
}


def load_data(name: str) -> pd.DataFrame:
    d = pd.read_csv(FIXTURE_DIR / f"{name}.csv")
    d.index = d.index + 1  # R's row names
    if name == "lung":
        d["ph.ecog"] = pd.Categorical(d["ph.ecog"].astype(int))
    return d

