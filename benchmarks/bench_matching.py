"""Benchmark: greedy nearest-neighbour PS matching with caliper 0.2 (oligomet vs MatchIt).

Run: python benchmarks/bench_matching.py [--no-r]
Times oligomet.match on 1e5 rows (~40% treated) and 1e6 rows: total (propensity glm +
matching + balance) and matching only (the greedy core on the fitted scores). MatchIt's
matchit(method = "nearest", caliper = 0.2) is timed on 1e5 rows when Rscript is present (use
MatchIt 4.7.2: R_LIBS=<library of ../shared/tools/install_current_matchit.sh>); 1e6 rows are not
run in R (MatchIt 4.7.2 did not finish within 20 minutes on 2026-12-04).
Each timing is the best of `REPEAT` runs. This is a script, not a test.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import oligomet as om
from oligomet.matching.greedy import greedy_match, treated_order

REPEAT = 3


def make_data(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"age": rng.normal(62, 10, n).round(), "male": rng.integers(0, 2, n),
                      "ecog": rng.integers(0, 3, n), "cea": rng.lognormal(1.5, 0.8, n)})
    lp = -1.35 + 0.03 * (d.age - 62) + 0.3 * d.male - 0.4 * d.ecog + 0.15 * np.log(d.cea) + 0.95
    d["treated"] = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return d


COVS = ["age", "male", "ecog", "cea"]


def best(f):
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), out


def time_r(d: pd.DataFrame) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        d.to_csv(path, index=False)
        code = (f'suppressMessages(library(MatchIt)); d <- read.csv("{path}"); '
                f't <- system.time(matchit(treated ~ {" + ".join(COVS)}, data = d, method = "nearest", '
                f'caliper = 0.2))["elapsed"]; cat(t)')
        out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=True)
        return float(out.stdout.strip().split()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-r", action="store_true", help="skip the MatchIt timing")
    a = ap.parse_args()
    for n in (10**5, 10**6):
        d = make_data(n)
        total, m = best(lambda: om.match(d, treatment="treated", covariates=COVS, caliper=0.2))
        t = d["treated"].to_numpy()
        ps = m.propensity.to_numpy()

        def core():
            order = treated_order(ps, t, "largest", None)
            return greedy_match(ps, t, order, 1, False, m.caliper)

        matching, _ = best(core)
        line = (f"n={n:>8,} treated={t.mean():.1%} matched pairs={len(m.pairs):,} "
                f"unmatched treated={m.n_unmatched_treated:,}  oligomet total {total:.3f} s, matching only "
                f"{matching:.3f} s")
        if n == 10**5 and not a.no_r:
            r = time_r(d)
            line += "  | MatchIt: Rscript not found" if r is None else \
                f"  | MatchIt {r:.2f} s (total {r / total:.0f}x, matching-only {r / matching:.0f}x slower)"
        elif n == 10**6:
            line += "  | MatchIt: not run at 1e6 (> 20 min)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
