"""Speed of oligomet's multiple imputation against R's mice (3.15), when Rscript is available.

    python benchmarks/bench_mice.py                # 10 000 patients, m = 20, maxit = 10
    python benchmarks/bench_mice.py --no-r         # oligomet only
    python benchmarks/bench_mice.py --n 2000       # smaller run

The registry (simulated, seeded): 10 columns: ``time``, ``event`` (a Cox model with ~60% events),
``age``, ``sex``, ``ecog`` (0-2), ``center`` (5 levels), ``size`` (complete), and three incomplete ones:
``cea`` (continuous, log-normal, ~37% missing: pmm), ``nodal`` (two levels, ~15%: logreg) and ``grade``
(three levels, ~20%: polyreg), missing at random given age, ecog and the event. Both sides impute the
same CSV with the same models: every column predicts every other except ``time``, plus the event and the
cumulative hazard H(time) (R: ``nelsonaalen``; oligomet: ``impute(..., time=, event=)``), m = 20,
maxit = 10. Timed: ``impute`` (Python, ``time.perf_counter`` and ``time.process_time``, best of
``--repeat``) and ``system.time(mice(...))`` (R, once; elapsed and user + system). On a machine shared
with other jobs wall times are inflated by waiting; the CPU times much less.
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


def simulate(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(62, 10, n).round()
    sex = rng.integers(0, 2, n)
    ecog = rng.choice([0, 1, 2], n, p=[0.5, 0.35, 0.15])
    center = rng.choice(list("ABCDE"), n)
    size = rng.gamma(2.0, 1.5, n).round(1)
    grade = rng.choice(["G1", "G2", "G3"], n, p=[0.3, 0.45, 0.25])
    nodal = rng.random(n) < 0.25 + 0.1 * (grade == "G3")
    cea = np.exp(rng.normal(1.0 + 0.3 * nodal + 0.02 * (age - 62), 0.8)).round(1)
    lp = 0.3 * np.log(cea) + 0.5 * nodal + 0.2 * ecog + 0.3 * (grade == "G3") + 0.01 * (age - 62)
    t_event = rng.exponential(1 / (0.02 * np.exp(lp)))
    t_cens = rng.uniform(12, 96, n)
    time_ = np.minimum(t_event, t_cens).round(2)
    event = (t_event <= t_cens).astype(int)
    d = pd.DataFrame({"time": time_, "event": event, "age": age, "sex": sex, "ecog": ecog, "center": center,
                      "size": size, "cea": cea, "nodal": np.where(nodal, "yes", "no"), "grade": grade})
    # missing at random: depends on observed age, ecog and the event only
    def mar(base):
        return rng.random(n) < 1 / (1 + np.exp(-(base + 0.03 * (age - 62) + 0.3 * ecog + 0.4 * event)))
    d.loc[mar(-0.85), "cea"] = np.nan
    d.loc[mar(-2.0), "nodal"] = np.nan
    d.loc[mar(-1.7), "grade"] = np.nan
    return d


R_SCRIPT = """
suppressPackageStartupMessages(library(mice))
d <- read.csv("{csv}", stringsAsFactors = TRUE)
d$haz <- nelsonaalen(d, time, event)
pred <- make.predictorMatrix(d)
pred[, "time"] <- 0
tm <- system.time(imp <- mice(d, m = {m}, maxit = {maxit}, predictorMatrix = pred, seed = 1, printFlag = FALSE))
cat(paste(imp$method[c("cea", "nodal", "grade")], collapse = " "), "\\n")
cat(tm[["user.self"]], tm[["sys.self"]], tm[["elapsed"]], "\\n")
"""


def r_time(csv: Path, m: int, maxit: int) -> tuple[float, float] | None:
    res = subprocess.run(["Rscript", "-e", R_SCRIPT.format(csv=csv, m=m, maxit=maxit)], capture_output=True, text=True)
    if res.returncode != 0:
        print("R failed:", res.stderr.strip()[-500:])
        return None
    lines = res.stdout.strip().splitlines()
    print(f"  R methods (cea, nodal, grade): {lines[-2].strip()}")
    user, system, elapsed = map(float, lines[-1].split())
    return elapsed, user + system


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--maxit", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()

    d = simulate(args.n)
    print(f"registry: {args.n} patients x {d.shape[1]} columns; missing: "
          + ", ".join(f"{c} {d[c].isna().mean():.0%}" for c in d.columns if d[c].isna().any()))
    om.impute(d.head(500), m=2, maxit=1, seed=1, time="time", event="event")   # warm up imports
    best = None
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        imp = om.impute(d, m=args.m, maxit=args.maxit, seed=1, time="time", event="event")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best = (wall, cpu) if best is None or wall < best[0] else best
    print(f"  oligomet methods: {', '.join(imp.variables.method[['cea', 'nodal', 'grade']])}")
    print(f"oligomet impute(m={args.m}, maxit={args.maxit}): wall {best[0]:.2f} s, CPU {best[1]:.2f} s")

    if args.no_r or shutil.which("Rscript") is None:
        print("R's mice: not timed" + ("" if args.no_r else " (Rscript not found)"))
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "registry.csv"
        d.to_csv(csv, index=False, na_rep="NA")
        r = r_time(csv, args.m, args.maxit)
    if r is None:
        return
    print(f"R mice(m={args.m}, maxit={args.maxit}): wall {r[0]:.2f} s, CPU {r[1]:.2f} s")
    print(f"ratio R / oligomet: wall {r[0] / best[0]:.1f}x, CPU {r[1] / best[1]:.1f}x")


if __name__ == "__main__":
    main()
