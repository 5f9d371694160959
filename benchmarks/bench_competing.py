"""Speed of oligomet's competing-risks estimators against cmprsk (R), when Rscript is available.

    python benchmarks/bench_competing.py                 # CIF + Gray on 1e6 rows, Fine-Gray on 1e5 rows
    python benchmarks/bench_competing.py --no-r          # oligomet only
    python benchmarks/bench_competing.py --n-cif 100000  # smaller run

The same simulated data (2 groups, 3 normal covariates; about 22% censored, 34% cause 1, 45%
cause 2; times rounded to 3 decimals, so 1e6 rows have ~33 000 distinct times and many ties) are written to CSV
and read by both sides; only the estimator call is timed
(R: ``system.time(cuminc(...))``, ``system.time(crr(...))``, elapsed and user + system; Python:
``time.perf_counter`` and ``time.process_time`` around ``cumulative_incidence`` / ``fine_gray``, best
of ``--repeat``; R is run once per size). Both wall and CPU seconds are printed: on a machine shared
with other jobs the wall times are inflated by waiting, the CPU times much less.

cmprsk's ``crr`` loops over all subjects at every failure time (O(n^2) per Newton step) and its
variance routine ``crrvv`` is roughly O(n^3) (21 s at 4 000 rows here), so it is not run at 1e5
rows. It is timed at the sizes in ``--r-crr-sizes`` (default 1000, 2000, 4000), and without
its variance (``variance = FALSE``, estimation only) at ``--r-crr-novar-sizes`` (default 10000),
with the Python fit (always including the variance) timed at the same sizes for the ratio.
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


def simulate(n: int, p: int = 3, seed: int = 1, continuous: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    g = rng.integers(0, 2, n)
    # cause-specific hazards depend on the covariates and the group
    h1 = 0.05 * np.exp(0.4 * x[:, 0] - 0.2 * x[:, 1] + 0.3 * g)
    h2 = 0.08 * np.exp(0.2 * x[:, 1])
    t1, t2 = rng.exponential(1 / h1), rng.exponential(1 / h2)
    c = rng.exponential(1 / 0.04, n)
    t = np.minimum(np.minimum(t1, t2), c)
    e = np.where(t == c, 0, np.where(t1 < t2, 1, 2))
    d = pd.DataFrame({"time": t if continuous else np.round(t, 3), "event": e, "group": np.where(g == 1, "b", "a")})
    for j in range(p):
        d[f"x{j + 1}"] = x[:, j]
    return d


def best_of(fn, repeat: int) -> tuple[float, float]:
    """Best (wall, CPU) seconds over ``repeat`` calls. CPU time is the fairer figure on a shared machine."""
    out = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - t0, time.process_time() - c0))
    return min(o[0] for o in out), min(o[1] for o in out)


def r_time(script: str) -> tuple[float, float] | None:
    """(elapsed, user + system) of the R call; the script prints system.time()'s 3 numbers."""
    res = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    if res.returncode != 0:
        print("R failed:", res.stderr.strip()[-500:])
        return None
    user, system, elapsed = map(float, res.stdout.strip().splitlines()[-1].split())
    return elapsed, user + system


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-cif", type=float, default=1e6)
    ap.add_argument("--n-crr", type=float, default=1e5)
    ap.add_argument("--r-crr-sizes", default="1000,2000,4000")
    ap.add_argument("--r-crr-novar-sizes", default="10000",
                    help="sizes at which to time crr(variance=FALSE) too (estimation only, O(n^2) per step)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--continuous", action="store_true",
                    help="unrounded times (all distinct): the worst case for the per-time work of Gray's test")
    a = ap.parse_args()
    use_r = not a.no_r and shutil.which("Rscript") is not None
    tmp = Path(tempfile.mkdtemp(prefix="bench_competing_"))
    rows = []

    # ---- cumulative incidence + Gray's test
    n = int(a.n_cif)
    d = simulate(n, continuous=a.continuous)
    om.cumulative_incidence(d.head(1000), time="time", event="event", by="group")  # warm-up (imports)
    py = best_of(lambda: om.cumulative_incidence(d, time="time", event="event", by="group"), a.repeat)
    r = None
    if use_r:
        f = tmp / "cif.csv"
        d[["time", "event", "group"]].to_csv(f, index=False, float_format="%.17g")
        r = r_time(f"suppressMessages(library(cmprsk)); d <- read.csv('{f}'); "
                   f"cat(system.time(fit <- cuminc(d$time, d$event, d$group))[1:3], '\\n')")
    rows.append(("cuminc + Gray test", n, py, r))

    # ---- Fine-Gray
    n = int(a.n_crr)
    d = simulate(n, seed=2, continuous=a.continuous)
    cov = ["x1", "x2", "x3"]
    py = best_of(lambda: om.fine_gray(d, time="time", event="event", covariates=cov), a.repeat)
    rows.append(("fine_gray (3 covariates)", n, py, None))
    for m in [int(s) for s in a.r_crr_sizes.split(",") if s] if use_r else []:
        dm = simulate(m, seed=3)
        pym = best_of(lambda: om.fine_gray(dm, time="time", event="event", covariates=cov), a.repeat)
        f = tmp / f"crr_{m}.csv"
        dm.to_csv(f, index=False, float_format="%.17g")
        r = r_time(f"suppressMessages(library(cmprsk)); d <- read.csv('{f}'); "
                   f"cat(system.time(fit <- crr(d$time, d$event, as.matrix(d[, c('x1','x2','x3')])))[1:3], '\\n')")
        rows.append(("fine_gray (3 covariates)", m, pym, r))
    for m in [int(s) for s in a.r_crr_novar_sizes.split(",") if s] if use_r else []:
        dm = simulate(m, seed=3)
        pym = best_of(lambda: om.fine_gray(dm, time="time", event="event", covariates=cov), a.repeat)
        f = tmp / f"crr_{m}.csv"
        dm.to_csv(f, index=False, float_format="%.17g")
        r = r_time(f"suppressMessages(library(cmprsk)); d <- read.csv('{f}'); "
                   f"cat(system.time(fit <- crr(d$time, d$event, as.matrix(d[, c('x1','x2','x3')]), "
                   f"variance = FALSE))[1:3], '\\n')")
        rows.append(("fine_gray vs crr(var=FALSE)", m, pym, r))

    print(f"{'task':<28}{'rows':>9}{'oligomet wall/cpu s':>21}{'cmprsk wall/cpu s':>19}{'ratio wall/cpu':>16}")
    for task, n, py, r in rows:
        rs = f"{r[0]:.3f}/{r[1]:.3f}" if r is not None else "-"
        ratio = f"{r[0] / py[0]:.1f}x/{r[1] / py[1]:.1f}x" if r is not None else "-"
        print(f"{task:<28}{n:>9}{py[0]:>12.3f}/{py[1]:.3f}{rs:>19}{ratio:>16}")
    print("ratio = cmprsk time / oligomet time (> 1: oligomet faster)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
