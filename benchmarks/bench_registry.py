"""Registry speed on the synthetic multicenter registry: validate in memory, read+validate from CSV,
read+validate a hospital's own export through a site mapping, import into SQLite, load back.

    python benchmarks/bench_registry.py [n_patients=100000] [postgresql://user@host/empty_db]

Prints seconds per step and rows per second. The issue's target: the validator runs on 100,000
patients (~1M rows over all tables) in a few seconds. Issue 15's: reading and validating the same
registry as a Dutch-style export (';', decimal commas, DD-MM-YYYY dates, Dutch headers and codes,
'onbekend' for missing, diameters in cm) through a mapping file is within 1.5x of the clean CSV folder
(the ratio is printed).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from oligomet.datasets.synthetic import DATA_LOCK, synthetic_registry
import pandas as pd

from oligomet.registry import Store, check_registry, validate, write_registry
from oligomet.registry.fields import TABLES
from oligomet.registry.mapping import check_mapped

#: How the Dutch-style export writes codes (the mapping's shipped synonyms read them back).
_DUTCH_CODES = {"sex": {"male": "M", "female": "V"}, "organ": {"liver": "lever", "lung": "long", "bone": "bot"},
                "modality": {"resection": "resectie", "sabr": "SBRT", "systemic": "chemotherapie"},
                "intent": {"curative": "curatief", "palliative": "palliatief"},
                "primary_site": {"colorectal": "colorectaal", "sarcoma": "sarcoom"}}


def dutch_site_export(clean: Path, out: Path) -> Path:
    """The clean CSV folder re-written as a hospital would export it, plus the mapping that reads it."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["mapping: 1", 'decimal: ","', "date_order: DMY", 'missing: ["onbekend", "NA"]',
             "units: {lesions.diameter_mm: cm}", "tables:"]
    for name, table in TABLES.items():
        frame = pd.read_csv(clean / f"{name}.csv", dtype=str, keep_default_na=False)
        for f in table.fields:
            col = frame[f.name]
            if f.type == "date":
                frame[f.name] = col.str.slice(8, 10) + "-" + col.str.slice(5, 7) + "-" + col.str.slice(0, 4)
                frame.loc[col == "", f.name] = "onbekend"
            elif f.name == "diameter_mm":
                frame[f.name] = (pd.to_numeric(col) / 10).map(lambda v: "NA" if pd.isna(v) else f"{v:g}"
                                                              ).str.replace(".", ",", regex=False)
            elif f.type == "float":
                frame[f.name] = col.str.replace(".", ",", regex=False)
            elif f.name in _DUTCH_CODES:
                frame[f.name] = col.replace(_DUTCH_CODES[f.name])
        headers = {f.name: f"{f.name.replace('_', ' ').capitalize()} ({name})" for f in table.fields}
        frame.rename(columns=headers).to_csv(out / f"export_{name}.csv", sep=";", index=False)
        lines += [f"  {name}:", f"    file: export_{name}.csv", "    columns:"]
        lines += [f'      {f}: "{h}"' for f, h in headers.items()]
    (out / "mapping.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / "mapping.yaml"


def timed(label, fn, rows=None):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    rate = f"  ({rows / dt:,.0f} rows/s)" if rows else ""
    print(f"{label:32s} {dt:7.2f} s{rate}")
    return out


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(n: int = 100_000, pg_url: str | None = None) -> None:
    tables = timed(f"synthetic_registry({n})", lambda: synthetic_registry(n, seed=1))
    rows = sum(len(f) for f in tables.values())
    print(f"rows over all tables: {rows:,} ({', '.join(f'{k} {len(v):,}' for k, v in tables.items())})")
    lock = str(DATA_LOCK.date())
    report = timed("validate (in memory)", lambda: validate(tables, data_lock=lock), rows)
    print(f"  -> {report.summary()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reg"
        timed("write_registry (CSV)", lambda: write_registry(tables, folder), rows)
        _, report = timed("check_registry (read CSV + validate)", lambda: check_registry(folder, data_lock=lock),
                          rows)
        print(f"  -> {report.summary()}")
        clean_s = min(_seconds(lambda: check_registry(folder, data_lock=lock)) for _ in range(2))
        mapping = dutch_site_export(folder, Path(tmp) / "site")
        _, mapped = timed("check_mapped (site export + mapping)",
                          lambda: check_mapped(Path(tmp) / "site", mapping, data_lock=lock), rows)
        print(f"  -> {mapped.summary()}")
        mapped_s = min(_seconds(lambda: check_mapped(Path(tmp) / "site", mapping, data_lock=lock)) for _ in range(2))
        print(f"mapped / clean CSV read+validate: {mapped_s:.2f} s / {clean_s:.2f} s = {mapped_s / clean_s:.2f}x "
              "(target <= 1.5x; best of 2 each)")
        store = Store(Path(tmp) / "reg.sqlite")
        result = timed("Store.import_registry (SQLite)", lambda: store.import_registry(folder, data_lock=lock), rows)
        print(f"  -> {result.status}")
        timed("Store.import_registry again (no-op)", lambda: store.import_registry(folder, data_lock=lock))
        timed("Store.load", store.load, rows)
        store.close()
        if pg_url:
            store = Store(pg_url)
            result = timed("Store.import_registry (PostgreSQL)",
                           lambda: store.import_registry(folder, data_lock=lock), rows)
            print(f"  -> {result.status}")
            timed("Store.load (PostgreSQL)", store.load, rows)
            store.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, sys.argv[2] if len(sys.argv) > 2 else None)
