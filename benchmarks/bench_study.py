"""End-to-end study benchmark: a 100,000-patient synthetic registry, from files to four reports.

Stages timed (wall clock, this machine):

1. import: read the registry folder (CSV interchange format) and validate it (``read_registry``
   + ``validate``), as ``oligomet run`` does for a ``folder`` data source;
2. per example protocol (the four in ``examples/``): endpoints (``derive_endpoints``) + cohort +
   all analyses + the report (HTML, PNG/SVG figures, CSV/XLSX/DOCX tables, results.json).

Writing the synthetic registry to disk is set-up, not timed. Target (issue 6): <= 30 s in total.

    python benchmarks/bench_study.py [--patients 100000] [--out /tmp/oligomet-bench]
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PROTOCOLS = ("salvage_after_sabr.toml", "crlm_early_recurrence.yaml", "crlm_ablation_timing.toml",
             "sarcoma_lung_metastasectomy.toml")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    from oligomet import registry
    from oligomet.datasets import synthetic_registry
    from oligomet.study import load_protocol, run_study

    out = args.out or Path(tempfile.mkdtemp(prefix="oligomet-bench-"))
    t = time.perf_counter()
    tables = synthetic_registry(args.patients, seed=args.seed)
    folder = registry.write_registry(tables, out / "registry")
    print(f"set-up (not timed): synthetic registry of {args.patients:,} patients generated and written "
          f"in {time.perf_counter() - t:.1f} s")

    timings = {}
    t0 = time.perf_counter()
    loaded, report = registry.read_registry(folder)
    report = report + registry.validate(loaded)
    timings["import (read + validate)"] = time.perf_counter() - t0
    if not report.ok:
        raise SystemExit(f"the synthetic registry does not validate: {report.errors.head()}")
    for name in PROTOCOLS:
        proto = load_protocol(EXAMPLES / name)
        t1 = time.perf_counter()
        study = run_study(proto, out=out / "reports" / proto.name, tables=loaded, source={
            "data_source": "folder", "folder": str(folder),
            "synthetic": {"n_patients": args.patients, "seed": args.seed, "n_sites": 7}})
        timings[f"{proto.name} (n = {len(study.cohort):,})"] = time.perf_counter() - t1
    total = time.perf_counter() - t0
    width = max(map(len, timings))
    for k, v in timings.items():
        print(f"  {k:<{width}}  {v:6.2f} s")
    print(f"  {'total':<{width}}  {total:6.2f} s   (target <= 30 s: {'met' if total <= 30 else 'NOT met'})")
    print(f"reports in {out / 'reports'}")


if __name__ == "__main__":
    main()
