"""Loading of the R fixtures in tests/reference/rmst (written by make_rmst_fixtures.R, survival 3.5-3),
shared by test_rmst.py, test_cumhaz.py and test_km_id.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

# R's JSON conventions and the per-group row selection, as the KM tests read their fixtures
from test_kaplan_meier import assert_r, label, r_array, rows_of  # noqa: F401  (re-exported)

import oligomet as om

RMST_DIR = Path(__file__).resolve().parents[1] / "reference" / "rmst"
FIXTURES = json.loads((RMST_DIR / "rmst_fixtures.json").read_text())


def cases(kind: str) -> list[str]:
    return [k for k, v in FIXTURES.items() if v["case"]["kind"] == kind]


def load(name: str) -> pd.DataFrame:
    """The rows R analysed: a CSV beside the fixtures, or a bundled dataset (colon)."""
    path = RMST_DIR / "data" / f"{name}.csv"
    return pd.read_csv(path) if path.exists() else om.datasets.load(name)


def random_rows(seed: int, n_patients: int = 25) -> pd.DataFrame:
    """(start, stop] rows, 1-3 per patient, tied integer times, fractional weights, two groups."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        cuts = np.sort(rng.choice(np.arange(0, 15), size=rng.integers(2, 5), replace=False))
        for a, b in zip(cuts[:-1], cuts[1:]):
            rows.append({"pid": p, "start": float(a), "stop": float(b), "event": int(rng.random() < 0.35),
                         "grp": "x" if p % 3 else "y", "w": round(float(rng.uniform(0.5, 2.0)), 2)})
    return pd.DataFrame(rows)


def numeric_influence_variance(estimate, d: pd.DataFrame, eps: float = 1e-6) -> np.ndarray:
    """Sum over patients of (d estimate / d log weight of the patient's rows)^2, by central differences.

    This is what the grouped infinitesimal jackknife is (R's influence = w x derivative in w), computed
    the slow, obvious way: ``estimate(weights)`` returns an array, refitted once per patient and sign.
    """
    total = 0.0
    for p in d["pid"].unique():
        mine = (d["pid"] == p).to_numpy()
        up = estimate(d["w"].to_numpy() * np.where(mine, 1 + eps, 1.0))
        down = estimate(d["w"].to_numpy() * np.where(mine, 1 - eps, 1.0))
        total = total + ((up - down) / (2 * eps)) ** 2
    return total
