"""Time the synthetic registry generator and the endpoint derivation at registry scale.

    python benchmarks/bench_synthetic_endpoints.py [n_patients]   (default 100000)

Prints wall-clock seconds for: generating the registry, deriving the patient-level and the
lesion-level analysis frames, validating it (oligomet.registry.validate), writing it as CSV.
Target (issue 3): 100,000 patients generated in < 30 s.
"""
from __future__ import annotations

import sys
import tempfile
import time

import oligomet
from oligomet.datasets.synthetic import DATA_LOCK, synthetic_registry, write_registry


def timed(label, fn, *a, **k):
    t0 = time.perf_counter()
    out = fn(*a, **k)
    print(f"{label:<34s} {time.perf_counter() - t0:7.2f} s")
    return out


def main(n: int) -> None:
    reg = timed(f"synthetic_registry({n})", synthetic_registry, n, seed=1)
    print("  rows:", ", ".join(f"{k} {len(v)}" for k, v in reg.items()))
    timed("derive_endpoints (patient)", oligomet.derive_endpoints, reg)
    timed("derive_endpoints (lesion)", oligomet.derive_endpoints, reg, level="lesion")
    from oligomet.registry import validate

    rep = timed("registry.validate", validate, reg, data_lock=DATA_LOCK)
    print(f"  validation ok={rep.ok}, errors={len(rep.errors)}, warnings={len(rep.warnings)}")
    with tempfile.TemporaryDirectory() as tmp:
        timed("write_registry (csv)", write_registry, reg, tmp)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
