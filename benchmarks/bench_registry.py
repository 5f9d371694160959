"""Registry speed on the synthetic multicenter registry: validate in memory, read+validate from CSV,
import into SQLite, load back.

    python benchmarks/bench_registry.py [n_patients=100000] [postgresql://user@host/empty_db]

Prints seconds per step and rows per second. The issue's target: the validator runs on 100,000
patients (~1M rows over all tables) in a few seconds.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from oligomet.datasets.synthetic import DATA_LOCK, synthetic_registry
from oligomet.registry import Store, check_registry, validate, write_registry


def timed(label, fn, rows=None):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    rate = f"  ({rows / dt:,.0f} rows/s)" if rows else ""
    print(f"{label:32s} {dt:7.2f} s{rate}")
    return out


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
