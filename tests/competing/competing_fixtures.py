"""Loaders for the competing-risks fixtures (a plain module, not conftest.py, so that test files can
import it by a unique name): cmprsk results written by
tests/reference/competing/make_competing_fixtures.R (cmprsk 2.2-11, survival 3.5-3)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "competing"


@lru_cache(maxsize=1)
def all_cases() -> dict:
    return json.loads((FIXTURES / "competing.json").read_text())


def case_ids(kind: str) -> list[str]:
    return [k for k, v in all_cases().items() if v["kind"] == kind]


def load_data(case_id: str) -> pd.DataFrame:
    case = all_cases()[case_id]
    d = pd.read_csv(FIXTURES / "data" / f"{case_id}.csv")
    for col, levels in (case.get("levels") or {}).items():
        d[col] = pd.Categorical(d[col], categories=levels)  # R factor level order
    return d


def as_float(x) -> np.ndarray:
    """JSON numbers (null = R's NA) as a float array."""
    return np.array(x, dtype=float) if not isinstance(x, list) else np.array(
        [[np.nan if v is None else v for v in row] if isinstance(row, list) else (np.nan if row is None else row)
         for row in x], dtype=float)
