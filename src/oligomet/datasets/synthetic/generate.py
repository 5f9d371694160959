"""``synthetic_registry``: the three settings drawn on one random stream, the end of follow-up, the
tables assembled, then the fields added later, each from a stream of its own; and ``write_registry``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import crlm, detail, lung_sabr, sarcoma
from .assemble import assemble
from .board import with_board_facts
from .calibration import calibrated_rates
from .patients import baseline, end_of_follow_up
from .tables import Tables

#: Each setting's generator, in the order it draws from the shared random stream (the order fixes the data).
_SETTINGS = (("crlm", crlm.generate), ("crc_lung", lung_sabr.generate), ("sarcoma_lung", sarcoma.generate))


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
    cal = calibrated_rates()
    rng = np.random.default_rng(seed)
    b = baseline(rng, n, int(n_sites))
    acc = Tables()
    parts = [generate(acc, rng, b, np.flatnonzero(b["setting"] == setting), cal) for setting, generate in _SETTINGS]
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
    obs_end, dead = end_of_follow_up(rng, acc, n, death, prim_res)
    tables = with_board_facts(assemble(acc, b, n, int(n_sites), obs_end, dead, prim_res, node, histology, rng),
                              seed)
    # fields added later, each from its own random stream (the fields above keep their values); called
    # through the module so that a test can switch one off
    detail.add_resection_detail(tables, seed)
    detail.add_recurrence_detail(tables, seed)
    detail.add_adverse_events(tables, seed)
    detail.make_cea_missing_at_random(tables, seed)
    return tables


def write_registry(tables: dict[str, pd.DataFrame], out_dir, format: str = "csv") -> Path:
    """Write a registry in the interchange format: ``<out_dir>/<table>.csv`` (ISO dates, empty cell =
    missing), or one workbook ``<out_dir>/registry.xlsx`` with one sheet per table.

    Delegates to the registry layer's writer (``oligomet.registry.write_registry``) so that there
    is one file format in the project. Returns the folder or workbook written.
    """
    from ...registry.io import write_registry as _write

    if format not in ("csv", "xlsx"):
        raise ValueError(f"format must be 'csv' or 'xlsx', got {format!r}")
    out = Path(out_dir)
    if format == "csv":
        return _write(tables, out, "csv")
    out.mkdir(parents=True, exist_ok=True)
    return _write(tables, out / "registry.xlsx", "excel")
