"""A semicolon-separated export (decimal commas) whose numeric column holds no value at all: read as missing,
not a crash (the decimal-comma rewrite met an all-missing match: TypeError 'Boolean array expected')."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from oligomet.registry import read_registry

CLEAN = Path(__file__).parent / "data" / "clean"


def test_semicolon_file_with_an_empty_numeric_column(tmp_path):
    for p in CLEAN.glob("*.csv"):
        frame = pd.read_csv(p, dtype=str, keep_default_na=False)
        if p.stem == "labs":
            frame["cea"] = ""
        frame.to_csv(tmp_path / p.name, sep=";", index=False)
    tables, report = read_registry(tmp_path)
    assert report.ok, report.problems
    labs = tables["labs"]
    assert len(labs) == len(pd.read_csv(CLEAN / "labs.csv")) and labs["cea"].isna().all()
    assert labs["cea"].dtype == "float64"
